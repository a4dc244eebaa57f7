import { z } from 'zod';

/** The largest backup taken, in characters of its armor (docs/protocol.md "Key backup"). */
export const KEY_BACKUP_MAX_CHARS = 64 * 1024;

/** PUT /users/me/key-backup: the armored message; that it is one is checked by the service (it needs openpgp). */
export const keyBackupBody = z.strictObject({
  backup: z
    .string()
    .max(KEY_BACKUP_MAX_CHARS, `must be at most ${KEY_BACKUP_MAX_CHARS} characters`)
    .describe('An ASCII-armored OpenPGP message (-----BEGIN PGP MESSAGE-----), encrypted by the client; opaque to the server'),
});

export const keyBackupSchema = z.object({
  backup: z.string().describe('The armored OpenPGP message as uploaded'),
  updatedAt: z.string().describe('When it was last written (ISO-8601 UTC)'),
});
