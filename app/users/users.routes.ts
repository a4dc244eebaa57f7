import type { AccountService } from '../accounts/accounts.service.js';
import { passwordBody } from '../accounts/accounts.schema.js';
import { caller } from '../http/context.js';
import { defineRoute, type AnyRoute } from '../http/route.js';
import type { RateLimiter } from '../core/rateLimiter.js';
import type { FieldCipher } from '../lib/fieldCipher.js';
import type { UserStore } from '../store/types.js';
import { z } from 'zod';
import { ownUserSchema, presentOwnUser, presentPublicUser, presentSearchResult } from './users.presenter.js';
import { profileParams, profileResponse, searchQuery, searchResponse } from './users.schema.js';
import { UserDirectory, type PresenceLookup } from './users.service.js';

const TAG = 'Users';

export interface UserRouteDeps {
  users: UserStore;
  limiter: RateLimiter;
  /** Who may see whose presence; until connections provide it, profiles carry no `presence`. */
  presenceFor?: PresenceLookup;
}

export function userRoutes(accounts: AccountService, cipher: FieldCipher, deps: UserRouteDeps): AnyRoute[] {
  const directory = new UserDirectory(deps);
  // Order matters: the router runs the first matching route, so the fixed paths /users/me and
  // /users/search come before /users/:username (a user named "search" is reached as /users/@search).
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
        'Needs the password. The account and its sessions are gone at once. Password checks are counted per user before ' +
        'checking (RATE_PASSWORD_CHECK_USER, default 10 per 15 min, shared with change-password and 2FA enable/disable; ' +
        'a right password is not counted): past it, 429.',
      auth: true,
      body: passwordBody,
      responses: { 204: { description: 'Deleted.' } },
      errors: ['invalid_credentials', 'rate_limited'],
      handler: async (ctx, { body }) => {
        await accounts.deleteAccount(caller(ctx), body.password);
        ctx.status = 204;
      },
    }),
    defineRoute({
      method: 'get',
      path: '/users/search',
      tag: TAG,
      summary: 'Find users by the start of their username',
      description:
        'Case-insensitive prefix match on usernames (a leading @ is ignored; `_` is an ordinary character), sorted by ' +
        'username, the caller left out. Results carry only the username and the key fingerprint. Limited per user ' +
        '(RATE_SEARCH_USER, default 60 per 60 s).',
      auth: true,
      query: searchQuery,
      responses: { 200: { description: 'Matching users, possibly none.', schema: searchResponse } },
      errors: ['rate_limited'],
      handler: async (ctx, { query }) => {
        const hits = await directory.search(caller(ctx), query.q, query.limit);
        ctx.body = { results: hits.map(presentSearchResult) };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/users/:username',
      tag: TAG,
      summary: "A user's public profile",
      description:
        'The username may carry a leading @. `presence` is present only when you look at yourself or at an accepted ' +
        'connection; for anyone else the field is absent. Each lookup, found or not, counts against the same per-user ' +
        'limit as search (RATE_SEARCH_USER, default 60 per 60 s), so exact-name guessing cannot enumerate the directory.',
      auth: true,
      params: profileParams,
      responses: { 200: { description: 'The profile.', schema: profileResponse } },
      errors: ['not_found', 'rate_limited'],
      handler: async (ctx, { params }) => {
        const { user, presence } = await directory.profile(caller(ctx), params.username);
        ctx.body = presentPublicUser(user, presence);
      },
    }),
  ];
}
