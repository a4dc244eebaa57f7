import { caller } from '../http/context.js';
import { defineRoute, type AnyRoute } from '../http/route.js';
import type { AccountService } from './accounts.service.js';
import { disableTwoFactorBody, enableTwoFactorBody, setupResponse } from './twoFactor.schema.js';
import type { TwoFactorService } from './twoFactor.service.js';

const TAG = 'Two-factor';

export function twoFactorRoutes(twoFactor: TwoFactorService, accounts: AccountService): AnyRoute[] {
  return [
    defineRoute({
      method: 'post',
      path: '/auth/2fa/setup',
      tag: TAG,
      summary: 'Start two-factor setup: a new TOTP secret',
      description:
        'Returns a new secret (base32) and its otpauth:// URI for an authenticator app. It takes effect only after ' +
        'POST /auth/2fa/enable with a valid code; calling setup again replaces a pending secret. 409 when already on.',
      auth: true,
      responses: { 200: { description: 'The pending secret.', schema: setupResponse } },
      errors: ['conflict'],
      handler: async (ctx) => {
        ctx.body = await twoFactor.setup(await accounts.requireUser(caller(ctx)));
      },
    }),
    defineRoute({
      method: 'post',
      path: '/auth/2fa/enable',
      tag: TAG,
      summary: 'Turn two-factor authentication on with a first valid code',
      description:
        'From now on POST /auth/login needs `totp`. A wrong code is 400 invalid_totp. Codes are counted per user ' +
        'before checking (RATE_PASSWORD_CHECK_USER, default 10 per 15 min; a right code is not counted): past it, 429.',
      auth: true,
      body: enableTwoFactorBody,
      responses: { 204: { description: 'Two-factor authentication is on.' } },
      errors: ['invalid_totp', 'conflict', 'rate_limited'],
      handler: async (ctx, { body }) => {
        await twoFactor.enable(caller(ctx), body.code);
        ctx.status = 204;
      },
    }),
    defineRoute({
      method: 'post',
      path: '/auth/2fa/disable',
      tag: TAG,
      summary: 'Turn two-factor authentication off',
      description:
        'Needs the password and a current code (each code works once). A wrong password is 403 ' +
        'invalid_password (and uses up no code), a wrong or already-used code 400 invalid_totp. The pair ' +
        'is counted per user before checking (RATE_PASSWORD_CHECK_USER, default 10 per 15 min; a right pair is not ' +
        'counted): past it, 429.',
      auth: true,
      body: disableTwoFactorBody,
      responses: { 204: { description: 'Two-factor authentication is off.' } },
      errors: ['invalid_password', 'invalid_totp', 'conflict', 'rate_limited'],
      handler: async (ctx, { body }) => {
        await twoFactor.disable(await accounts.requireUser(caller(ctx)), body.password, body.code);
        ctx.status = 204;
      },
    }),
  ];
}
