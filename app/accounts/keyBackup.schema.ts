import { z } from 'zod';

/** The largest backup stored: a private key with its subkeys, encrypted and armored, is a few KiB at most. */
export const KEY_BACKUP_MAX_BYTES = 64 * 1024;

export const keyBackupBody = z.strictObject({
  backup: z
    .string()
    .refine((s) => Buffer.byteLength(s, 'utf8') <= KEY_BACKUP_MAX_BYTES, `must be at most ${KEY_BACKUP_MAX_BYTES} bytes`)
    .describe('an ASCII-armored, encrypted OpenPGP message (-----BEGIN PGP MESSAGE-----), at most 64 KiB'),
});

export const keyBackupResponse = z.object({
  backup: z.string().describe('the armored OpenPGP message as it was stored'),
  updatedAt: z.string().describe('when it was last written (ISO-8601 UTC)'),
});
