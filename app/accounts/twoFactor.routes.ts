import { defaultOf } from '../config/defaults.js';
import { caller, originOf } from '../http/context.js';
import { defineRoute, type AnyRoute } from '../http/route.js';
import type { AccountService } from './accounts.service.js';
import { disableTwoFactorBody, enableResponse, enableTwoFactorBody, setupResponse, setupTwoFactorBody } from './twoFactor.schema.js';
import type { TwoFactorService } from './twoFactor.service.js';

const TAG = 'Two-factor';

const PASSWORD_LIMIT =
  `Password checks are counted per user before checking (RATE_PASSWORD_CHECK_USER, default ${defaultOf('RATE_PASSWORD_CHECK_USER')}, shared with ` +
  'change-password and DELETE /users/me; a right one is not counted): past it, 429.';

export function twoFactorRoutes(twoFactor: TwoFactorService, accounts: AccountService): AnyRoute[] {
  return [
    defineRoute({
      method: 'post',
      path: '/auth/2fa/setup',
      tag: TAG,
      summary: 'Start two-factor setup: a new TOTP secret',
      description:
        'Needs the password (a wrong one is 403 invalid_password), so a stolen access token alone cannot start it. Returns a ' +
        'new secret (base32) and its otpauth:// URI for an authenticator app. It takes effect only after POST /auth/2fa/enable ' +
        'with a valid code; calling setup again replaces a pending secret. 409 when already on. ' +
        PASSWORD_LIMIT,
      auth: true,
      body: setupTwoFactorBody,
      responses: { 200: { description: 'The pending secret.', schema: setupResponse } },
      errors: ['invalid_password', 'conflict', 'rate_limited'],
      handler: async (ctx, { body }) => {
        ctx.body = await twoFactor.setup(await accounts.requireUser(caller(ctx)), body.password);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/auth/2fa/enable',
      tag: TAG,
      summary: 'Turn two-factor authentication on with the password and a first valid code',
      description:
        'From now on POST /auth/login needs `totp`. A wrong password is 403 invalid_password (and uses up no code), a wrong ' +
        'code 400 invalid_totp. Answers 10 one-time recovery codes, shown only this once (stored as keyed hashes): each ' +
        'works once in place of `totp` at login or `code` at disable. The address on file gets a notice, and the security ' +
        `log a \`2fa.enabled\` entry. The pair is counted per user before checking (RATE_PASSWORD_CHECK_USER, default ${defaultOf('RATE_PASSWORD_CHECK_USER')}; ` +
        'a right pair is not counted): past it, 429.',
      auth: true,
      body: enableTwoFactorBody,
      responses: { 200: { description: 'Two-factor authentication is on; the recovery codes.', schema: enableResponse } },
      errors: ['invalid_password', 'invalid_totp', 'conflict', 'rate_limited'],
      handler: async (ctx, { body }) => {
        const auth = caller(ctx);
        ctx.body = await twoFactor.enable(auth, await accounts.requireUser(auth), body.password, body.code, originOf(ctx));
      },
    }),
    defineRoute({
      method: 'post',
      path: '/auth/2fa/disable',
      tag: TAG,
      summary: 'Turn two-factor authentication off',
      description:
        'Needs the password and a current code or an unspent recovery code (each works once). A wrong password is 403 ' +
        'invalid_password (and uses up no code), a wrong or already-used code 400 invalid_totp. The address on file gets a ' +
        'notice, and the security log a `2fa.disabled` entry; the recovery codes are gone. The pair is counted per user ' +
        `before checking (RATE_PASSWORD_CHECK_USER, default ${defaultOf('RATE_PASSWORD_CHECK_USER')}; a right pair is not counted): past it, 429.`,
      auth: true,
      body: disableTwoFactorBody,
      responses: { 204: { description: 'Two-factor authentication is off.' } },
      errors: ['invalid_password', 'invalid_totp', 'conflict', 'rate_limited'],
      handler: async (ctx, { body }) => {
        await twoFactor.disable(await accounts.requireUser(caller(ctx)), body.password, body.code, originOf(ctx));
        ctx.status = 204;
      },
    }),
  ];
}
