import { z } from 'zod';
import { decryptBirthday, decryptEmail } from '../core/personalData.js';
import type { FieldCipher } from '../lib/fieldCipher.js';
import type { UserRecord } from '../store/types.js';
import type { DeviceView } from './devices.service.js';
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

/** One device (session) as its owner sees it (GET /users/me/devices). */
export const deviceSchema = z.object({
  id: z.string().describe('the deviceId'),
  name: z.string().nullable(),
  platform: z.string().nullable(),
  createdAt: z.string().describe('ISO-8601 UTC: when it signed in'),
  lastSeen: z.string().nullable().describe('ISO-8601 UTC: its last authenticated request (to within 30 s); null until its first'),
  current: z.boolean().describe('true for the device making this request'),
});
export type Device = z.infer<typeof deviceSchema>;

/** A device for its owner only: name and platform are personal data, decrypted by the service. */
export function presentDevice(device: DeviceView): Device {
  return {
    id: device.id,
    name: device.name,
    platform: device.platform,
    createdAt: device.createdAt.toISOString(),
    lastSeen: device.lastSeen ? device.lastSeen.toISOString() : null,
    current: device.current,
  };
}
