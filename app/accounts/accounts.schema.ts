import { z } from 'zod';
import { TOTP_OR_RECOVERY } from './recoveryCodes.js';
import { isCommonPassword } from './commonPasswords.js';
import { ownUserSchema } from './accounts.presenter.js';
import { usernameInput } from '../users/username.js';

/** A new password (register, change, reset); sign-in takes any string so older passwords still work. */
export const password = z
  .string()
  // abort: a password of the wrong length gets that one message, not also "too common".
  .min(8, { error: 'must be at least 8 characters', abort: true })
  .max(256, { error: 'must be at most 256 characters', abort: true })
  // ASVS 6.2.4: the first guesses of any attacker; compared case-insensitively (commonPasswords.ts).
  .refine((pw) => !isCommonPassword(pw), 'is too common: it is on lists of leaked passwords that attackers try first')
  .describe('8-256 characters, not the username, not on the common-passwords list (about 49,000 leaked passwords, case-insensitive)');
// Trimmed before the format check (pasted addresses carry spaces); the meta keeps the format in the OpenAPI input.
export const email = z.string().trim().max(254, 'must be at most 254 characters').pipe(z.email('must be an e-mail address')).meta({ format: 'email' });
// Checked for calendar validity here; "in the past" and MIN_AGE need the clock and config (service).
const birthday = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date as YYYY-MM-DD')
  .refine((s) => !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s), 'must be a real date');

/** A short label: trimmed, 1 to `max` characters counted as code points (an emoji is one, not two), no control characters. */
const chars = (max: number) =>
  z
    .string()
    .trim()
    .refine((v) => v.length > 0, 'must not be empty')
    .refine((v) => Array.from(v).length <= max, `must be at most ${max} characters`)
    .refine((v) => !/[\u0000-\u001f\u007f]/.test(v), 'must not contain control characters');

/** What a device calls itself at sign-in (docs/api.md, Devices); personal data, shown only to the owner. */
export const deviceInput = z.strictObject({
  name: chars(64).optional().describe('1-64 characters (code points, after trimming; no control characters), e.g. "Ana\'s phone"'),
  platform: chars(32).optional().describe('1-32 characters (as for name), e.g. "ios", "android", "web"'),
});
const deviceField = deviceInput.nullable().optional().describe('this device, shown only to the account owner (GET /users/me/devices) and stored encrypted');

const notTheUsername = (pw: string, username: string) => pw.toLowerCase() !== username.toLowerCase();

export const registerBody = z
  .strictObject({
    username: usernameInput,
    email,
    password,
    birthday: birthday.nullable().optional(),
    pgpPublicKey: z.string().nullable().optional().describe('an ASCII-armored OpenPGP public key; the same rules as PUT /auth/pgp-key'),
    device: deviceField,
  })
  .refine((b) => notTheUsername(b.password, b.username), { path: ['password'], error: 'must not be the username' });

export const loginBody = z.strictObject({
  username: z.string().min(1).max(320).describe('username, @username or e-mail address'),
  password: z.string().min(1).max(256),
  totp: z
    .string()
    .regex(TOTP_OR_RECOVERY, 'must be 6 digits or a recovery code')
    .describe('with 2FA on: the 6-digit code from the authenticator app, or an unspent recovery code (XXXXX-XXXXX)')
    .optional(),
  device: deviceField,
});

// The key's rules (one public key, valid now, at most 64 KiB) are checked by pgpKey.ts and answered
// invalid_pgp_key, which the contract names; the schema only insists on a string.
export const pgpKeyBody = z.strictObject({
  publicKey: z.string().describe('an ASCII-armored OpenPGP public key (-----BEGIN PGP PUBLIC KEY BLOCK-----), at most 64 KiB'),
});

export const refreshBody = z.strictObject({ refreshToken: z.string().min(1).max(256) });

export const emptyBody = z.strictObject({});

export const changePasswordBody = z.strictObject({
  currentPassword: z.string().min(1).max(256),
  newPassword: password,
});

export const passwordBody = z.strictObject({ password: z.string().min(1).max(256) });

export const tokenResponse = z.object({
  user: ownUserSchema,
  accessToken: z.string(),
  refreshToken: z.string(),
  tokenType: z.literal('Bearer'),
  expiresIn: z.number().int().describe('access token lifetime in seconds'),
  deviceId: z.string().describe('this session (device): opaque, not a secret, the same for the life of the session (refresh keeps it; logout ends it)'),
});

export const deviceParams = z.strictObject({ id: z.string().min(1).max(128).describe('a deviceId from GET /users/me/devices') });
