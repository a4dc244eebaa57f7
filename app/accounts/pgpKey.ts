import { readKeys, type Key } from 'openpgp';
import { invalidPgpKey } from '../http/errors.js';
import type { PgpKeyRecord } from '../store/types.js';

/** The contract's cap on an uploaded key (shared/API.md), counted in UTF-8 bytes of the armored text. */
export const PGP_KEY_MAX_BYTES = 64 * 1024;

// Checked on the raw text before parsing, so secret material is refused without being decoded at all;
// `isPrivate()` below catches secret packets hidden under another armor header.
const SECRET_ARMOR = /-----BEGIN PGP PRIVATE KEY BLOCK-----/i;

/** Readable names for the algorithms clients meet; anything else keeps openpgp's own name. */
function algorithmName(key: Key): string {
  const info = key.getAlgorithmInfo() as { algorithm: string; bits?: number; curve?: string };
  switch (info.algorithm) {
    case 'rsaEncryptSign':
    case 'rsaSign':
    case 'rsaEncrypt':
      return `rsa${info.bits ?? ''}`;
    case 'dsa':
      return `dsa${info.bits ?? ''}`;
    // GnuPG's `ed25519` keys are v4 "EdDSA legacy" keys; RFC 9580 keys say ed25519 directly.
    case 'eddsaLegacy':
      return info.curve === 'ed25519Legacy' ? 'ed25519' : `eddsa-${info.curve ?? 'unknown'}`;
    case 'ecdsa':
      return `ecdsa-${(info.curve ?? 'unknown').toLowerCase()}`;
    default:
      return info.algorithm.toLowerCase();
  }
}

/** Says why the primary key is not valid at `date`; only called once verifyPrimaryKey refused it. */
async function whyUnusable(key: Key, date: Date): Promise<string> {
  if (await key.isRevoked(undefined, undefined, date).catch(() => false)) return 'The OpenPGP key is revoked.';
  const expiry = await key.getExpirationTime().catch(() => null);
  if (expiry instanceof Date && expiry.getTime() <= date.getTime()) return `The OpenPGP key expired on ${expiry.toISOString()}.`;
  return 'The OpenPGP primary key is unusable: no self-signature verifies now (or its algorithm is too weak).';
}

/**
 * Validates an uploaded ASCII-armored key and returns what is stored: exactly one public key (no
 * secret material), whose primary key is valid at `now` (not expired, not revoked, self-signatures
 * verify), at most 64 KiB, re-armored from the parsed packets. Each refusal is `400 invalid_pgp_key`
 * naming the rule; no refusal quotes the input, so secret material is never echoed or logged.
 */
export async function readPublicKey(armored: string, now: Date): Promise<PgpKeyRecord> {
  if (Buffer.byteLength(armored, 'utf8') > PGP_KEY_MAX_BYTES) {
    throw invalidPgpKey(`The OpenPGP key is larger than ${PGP_KEY_MAX_BYTES / 1024} KiB.`);
  }
  if (SECRET_ARMOR.test(armored)) {
    throw invalidPgpKey('That is secret-key material, which is never accepted; upload only the public key.');
  }
  let keys: Key[];
  try {
    keys = await readKeys({ armoredKeys: armored });
  } catch {
    // openpgp's messages describe the input; a generic sentence is enough and echoes nothing.
    throw invalidPgpKey('That is not an ASCII-armored OpenPGP public key.');
  }
  if (keys.length !== 1) throw invalidPgpKey(`The block holds ${keys.length} keys; upload exactly one.`);
  const key = keys[0]!;
  if (key.isPrivate()) {
    throw invalidPgpKey('That is secret-key material, which is never accepted; upload only the public key.');
  }
  try {
    await key.verifyPrimaryKey(now);
  } catch {
    throw invalidPgpKey(await whyUnusable(key, now));
  }
  const expiry = await key.getExpirationTime();
  return {
    fingerprint: key.getFingerprint().toUpperCase(),
    algorithm: algorithmName(key),
    createdAt: key.getCreationTime(),
    expiresAt: expiry instanceof Date ? expiry : null,
    publicKey: key.armor(),
  };
}
