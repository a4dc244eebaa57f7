import type { FieldCipher } from '../lib/fieldCipher.js';
import type { SessionRecord, UserRecord } from '../store/types.js';

/**
 * How an account's identifying data is spelled and kept: the one normal form of usernames and e-mail
 * addresses that every lookup and limit uses, the blind index e-mail lookups go through, and the
 * encryption contexts of the fields stored encrypted. Each context binds a ciphertext to its owner's
 * id (associated data), so a field copied into another user's row does not decrypt; changing one
 * makes every stored value of that field unreadable, so they are written here and nowhere else.
 */

/** A username as typed: one leading `@` dropped, lower-cased (usernames are stored lower case). */
export const normaliseUsername = (name: string) => (name.startsWith('@') ? name.slice(1) : name).toLowerCase();

/** E-mail addresses compare case-insensitively in practice; the index and the limits use the folded form. */
export const normaliseEmail = (email: string) => email.trim().toLowerCase();

const EMAIL_INDEX = 'email';

/** The keyed blind index an e-mail address is found and kept unique by; a stolen database reveals no addresses. */
export const emailIndex = (cipher: FieldCipher, email: string) => cipher.blindIndex(normaliseEmail(email), EMAIL_INDEX);

const emailContext = (userId: string) => `email:${userId}`;
const birthdayContext = (userId: string) => `birthday:${userId}`;
const totpContext = (userId: string) => `totp:${userId}`;

/** The stored form of a new account's address (trimmed, case kept as given). */
export const encryptEmail = (cipher: FieldCipher, userId: string, email: string) => cipher.encrypt(email.trim(), emailContext(userId));

/** The account's address in clear, for mail and for its owner. */
export const decryptEmail = (cipher: FieldCipher, user: Pick<UserRecord, 'id' | 'emailEnc'>) => cipher.decrypt(user.emailEnc, emailContext(user.id));

/** The stored form of a birthday (YYYY-MM-DD), or null for none. */
export const encryptBirthday = (cipher: FieldCipher, userId: string, birthday: string | null | undefined) =>
  birthday ? cipher.encrypt(birthday, birthdayContext(userId)) : null;

/** The account's birthday in clear, or null when it gave none. */
export const decryptBirthday = (cipher: FieldCipher, user: Pick<UserRecord, 'id' | 'birthdayEnc'>) =>
  user.birthdayEnc === null ? null : cipher.decrypt(user.birthdayEnc, birthdayContext(user.id));

/** The stored form of a TOTP secret (base32). */
export const encryptTotpSecret = (cipher: FieldCipher, userId: string, secret: string) => cipher.encrypt(secret, totpContext(userId));

/** A stored TOTP secret in clear. */
export const decryptTotpSecret = (cipher: FieldCipher, userId: string, secretEnc: string) => cipher.decrypt(secretEnc, totpContext(userId));

// A device's name and platform are bound to the owner and the session, so neither can be moved to
// another user's or another device's row.
const deviceNameContext = (userId: string, sessionId: string) => `device-name:${userId}:${sessionId}`;
const devicePlatformContext = (userId: string, sessionId: string) => `device-platform:${userId}:${sessionId}`;

/** What a device calls itself, as given at sign-in; shown only to the account's owner. */
export interface DeviceInfo {
  name?: string | null;
  platform?: string | null;
}

/** The stored form of a new session's device name and platform (each null when not given). */
export function encryptDevice(cipher: FieldCipher, userId: string, sessionId: string, device: DeviceInfo | null | undefined) {
  return {
    deviceNameEnc: device?.name ? cipher.encrypt(device.name, deviceNameContext(userId, sessionId)) : null,
    devicePlatformEnc: device?.platform ? cipher.encrypt(device.platform, devicePlatformContext(userId, sessionId)) : null,
  };
}

/** A session's device name and platform in clear, for its owner only. */
export function decryptDevice(
  cipher: FieldCipher,
  session: Pick<SessionRecord, 'id' | 'userId' | 'deviceNameEnc' | 'devicePlatformEnc'>,
): { name: string | null; platform: string | null } {
  return {
    name: session.deviceNameEnc === null ? null : cipher.decrypt(session.deviceNameEnc, deviceNameContext(session.userId, session.id)),
    platform: session.devicePlatformEnc === null ? null : cipher.decrypt(session.devicePlatformEnc, devicePlatformContext(session.userId, session.id)),
  };
}

const networkContext = (userId: string) => `security-network:${userId}`;

/** The stored form of the coarse network of a security-log entry (null: none). */
export const encryptNetwork = (cipher: FieldCipher, userId: string, network: string | null) =>
  network === null ? null : cipher.encrypt(network, networkContext(userId));

/** A security-log entry's coarse network in clear, for its owner (and the operator). */
export const decryptNetwork = (cipher: FieldCipher, userId: string, networkEnc: string | null) =>
  networkEnc === null ? null : cipher.decrypt(networkEnc, networkContext(userId));

/** A device platform stored as its session stored it (`encryptDevice`), in clear. */
export const decryptPlatform = (cipher: FieldCipher, userId: string, sessionId: string, platformEnc: string | null) =>
  platformEnc === null ? null : cipher.decrypt(platformEnc, devicePlatformContext(userId, sessionId));
