import { z } from 'zod';
import { RECOVERY_CODE_COUNT, TOTP_OR_RECOVERY } from './recoveryCodes.js';

const password = z.string().min(1).max(256).describe('the account password, re-checked');
const totpCode = z.string().regex(/^\d{6}$/, 'must be the 6-digit code from the authenticator app');
const totpOrRecoveryCode = z
  .string()
  .regex(TOTP_OR_RECOVERY, 'must be the 6-digit code from the authenticator app or a recovery code')
  .describe('a 6-digit code from the authenticator app, or an unspent recovery code');

export const setupTwoFactorBody = z.strictObject({ password });

export const enableTwoFactorBody = z.strictObject({ password, code: totpCode });

export const disableTwoFactorBody = z.strictObject({ password, code: totpOrRecoveryCode });

export const setupResponse = z.object({
  secret: z.string().describe('base32 TOTP secret, for typing into an authenticator app'),
  otpauthUrl: z.string().describe('otpauth://totp/... URI, for a QR code'),
});

export const enableResponse = z.object({
  recoveryCodes: z
    .array(z.string())
    .length(RECOVERY_CODE_COUNT)
    .describe(
      `${RECOVERY_CODE_COUNT} one-time codes (10 base32 characters as XXXXX-XXXXX), shown only now: each works once in place of ` +
        '`totp` at POST /auth/login or `code` at POST /auth/2fa/disable',
    ),
});
