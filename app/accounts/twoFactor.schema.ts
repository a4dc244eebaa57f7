import { z } from 'zod';

const totpCode = z.string().regex(/^\d{6}$/, 'must be the 6-digit code from the authenticator app');

export const enableTwoFactorBody = z.strictObject({ code: totpCode });

export const disableTwoFactorBody = z.strictObject({
  password: z.string().min(1).max(256),
  code: totpCode,
});

export const setupResponse = z.object({
  secret: z.string().describe('base32 TOTP secret, for typing into an authenticator app'),
  otpauthUrl: z.string().describe('otpauth://totp/... URI, for a QR code'),
});
