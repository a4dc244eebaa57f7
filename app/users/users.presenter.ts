import { z } from 'zod';
import type { FieldCipher } from '../lib/fieldCipher.js';
import type { UserRecord } from '../store/types.js';

/** The account as its owner sees it (GET /users/me, register, login). */
export const ownUserSchema = z.object({
  id: z.string(),
  username: z.string(),
  email: z.string(),
  birthday: z.string().nullable().describe('YYYY-MM-DD'),
  createdAt: z.string().describe('ISO-8601 UTC'),
  pgp: z.null().describe('the OpenPGP key, once one is uploaded'),
  twoFactor: z.boolean(),
});
export type OwnUser = z.infer<typeof ownUserSchema>;

/** Decrypts what the owner may see; hashes and indexes never leave the server. */
export function presentOwnUser(user: UserRecord, cipher: FieldCipher): OwnUser {
  return {
    id: user.id,
    username: user.username,
    email: cipher.decrypt(user.emailEnc, `email:${user.id}`),
    birthday: user.birthdayEnc === null ? null : cipher.decrypt(user.birthdayEnc, `birthday:${user.id}`),
    createdAt: user.createdAt.toISOString(),
    pgp: null,
    twoFactor: false,
  };
}
