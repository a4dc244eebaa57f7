import { z } from 'zod';
import type { FieldCipher } from '../lib/fieldCipher.js';
import { caller } from '../http/context.js';
import { defineRoute, type AnyRoute } from '../http/route.js';
import { ownUserSchema, presentOwnUser } from './accounts.presenter.js';
import { passwordBody } from './accounts.schema.js';
import type { AccountService } from './accounts.service.js';

// Listed with the other /users paths in the reference; the account itself is this feature's.
const TAG = 'Users';

/** The signed-in account: read it, delete it. Mounted before users' `/users/:username`, which would also match. */
export function ownAccountRoutes(accounts: AccountService, cipher: FieldCipher): AnyRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/users/me',
      tag: TAG,
      summary: 'The signed-in account',
      auth: true,
      responses: { 200: { description: 'The account.', schema: z.object({ user: ownUserSchema }) } },
      handler: async (ctx) => {
        const { user, twoFactor } = await accounts.ownAccount(caller(ctx));
        ctx.body = { user: presentOwnUser(user, cipher, twoFactor) };
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/users/me',
      tag: TAG,
      summary: 'Delete the account',
      description:
        'Needs the password; a wrong one is 403 invalid_password (never 401, which means the token). The account and its ' +
        'sessions are gone at once. Password checks are counted per user before ' +
        'checking (RATE_PASSWORD_CHECK_USER, default 10 per 15 min, shared with change-password and 2FA enable/disable; ' +
        'a right password is not counted): past it, 429.',
      auth: true,
      body: passwordBody,
      responses: { 204: { description: 'Deleted.' } },
      errors: ['invalid_password', 'rate_limited'],
      handler: async (ctx, { body }) => {
        await accounts.deleteAccount(caller(ctx), body.password);
        ctx.status = 204;
      },
    }),
  ];
}
