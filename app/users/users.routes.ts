import { defaultOf } from '../config/defaults.js';
import { caller } from '../http/context.js';
import { defineRoute, type AnyRoute } from '../http/route.js';
import { presentPublicUser, presentSearchResult } from './users.presenter.js';
import { profileParams, profileResponse, searchQuery, searchResponse } from './users.schema.js';
import type { UserDirectory } from './users.service.js';

const TAG = 'Users';

export function userRoutes(directory: UserDirectory): AnyRoute[] {
  // Order matters: the router runs the first matching route, so the fixed path /users/search comes
  // before /users/:username (a user named "search" is reached as /users/@search). /users/me is the
  // accounts feature's, mounted before these.
  return [
    defineRoute({
      method: 'get',
      path: '/users/search',
      tag: TAG,
      summary: 'Find users by the start of their username',
      description:
        'Case-insensitive prefix match on usernames (a leading @ is ignored; `_` is an ordinary character), sorted by ' +
        'username, the caller left out. Results carry only the username and the key fingerprint. Limited per user ' +
        `(RATE_SEARCH_USER, default ${defaultOf('RATE_SEARCH_USER')}).`,
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
        `limit as search (RATE_SEARCH_USER, default ${defaultOf('RATE_SEARCH_USER')}), so exact-name guessing cannot enumerate the directory.`,
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
