import { z } from 'zod';
import { email, password } from './accounts.schema.js';

export const forgotPasswordBody = z.strictObject({ email });

export const resetPasswordBody = z.strictObject({
  email,
  otp: z.string().regex(/^\d{6}$/, 'must be the 6-digit code from the e-mail'),
  newPassword: password,
});

export const acceptedResponse = z.object({ ok: z.literal(true) });
