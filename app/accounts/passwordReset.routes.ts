import { defaultOf } from '../config/defaults.js';
import type { RateLimiter } from '../core/rateLimiter.js';
import { limitByIp } from '../http/rateLimit.js';
import { originOf } from '../http/context.js';
import { defineRoute, type AnyRoute } from '../http/route.js';
import { acceptedResponse, forgotPasswordBody, resetPasswordBody } from './passwordReset.schema.js';
import type { PasswordResetService } from './passwordReset.service.js';

const TAG = 'Auth';

export function passwordResetRoutes(resets: PasswordResetService, limiter: RateLimiter): AnyRoute[] {
  return [
    defineRoute({
      method: 'post',
      path: '/auth/forgot-password',
      tag: TAG,
      summary: 'E-mail a password-reset code',
      description:
        'Always 202 {"ok": true}, whether or not the address is registered. A registered address receives a ' +
        `6-digit code valid for OTP_TTL (default ${defaultOf('OTP_TTL')}); asking again replaces the previous code. ` +
        `Limited per client network (RATE_FORGOT_IP; an IPv6 /${defaultOf('RATE_IPV6_PREFIX')} counts as one by default, RATE_IPV6_PREFIX), per address from one client network ` +
        `(RATE_FORGOT_EMAIL_IP, default ${defaultOf('RATE_FORGOT_EMAIL_IP')}) and per address from everywhere (RATE_FORGOT_EMAIL, default ${defaultOf('RATE_FORGOT_EMAIL')}; ` +
        'not applied on a network the account registered or signed in from within SESSION_MAX_AGE), so a stranger asking for codes ' +
        "cannot use up the owner's requests.",
      auth: false,
      body: forgotPasswordBody,
      responses: { 202: { description: 'Accepted; a code is on its way if the address is registered.', schema: acceptedResponse } },
      errors: ['rate_limited'],
      before: [limitByIp(limiter, 'forgotPerIp')],
      handler: async (ctx, { body }) => {
        await resets.forgot(body.email, limiter.networkOf(ctx.ip));
        ctx.status = 202;
        ctx.body = { ok: true };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/auth/reset-password',
      tag: TAG,
      summary: 'Set a new password with the e-mailed code',
      description:
        'The code works once, only the newest one works, and 5 wrong tries burn it. Wrong, expired, used, burned ' +
        'codes and unknown addresses all get 400 invalid_otp. Success ends every session of the account and ' +
        'e-mails a notice. Each try is counted before the code is checked, per client network across all addresses ' +
        `(RATE_RESET_IP, default ${defaultOf('RATE_RESET_IP')}), per address from one client network ` +
        `(RATE_RESET_EMAIL_IP, default ${defaultOf('RATE_RESET_EMAIL_IP')}) and per address from everywhere (RATE_RESET_EMAIL, default ${defaultOf('RATE_RESET_EMAIL')}; ` +
        'not applied on a network the account registered or signed in from within SESSION_MAX_AGE); a right code is not counted.',
      auth: false,
      body: resetPasswordBody,
      responses: { 204: { description: 'The password is changed; sign in again.' } },
      errors: ['invalid_otp', 'rate_limited'],
      handler: async (ctx, { body }) => {
        await resets.reset(body.email, body.otp, body.newPassword, limiter.networkOf(ctx.ip), originOf(ctx));
        ctx.status = 204;
      },
    }),
  ];
}
