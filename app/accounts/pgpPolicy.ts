/**
 * The allow-list of OpenPGP key material, judged before any signature is verified. Verifying a self-signature
 * costs what the key's numbers make it cost: openpgp.js checks DSA (and RSA that Node's own crypto refuses) in
 * pure-JS BigInt arithmetic, so a hand-made DSA key with huge p and q kept the event loop busy for seconds
 * (docs/security.md). Only algorithms whose verification cost is bounded by their fixed sizes are accepted.
 *
 * Two readers feed this module: `scanPublicKeyBlock` below, a linear walk over the raw packets run on the
 * request path, and the worker (pgpCheck.ts), which judges openpgp's own parse of the key again.
 */

/** RFC 9580 public-key algorithm ids. */
const ALGORITHM = {
  rsaEncryptSign: 1,
  rsaEncrypt: 2,
  rsaSign: 3,
  elgamal: 16,
  dsa: 17,
  ecdh: 18,
  ecdsa: 19,
  elgamalEncryptSign: 20,
  eddsaLegacy: 22,
  x25519: 25,
  x448: 26,
  ed25519: 27,
  ed448: 28,
} as const;

const RSA_ALGORITHMS: ReadonlySet<number> = new Set([ALGORITHM.rsaEncryptSign, ALGORITHM.rsaEncrypt, ALGORITHM.rsaSign]);

/** RSA modulus sizes: below 2048 bits is weak; above 4096 the verification cost (and Node's native limits) grow. */
export const RSA_MIN_BITS = 2048;
export const RSA_MAX_BITS = 4096;
/**
 * Verification with an RSA key costs one modular exponentiation by e; GnuPG and every common tool use 65537
 * (17 bits). A huge e makes that step as slow as a private-key operation, so e is held to 32 bits.
 */
export const RSA_MAX_EXPONENT_BITS = 32;

/** Curves by their OID (hex, as openpgp's `OID.toHex()` prints it) and which algorithms may use each. */
const CURVES: Readonly<Record<string, { name: string; algorithms: readonly number[] }>> = {
  '2a8648ce3d030107': { name: 'NIST P-256', algorithms: [ALGORITHM.ecdsa, ALGORITHM.ecdh] },
  '2b81040022': { name: 'NIST P-384', algorithms: [ALGORITHM.ecdsa, ALGORITHM.ecdh] },
  '2b81040023': { name: 'NIST P-521', algorithms: [ALGORITHM.ecdsa, ALGORITHM.ecdh] },
  '2b06010401da470f01': { name: 'Ed25519', algorithms: [ALGORITHM.eddsaLegacy] },
  '2b060104019755010501': { name: 'Curve25519', algorithms: [ALGORITHM.ecdh] },
};

/** The largest public point of an allowed curve: an uncompressed P-521 point, 0x04 and two 66-byte coordinates. */
const MAX_POINT_BITS = 133 * 8;

/** Key packet versions openpgp.js reads by default: v4 (RFC 4880) and v6 (RFC 9580). */
const VERSIONS: ReadonlySet<number> = new Set([4, 6]);

export const SECRET_MATERIAL = 'That is secret-key material, which is never accepted; upload only the public key.';
export const NOT_A_KEY = 'That is not an ASCII-armored OpenPGP public key.';

export const ACCEPTED = 'accepted are Ed25519/Curve25519, ECDSA or ECDH on NIST P-256/384/521, and RSA of 2048 to 4096 bits';

/** What the allow-list needs to know about one primary key or subkey. */
export interface KeyPacketFacts {
  version: number;
  algorithm: number;
  /** RSA: the modulus and exponent as big-endian bytes (leading zero bytes allowed). */
  n?: Uint8Array;
  e?: Uint8Array;
  /** ECDSA, ECDH, EdDSA legacy: the curve OID in hex and the public point's size in bits. */
  oidHex?: string;
  pointBits?: number;
}

/** Bit length of a big-endian unsigned number. */
export function bitLength(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  return i === bytes.length ? 0 : (bytes.length - i - 1) * 8 + (32 - Math.clz32(bytes[i]!));
}

const NAMES: Readonly<Record<number, string>> = {
  [ALGORITHM.elgamal]: 'ElGamal',
  [ALGORITHM.elgamalEncryptSign]: 'ElGamal',
  [ALGORITHM.dsa]: 'DSA',
  [ALGORITHM.x448]: 'X448',
  [ALGORITHM.ed448]: 'Ed448',
};

/** The sentence refusing one key packet, or null when the allow-list accepts it. Never quotes key material. */
export function refusalFor(key: KeyPacketFacts): string | null {
  if (!VERSIONS.has(key.version)) return `The OpenPGP key is a version ${key.version} key; only version 4 and 6 keys are accepted.`;
  const a = key.algorithm;
  if (RSA_ALGORITHMS.has(a)) {
    const nBits = key.n ? bitLength(key.n) : 0;
    if (nBits < RSA_MIN_BITS || nBits > RSA_MAX_BITS) {
      return `The OpenPGP key has an RSA modulus of ${nBits} bits; RSA keys must have ${RSA_MIN_BITS} to ${RSA_MAX_BITS} bits.`;
    }
    const e = key.e ?? new Uint8Array();
    const eBits = bitLength(e);
    if (eBits > RSA_MAX_EXPONENT_BITS) {
      return `The OpenPGP key has an RSA public exponent of ${eBits} bits; at most ${RSA_MAX_EXPONENT_BITS} bits (such as 65537) are accepted.`;
    }
    if (eBits < 2 || (e[e.length - 1]! & 1) === 0) return 'The OpenPGP key has an RSA public exponent that is not an odd number of at least 3.';
    return null;
  }
  if (a === ALGORITHM.ecdsa || a === ALGORITHM.ecdh || a === ALGORITHM.eddsaLegacy) {
    const curve = key.oidHex !== undefined ? CURVES[key.oidHex] : undefined;
    if (!curve || !curve.algorithms.includes(a)) {
      return `The OpenPGP key uses an elliptic curve that is not accepted for its algorithm; ${ACCEPTED}.`;
    }
    if ((key.pointBits ?? 0) > MAX_POINT_BITS) return `The OpenPGP key's ${curve.name} public point is longer than the curve allows.`;
    return null;
  }
  if (a === ALGORITHM.ed25519 || a === ALGORITHM.x25519) return null; // fixed 32-byte keys
  const name = NAMES[a] ?? `algorithm ${a}`;
  return `The OpenPGP key uses ${name}, which is not accepted; ${ACCEPTED}.`;
}

/** What the quick scan read from an armored block: every key packet, and whether any of them is secret. */
export interface ScannedBlock {
  keys: KeyPacketFacts[];
  secret: boolean;
}

const PUBLIC_KEY_TAG = 6;
const PUBLIC_SUBKEY_TAG = 14;
const SECRET_KEY_TAGS: ReadonlySet<number> = new Set([5, 7]);

/**
 * Decodes the armor and walks the packet headers, reading each key packet's version, algorithm and public
 * numbers: linear in the input, no arithmetic. Returns null when the block is not laid out as this simple
 * reader expects (odd armor, partial lengths, truncation); the worker's full parse then decides, and
 * judges the same allow-list there.
 */
export function scanPublicKeyBlock(armored: string): ScannedBlock | null {
  try {
    return scan(armored);
  } catch {
    return null; // a reading mistake here must not become a 500: the worker still decides
  }
}

function scan(armored: string): ScannedBlock | null {
  const body = dearmor(armored);
  if (!body) return null;
  const keys: KeyPacketFacts[] = [];
  let secret = false;
  let at = 0;
  while (at < body.length) {
    const header = readPacketHeader(body, at);
    if (!header) return null;
    const { tag, start, end } = header;
    if (SECRET_KEY_TAGS.has(tag)) secret = true;
    if (tag === PUBLIC_KEY_TAG || tag === PUBLIC_SUBKEY_TAG || SECRET_KEY_TAGS.has(tag)) {
      const facts = readKeyPacket(body.subarray(start, end));
      if (!facts) return null;
      keys.push(facts);
    }
    at = end;
  }
  return { keys, secret };
}

function dearmor(armored: string): Buffer | null {
  const lines = armored
    .replace(/\r/g, '')
    .split('\n')
    .map((l) => l.trimEnd());
  const begin = lines.findIndex((l) => /^-----BEGIN PGP (PUBLIC|PRIVATE) KEY BLOCK-----$/.test(l));
  if (begin < 0) return null;
  const blank = lines.indexOf('', begin + 1);
  const end = lines.findIndex((l, i) => i > begin && l.startsWith('-----END PGP '));
  if (blank < 0 || end < 0 || blank > end) return null;
  const data = lines
    .slice(blank + 1, end)
    .filter((l) => !/^=[A-Za-z0-9+/]{4}$/.test(l))
    .join('');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data)) return null;
  return Buffer.from(data, 'base64');
}

function readPacketHeader(b: Buffer, at: number): { tag: number; start: number; end: number } | null {
  const h = b[at];
  if (h === undefined || (h & 0x80) === 0) return null;
  let tag: number;
  let length: number;
  let start: number;
  if (h & 0x40) {
    tag = h & 0x3f;
    const o = b[at + 1];
    if (o === undefined) return null;
    if (o < 192) [length, start] = [o, at + 2];
    else if (o < 224) [length, start] = [((o - 192) << 8) + (b[at + 2] ?? 0) + 192, at + 3];
    else if (o === 255) {
      if (at + 6 > b.length) return null;
      [length, start] = [b.readUInt32BE(at + 2), at + 6];
    } else return null; // partial body lengths never frame a key, user ID or signature packet
  } else {
    tag = (h >> 2) & 0x0f;
    const type = h & 3;
    if (type === 3) return null; // indeterminate length
    const size = 1 << type;
    if (at + 1 + size > b.length) return null;
    length = b.readUIntBE(at + 1, size);
    start = at + 1 + size;
  }
  const end = start + length;
  return end <= b.length ? { tag, start, end } : null;
}

/** Reads the public part of a key packet body (RFC 9580 section 5.5.2), or null when it is cut short. */
function readKeyPacket(p: Buffer): KeyPacketFacts | null {
  const version = p[0];
  if (version === undefined) return null;
  if (!VERSIONS.has(version)) return { version, algorithm: 0 };
  const algorithm = p[5];
  if (algorithm === undefined) return null;
  let at = version === 6 ? 10 : 6; // v6 adds a four-octet length of the key material
  const readMpi = (): Uint8Array | null => {
    if (at + 2 > p.length) return null;
    const bytes = Math.ceil(p.readUInt16BE(at) / 8);
    const value = p.subarray(at + 2, at + 2 + bytes);
    at += 2 + bytes;
    return at <= p.length ? value : null;
  };
  if (RSA_ALGORITHMS.has(algorithm)) {
    const n = readMpi();
    const e = readMpi();
    return n && e ? { version, algorithm, n, e } : null;
  }
  if (algorithm === ALGORITHM.ecdsa || algorithm === ALGORITHM.ecdh || algorithm === ALGORITHM.eddsaLegacy) {
    const oidLength = p[at];
    if (oidLength === undefined || at + 1 + oidLength > p.length) return null;
    const oidHex = p.subarray(at + 1, at + 1 + oidLength).toString('hex');
    at += 1 + oidLength;
    const point = readMpi();
    return point ? { version, algorithm, oidHex, pointBits: bitLength(point) } : null;
  }
  return { version, algorithm };
}
