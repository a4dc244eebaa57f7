import { z } from 'zod';
import { decryptBirthday, decryptEmail } from '../core/personalData.js';
import type { FieldCipher } from '../lib/fieldCipher.js';
import type { UserRecord } from '../store/types.js';
import { pgpSchema, presentPgp } from '../users/users.presenter.js';

/** The account as its owner sees it (GET /users/me, register, login). */
export const ownUserSchema = z.object({
  id: z.string(),
  username: z.string(),
  email: z.string(),
  birthday: z.string().nullable().describe('YYYY-MM-DD'),
  createdAt: z.string().describe('ISO-8601 UTC'),
  pgp: pgpSchema.nullable().describe('the OpenPGP public key, or null until one is uploaded'),
  twoFactor: z.boolean(),
});
export type OwnUser = z.infer<typeof ownUserSchema>;

/** Decrypts what the owner may see; hashes and indexes never leave the server. */
export function presentOwnUser(user: UserRecord, cipher: FieldCipher, twoFactor: boolean): OwnUser {
  return {
    id: user.id,
    username: user.username,
    email: decryptEmail(cipher, user),
    birthday: decryptBirthday(cipher, user),
    createdAt: user.createdAt.toISOString(),
    pgp: presentPgp(user.pgp),
    twoFactor,
  };
}
