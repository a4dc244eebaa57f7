import type { AccountService } from '../accounts/accounts.service.js';
import { passwordBody } from '../accounts/accounts.schema.js';
import { caller } from '../http/context.js';
import { defineRoute, type AnyRoute } from '../http/route.js';
import type { FieldCipher } from '../lib/fieldCipher.js';
import { z } from 'zod';
import { ownUserSchema, presentOwnUser } from './users.presenter.js';

const TAG = 'Users';

export function userRoutes(accounts: AccountService, cipher: FieldCipher): AnyRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/users/me',
      tag: TAG,
      summary: 'The signed-in account',
      auth: true,
      responses: { 200: { description: 'The account.', schema: z.object({ user: ownUserSchema }) } },
      handler: async (ctx) => {
        ctx.body = { user: presentOwnUser(await accounts.requireUser(caller(ctx)), cipher) };
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/users/me',
      tag: TAG,
      summary: 'Delete the account',
      description: 'Needs the password. The account and its sessions are gone at once.',
      auth: true,
      body: passwordBody,
      responses: { 204: { description: 'Deleted.' } },
      errors: ['invalid_credentials'],
      handler: async (ctx, { body }) => {
        await accounts.deleteAccount(caller(ctx), body.password);
        ctx.status = 204;
      },
    }),
  ];
}
