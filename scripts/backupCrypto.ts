/**
 * OpenPGP encryption of backup files (`backup --encrypt`, `backup-decrypt`). A backup holds `jwt-secret`
 * and `data-key` beside the database: whoever has a plain copy can read every e-mail address and mint
 * access tokens. Encrypted, a copy is worth nothing without the passphrase or the private key, which live
 * elsewhere (docs/operations.md). openpgp (already the server's key checker) is used rather than our own
 * construction: RFC 9580 argon2 S2K for a passphrase, AEAD (SEIPDv2) for the data, or a recipient's public key.
 * Files are streamed, so a large database is never held in memory whole.
 */
import { createReadStream, createWriteStream, readFileSync, renameSync, rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createMessage, decrypt, decryptKey, encrypt, enums, readKey, readMessage, readPrivateKey, type PrivateKey, type PublicKey } from 'openpgp';

/** What an encrypted backup file is called: the original name plus this. */
export const ENCRYPTED_SUFFIX = '.pgp';

/** How a backup is encrypted: a passphrase (argon2 S2K + AEAD) or a recipient's public key. */
export type EncryptTo = { passphrase: string } | { recipient: PublicKey };

/** How it is decrypted: the same passphrase, or the recipient's private key (already unlocked). */
export type DecryptWith = { passphrase: string } | { key: PrivateKey };

/** The passphrase in `file`: its first line, without the line ending (as `echo pass > file` writes it). */
export function readPassphraseFile(file: string): string {
  const passphrase = readFileSync(file, 'utf8').split(/\r?\n/)[0] ?? '';
  if (passphrase.length < 12) throw new Error(`the passphrase in ${file} is shorter than 12 characters`);
  return passphrase;
}

/** The public key in `file` (armored or binary). */
export async function readRecipientFile(file: string): Promise<PublicKey> {
  const bytes = readFileSync(file);
  const text = bytes.toString('utf8');
  const key = text.includes('-----BEGIN PGP') ? await readKey({ armoredKey: text }) : await readKey({ binaryKey: bytes });
  return key.toPublic(); // a private key given by mistake encrypts to its public half, never copied anywhere
}

/** The private key in `file`, unlocked with `passphrase` when it is protected. */
export async function readPrivateKeyFile(file: string, passphrase?: string): Promise<PrivateKey> {
  const bytes = readFileSync(file);
  const text = bytes.toString('utf8');
  const key = text.includes('-----BEGIN PGP') ? await readPrivateKey({ armoredKey: text }) : await readPrivateKey({ binaryKey: bytes });
  if (key.isDecrypted()) return key;
  if (passphrase === undefined) throw new Error(`the private key in ${file} is protected: give --key-passphrase-file`);
  return decryptKey({ privateKey: key, passphrase });
}

const webStreamOf = (file: string) => Readable.toWeb(createReadStream(file)) as unknown as ReadableStream<Uint8Array>;

/**
 * Writes `to` only once the whole stream has been written: into `<to>.partial` (mode 0600, never an
 * existing file), renamed at the end, removed on any failure.
 */
async function writeWhole(stream: ReadableStream<Uint8Array>, to: string): Promise<void> {
  const partial = `${to}.partial`;
  try {
    await pipeline(Readable.fromWeb(stream), createWriteStream(partial, { flags: 'wx', mode: 0o600 }));
    renameSync(partial, to);
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  }
}

/** Encrypts `from` into the OpenPGP message file `to` (binary). */
export async function encryptFile(from: string, to: string, key: EncryptTo): Promise<void> {
  const message = await createMessage({ binary: webStreamOf(from) });
  // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- openpgp types a binary result as its own stream type, which the lint program cannot resolve (tsc checks it)
  const encrypted =
    'passphrase' in key
      ? await encrypt({ message, passwords: [key.passphrase], format: 'binary', config: { s2kType: enums.s2k.argon2, aeadProtect: true } })
      : await encrypt({ message, encryptionKeys: key.recipient, format: 'binary', config: { aeadProtect: true } });
  await writeWhole(encrypted as ReadableStream<Uint8Array>, to);
}

/**
 * Decrypts the OpenPGP message file `from` into `to`. A wrong passphrase or key, or a file altered after
 * encryption (AEAD and the integrity check), fails with nothing left at `to`.
 */
export async function decryptFile(from: string, to: string, key: DecryptWith): Promise<void> {
  const message = await readMessage({ binaryMessage: webStreamOf(from) });
  // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- openpgp types a binary result as its own stream type, which the lint program cannot resolve (tsc checks it)
  const { data } =
    'passphrase' in key
      ? await decrypt({ message, passwords: [key.passphrase], format: 'binary' })
      : await decrypt({ message, decryptionKeys: key.key, format: 'binary' });
  await writeWhole(data as ReadableStream<Uint8Array>, to);
}
