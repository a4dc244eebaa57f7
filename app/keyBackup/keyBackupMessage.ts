import { enums, readMessage } from 'openpgp';

const ARMOR = /^-----BEGIN PGP MESSAGE-----\r?\n[\s\S]*\r?\n-----END PGP MESSAGE-----\s*$/;

/** Packets that say "what follows is encrypted": to a passphrase (SKESK) or to a key (PKESK). */
const SESSION_KEY_PACKETS: ReadonlySet<number> = new Set([enums.packet.symEncryptedSessionKey, enums.packet.publicKeyEncryptedSessionKey]);

/**
 * Why `armored` is not an acceptable key backup, or null when it is: an ASCII-armored OpenPGP message
 * (not a key or a signature) whose packets parse and start with an encrypted session key, so a client
 * bug that uploads its key in the clear is refused rather than stored. The message is never decrypted.
 */
export async function keyBackupProblem(armored: string): Promise<string | null> {
  if (!ARMOR.test(armored.trimStart())) return 'must be an ASCII-armored OpenPGP message (-----BEGIN PGP MESSAGE-----)';
  let message;
  try {
    message = await readMessage({ armoredMessage: armored });
  } catch {
    return 'is not a readable OpenPGP message';
  }
  const first = message.packets[0];
  const tag = first ? (first.constructor as { tag?: unknown }).tag : undefined;
  if (typeof tag !== 'number' || !SESSION_KEY_PACKETS.has(tag)) return 'must be an encrypted OpenPGP message';
  return null;
}
