import { createMessage, decrypt, decryptKey, encrypt, encryptKey, enums, generateKey, readKey, readMessage, readPrivateKey, type Key, type PrivateKey } from 'openpgp';
import { SignalboxError } from './errors.js';

// The only module that touches openpgp: the rest of the SDK sees armored text, fingerprints and these
// few operations, so another OpenPGP implementation (or a native one on React Native) would replace one file.

export type { Key as PublicKey, PrivateKey };

/** A device's new key pair, armored, and its fingerprint. */
export interface GeneratedKey {
  privateKey: string;
  publicKey: string;
  fingerprint: string;
}

/** The fingerprint as the server presents it: upper-case hex. */
export const fingerprintOf = (key: Key): string => key.getFingerprint().toUpperCase();

/**
 * A new Ed25519 (signing) + Curve25519 (encryption subkey) pair: the server's allow-list accepts it,
 * every OpenPGP implementation reads it (v4 key packets), and making it takes milliseconds on a phone.
 * No passphrase: the private key is protected by the caller's storage, which the SDK cannot improve on.
 */
export async function generateDeviceKey(username: string): Promise<GeneratedKey> {
  const { privateKey, publicKey } = await generateKey({
    type: 'ecc',
    curve: 'curve25519Legacy',
    userIDs: [{ name: username }],
    format: 'armored',
  });
  const key = await readKey({ armoredKey: publicKey });
  return { privateKey, publicKey, fingerprint: fingerprintOf(key) };
}

export const readPublicKey = (armored: string): Promise<Key> => readKey({ armoredKey: armored });
export const readPrivate = (armored: string): Promise<PrivateKey> => readPrivateKey({ armoredKey: armored });

/** `text` encrypted to `recipient` and signed by `signer`, ASCII-armored (`-----BEGIN PGP MESSAGE-----`). */
export async function seal(text: string, recipient: Key, signer: PrivateKey): Promise<string> {
  // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- readKey is typed as the abstract Key, but every key it makes is a PublicKey (a PrivateKey extends it)
  return (await encrypt({ message: await createMessage({ text }), encryptionKeys: recipient, signingKeys: signer, format: 'armored' })) as string;
}

/**
 * The plaintext of `armored`, decrypted with `me` and verified against `sender`'s key. Throws
 * `not_encrypted` (not an OpenPGP message), `undecryptable` (not encrypted to this device's key),
 * `unsigned` (no signature) or `bad_signature` (no signature verifies with the sender's key).
 */
export async function unseal(armored: string, me: PrivateKey, sender: Key): Promise<string> {
  let message;
  try {
    message = await readMessage({ armoredMessage: armored });
  } catch (err) {
    throw new SignalboxError('not_encrypted', 'The payload is not an OpenPGP message.', { cause: err });
  }
  let result;
  try {
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- readKey is typed as the abstract Key, but every key it makes is a PublicKey (a PrivateKey extends it)
    result = await decrypt({ message, decryptionKeys: me, verificationKeys: sender, format: 'utf8' });
  } catch (err) {
    throw new SignalboxError('undecryptable', "The payload is not encrypted to this device's key.", { cause: err });
  }
  if (result.signatures.length === 0) throw new SignalboxError('unsigned', 'The payload is not signed.');
  const outcomes = await Promise.allSettled(result.signatures.map((s) => s.verified));
  if (!outcomes.some((o) => o.status === 'fulfilled')) {
    const first = outcomes[0];
    throw new SignalboxError('bad_signature', "The payload's signature does not verify with the sender's published key.", {
      cause: first?.status === 'rejected' ? first.reason : undefined,
    });
  }
  return result.data as string;
}

/** `armored` private key locked with `passphrase` (for `keys.export`), armored. */
export async function lockPrivateKey(armored: string, passphrase: string): Promise<string> {
  return (await encryptKey({ privateKey: await readPrivate(armored), passphrase })).armor();
}

/** A private key as the SDK stores it (unlocked, armored), from an export that may be locked with `passphrase`. */
export async function unlockPrivateKey(armored: string, passphrase?: string): Promise<PrivateKey> {
  const key = await readPrivate(armored);
  if (key.isDecrypted()) return key;
  if (passphrase === undefined) throw new SignalboxError('validation_failed', 'This private key is locked: pass its passphrase.');
  return decryptKey({ privateKey: key, passphrase });
}

/**
 * Argon2 S2K parameters (t passes, p lanes, 2^memoryExponent KiB). Written into the message's S2K
 * specifier, which is where decryption reads them from (docs/protocol.md "Key backup").
 */
export interface Argon2Params {
  passes: number;
  parallelism: number;
  memoryExponent: number;
}

/**
 * `text` encrypted to `passphrase` (a key backup, docs/protocol.md "Key backup"): RFC 9580 argon2 S2K
 * (openpgp's defaults: 3 passes, 4 lanes, 64 MiB, so each guess costs an attacker holding the server's
 * copy that much) and AEAD (SEIPDv2, OCB), so a modified backup fails to decrypt instead of yielding
 * a different key. Armored (`-----BEGIN PGP MESSAGE-----`). `argon2` replaces the defaults only where
 * the Signalbox was given its internal `keyBackupArgon2` option (tests).
 */
export async function encryptWithPassphrase(text: string, passphrase: string, argon2?: Argon2Params): Promise<string> {
  return (await encrypt({
    message: await createMessage({ text }),
    passwords: passphrase,
    config: { s2kType: enums.s2k.argon2, aeadProtect: true, ...(argon2 ? { s2kArgon2Params: argon2 } : {}) },
    format: 'armored',
  })) as string;
}

/**
 * The text of a message made by `encryptWithPassphrase`. `bad_backup` when it is not an OpenPGP
 * message; `bad_passphrase` when it does not decrypt with `passphrase` (a wrong passphrase and a
 * tampered message look the same: AEAD fails either way).
 */
export async function decryptWithPassphrase(armored: string, passphrase: string): Promise<string> {
  let message;
  try {
    message = await readMessage({ armoredMessage: armored });
  } catch (err) {
    throw new SignalboxError('bad_backup', 'The key backup is not an OpenPGP message.', { cause: err });
  }
  try {
    const result = await decrypt({ message, passwords: passphrase, format: 'utf8' });
    return result.data as string;
  } catch (err) {
    throw new SignalboxError('bad_passphrase', 'The passphrase does not open this key backup.', { cause: err });
  }
}

/**
 * The signed plaintext of `armored`, decrypted with `me` but NOT verified: only to read which key it
 * claims to be signed by (a device-link request carries its own one-time key), before `unseal` (or
 * openEnvelope) verifies it against that key. Never trust what this returns on its own.
 */
export async function peekPlaintext(armored: string, me: PrivateKey): Promise<string> {
  let message;
  try {
    message = await readMessage({ armoredMessage: armored });
  } catch (err) {
    throw new SignalboxError('not_encrypted', 'The payload is not an OpenPGP message.', { cause: err });
  }
  try {
    return (await decrypt({ message, decryptionKeys: me, format: 'utf8' })).data as string;
  } catch (err) {
    throw new SignalboxError('undecryptable', "The payload is not encrypted to this device's key.", { cause: err });
  }
}

/** The key ids a message is encrypted to (upper-case hex), e.g. to show a link response is for the one-time key only. */
export async function recipientKeyIds(armored: string): Promise<string[]> {
  const message = await readMessage({ armoredMessage: armored });
  return message.getEncryptionKeyIDs().map((id) => id.toHex().toUpperCase());
}
