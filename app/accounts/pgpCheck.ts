import { readKeys, type Key, type Subkey } from 'openpgp';
import { minimiseKey } from './pgpMinimise.js';
import { NOT_A_KEY, refusalFor, SECRET_MATERIAL, type KeyPacketFacts } from './pgpPolicy.js';

/**
 * The openpgp.js half of the key rules. It runs in the worker (pgpKey.worker.ts), never on the event loop:
 * parsing and signature checks cost what the uploaded numbers make them cost.
 */

/** A broken rule: `message` names it and never quotes the input. */
export class PgpRefusal extends Error {}

/** What the worker answers for an accepted key; the same fields as PgpKeyRecord. */
export interface CheckedKey {
  fingerprint: string;
  algorithm: string;
  createdAt: Date;
  expiresAt: Date | null;
  publicKey: string;
}

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

/** The allow-list's view of one parsed key packet. */
function factsOf(packet: Key['keyPacket'] | Subkey['keyPacket']): KeyPacketFacts {
  const params = packet.publicParams as { n?: Uint8Array; e?: Uint8Array; oid?: { toHex(): string }; Q?: Uint8Array };
  const algorithm: number = packet.algorithm; // the RFC 9580 id (enums.publicKey)
  const pointBits = params.Q ? params.Q.length * 8 : undefined;
  return { version: packet.version, algorithm, n: params.n, e: params.e, oidHex: params.oid?.toHex(), pointBits };
}

/** Says why the primary key is not valid at `date`; only called once verifyPrimaryKey refused it. */
async function whyUnusable(key: Key, date: Date): Promise<string> {
  if (await key.isRevoked(undefined, undefined, date).catch(() => false)) return 'The OpenPGP key is revoked.';
  const expiry = await key.getExpirationTime().catch(() => null);
  if (expiry instanceof Date && expiry.getTime() <= date.getTime()) return `The OpenPGP key expired on ${expiry.toISOString()}.`;
  return 'The OpenPGP primary key is unusable: no self-signature verifies now (or its algorithm is too weak).';
}

/**
 * Parses and checks one uploaded key: exactly one public key, every key packet on the allow-list
 * (pgpPolicy.ts, judged before any signature is verified), the primary key valid at `now` (not expired,
 * not revoked, self-signatures verify), and a usable encryption (sub)key at `now`. Throws PgpRefusal.
 * The key returned for storing is minimised: one valid self-signature per user ID and subkey binding.
 */
export async function checkPublicKey(armored: string, now: Date): Promise<CheckedKey> {
  let keys: Key[];
  try {
    keys = await readKeys({ armoredKeys: armored });
  } catch {
    // openpgp's messages describe the input; a generic sentence is enough and echoes nothing.
    throw new PgpRefusal(NOT_A_KEY);
  }
  if (keys.length !== 1) throw new PgpRefusal(`The block holds ${keys.length} keys; upload exactly one.`);
  const key = keys[0]!;
  if (key.isPrivate()) throw new PgpRefusal(SECRET_MATERIAL);
  for (const packet of [key.keyPacket, ...key.subkeys.map((s) => s.keyPacket)]) {
    const refusal = refusalFor(factsOf(packet));
    if (refusal) throw new PgpRefusal(refusal);
  }
  try {
    await key.verifyPrimaryKey(now);
  } catch {
    throw new PgpRefusal(await whyUnusable(key, now));
  }
  try {
    await key.getEncryptionKey(undefined, now);
  } catch {
    throw new PgpRefusal('The OpenPGP key has no usable encryption key (a subkey or primary key flagged for encryption, valid now): ' + 'clients encrypt signals to it.');
  }
  const expiry = await key.getExpirationTime();
  const about = {
    fingerprint: key.getFingerprint().toUpperCase(),
    algorithm: algorithmName(key),
    createdAt: key.getCreationTime(),
    expiresAt: expiry instanceof Date ? expiry : null,
  };
  // Judged above as uploaded (so a revocation is seen), stored and served minimised (pgpMinimise.ts).
  const minimal = await minimiseKey(key, now);
  try {
    await minimal.verifyPrimaryKey(now);
    await minimal.getEncryptionKey(undefined, now);
  } catch {
    // What made it valid above is kept, so this is not expected; refused rather than stored half-usable.
    throw new PgpRefusal('The OpenPGP key is unusable once its unverifiable signatures are removed.');
  }
  return { ...about, publicKey: minimal.armor() };
}
