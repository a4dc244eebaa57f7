import { createHash, randomBytes } from 'node:crypto';
import { armorPublic } from './pgpFixtures.js';

/**
 * Hand-made OpenPGP v4 public keys built from raw packets with random numbers, for the attacks of
 * docs/security.md: DSA or RSA parameters far too big, RSA with a huge public exponent. They are not real
 * keys (the numbers are random), but they are well-formed, and each self-signature carries the right
 * hash prefix, so an unprotected server gets as far as the signature arithmetic and spends its CPU
 * there. Building one takes milliseconds: no key generation, no prime search.
 */

/** Public-key algorithm ids of RFC 9580 section 9.1. */
export const ALGO = { rsa: 1, elgamal: 16, dsa: 17, ecdh: 18, ecdsa: 19, eddsaLegacy: 22, ed448: 28 } as const;

/** Curve OIDs (RFC 9580 section 9.2), without their length byte. */
export const OID = {
  p256: '2a8648ce3d030107',
  brainpoolP512r1: '2b2403030208010d',
  ed25519Legacy: '2b06010401da470f01',
  curve25519Legacy: '2b060104019755010501',
} as const;

/** A random number of exactly `bits` bits (top bit set, odd), as a big-endian byte string. */
export function randomNumber(bits: number): Buffer {
  const bytes = randomBytes(Math.ceil(bits / 8));
  const top = (bits - 1) % 8;
  bytes[0] = (bytes[0]! & ((1 << (top + 1)) - 1)) | (1 << top);
  bytes[bytes.length - 1]! |= 1;
  return bytes;
}

/** An OpenPGP multiprecision integer: a two-byte bit count, then the bytes. */
export function mpi(value: Buffer): Buffer {
  let i = 0;
  while (i < value.length - 1 && value[i] === 0) i++;
  const v = value.subarray(i);
  const bits = (v.length - 1) * 8 + (32 - Math.clz32(v[0]!));
  return Buffer.concat([u16(bits), v]);
}

/** An EC public point in the "OID, then point MPI" layout of ECDSA, EdDSA legacy and ECDH. */
export function curvePoint(oidHex: string, pointBytes: Buffer): Buffer {
  const oid = Buffer.from(oidHex, 'hex');
  return Buffer.concat([Buffer.from([oid.length]), oid, mpi(pointBytes)]);
}

const u16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const u32 = (n: number) => Buffer.from([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);

/** A new-format packet header with a length of any size (always the five-byte form). */
function packet(tag: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0xc0 | tag, 0xff]), u32(body.length), body]);
}

export interface KeyMaterial {
  /** RFC 9580 public-key algorithm id (`ALGO`). */
  algorithm: number;
  /** The algorithm-specific public fields, already encoded (MPIs, or OID + point). */
  fields: Buffer;
  /** The signature's algorithm-specific fields made by this key (random MPIs). */
  signature: Buffer;
}

/** Key material for DSA with a `pBits` prime and `qBits` group order (both just random odd numbers). */
export function dsa(pBits: number, qBits: number): KeyMaterial {
  const q = randomNumber(qBits);
  // The verifier first checks 0 < r, s < q and that s is invertible mod q; s = 1 always is, and r just below q
  // makes y**r mod p, the expensive step, as long as it can be.
  const r = randomNumber(qBits - 1);
  return {
    algorithm: ALGO.dsa,
    fields: Buffer.concat([mpi(randomNumber(pBits)), mpi(q), mpi(randomNumber(pBits - 1)), mpi(randomNumber(pBits - 1))]),
    signature: Buffer.concat([mpi(r), mpi(Buffer.from([1]))]),
  };
}

/** Key material for RSA with an `nBits` modulus and an `eBits` public exponent (random odd numbers). */
export function rsa(nBits: number, eBits = 17): KeyMaterial {
  const e = eBits === 17 ? Buffer.from([0x01, 0x00, 0x01]) : randomNumber(eBits);
  return {
    algorithm: ALGO.rsa,
    fields: Buffer.concat([mpi(randomNumber(nBits)), mpi(e)]),
    signature: mpi(randomNumber(nBits - 1)),
  };
}

/** Key material for ElGamal (encryption only: it makes no signatures, so only as a subkey). */
export function elgamal(pBits: number): KeyMaterial {
  return {
    algorithm: ALGO.elgamal,
    fields: Buffer.concat([mpi(randomNumber(pBits)), mpi(Buffer.from([2])), mpi(randomNumber(pBits - 1))]),
    signature: Buffer.alloc(0),
  };
}

/** Key material on a named curve: ECDSA or EdDSA legacy (signing), or ECDH (then with P-256 KDF params). */
export function onCurve(algorithm: number, oidHex: string, pointBytes: number): KeyMaterial {
  const point = Buffer.concat([Buffer.from([algorithm === ALGO.eddsaLegacy ? 0x40 : 0x04]), randomBytes(pointBytes - 1)]);
  const kdf = algorithm === ALGO.ecdh ? Buffer.from([3, 1, 8, 7]) : Buffer.alloc(0); // SHA-256, AES-128
  return {
    algorithm,
    fields: Buffer.concat([curvePoint(oidHex, point), kdf]),
    signature: Buffer.concat([mpi(randomNumber(255)), mpi(randomNumber(255))]),
  };
}

function keyPacketBody(m: KeyMaterial, created: number): Buffer {
  return Buffer.concat([Buffer.from([4]), u32(created), Buffer.from([m.algorithm]), m.fields]);
}

const fingerprint = (body: Buffer) =>
  createHash('sha1')
    .update(Buffer.concat([Buffer.from([0x99]), u16(body.length), body]))
    .digest();

function subpacket(type: number, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from([data.length + 1, type]), data]);
}

/**
 * A v4 signature packet by `signer` over `signedData` (the key and user ID or subkey, framed as RFC 9580
 * section 5.2.4 says), with a correct SHA-256 hash prefix and random signature numbers.
 */
function signature(type: number, signer: KeyMaterial, signerFpr: Buffer, signedData: Buffer, created: number, flags: number): Buffer {
  const hashed = Buffer.concat([subpacket(2, u32(created)), subpacket(27, Buffer.from([flags])), subpacket(33, Buffer.concat([Buffer.from([4]), signerFpr]))]);
  const head = Buffer.concat([Buffer.from([4, type, signer.algorithm, 8]), u16(hashed.length), hashed]);
  const trailer = Buffer.concat([Buffer.from([4, 0xff]), u32(head.length)]);
  const digest = createHash('sha256')
    .update(Buffer.concat([signedData, head, trailer]))
    .digest();
  const unhashed = subpacket(16, signerFpr.subarray(12));
  return packet(2, Buffer.concat([head, u16(unhashed.length), unhashed, digest.subarray(0, 2), signer.signature]));
}

const KEY_FLAGS = { certifySign: 0x03, encrypt: 0x0c } as const;

/**
 * An armored public key: `primary` with one user ID and its self-signature, then each subkey with its
 * binding signature made by the primary. Created 2025-01-01, so it is valid at the test clock.
 */
export function hostileKey(primary: KeyMaterial, ...subkeys: KeyMaterial[]): string {
  const created = Date.parse('2025-01-01T00:00:00Z') / 1000;
  const body = keyPacketBody(primary, created);
  const fpr = fingerprint(body);
  const framedKey = Buffer.concat([Buffer.from([0x99]), u16(body.length), body]);
  const userId = Buffer.from('Hostile Key <hostile@example.org>');
  const framedUser = Buffer.concat([Buffer.from([0xb4]), u32(userId.length), userId]);
  const parts = [packet(6, body), packet(13, userId), signature(0x13, primary, fpr, Buffer.concat([framedKey, framedUser]), created, KEY_FLAGS.certifySign)];
  for (const sub of subkeys) {
    const subBody = keyPacketBody(sub, created);
    const framedSub = Buffer.concat([Buffer.from([0x99]), u16(subBody.length), subBody]);
    parts.push(packet(14, subBody), signature(0x18, primary, fpr, Buffer.concat([framedKey, framedSub]), created, KEY_FLAGS.encrypt));
  }
  return armorPublic(Buffer.concat(parts));
}

/**
 * The same block with a space inside its first base64 line: openpgp.js reads it, the quick packet scan
 * on the request path does not (it leaves anything unusual to the worker), so the key reaches the worker.
 */
export function pastTheQuickScan(armored: string): string {
  const lines = armored.split('\n');
  const first = lines.indexOf('') + 1;
  lines[first] = `${lines[first]!.slice(0, 8)} ${lines[first]!.slice(8)}`;
  return lines.join('\n');
}
