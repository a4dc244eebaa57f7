import type { Middleware } from 'koa';
import type { AccessTokens } from '../accounts/tokens.js';
import type { Clock } from '../lib/clock.js';
import type { SessionStore } from '../store/types.js';
import type { AppContext, AppState } from './context.js';
import { unauthorized } from '../core/errors.js';

const BEARER = /^Bearer ([A-Za-z0-9_.~+/-]+=*)$/;

/**
 * Accepts a valid access token whose session still exists and is younger than `sessionMaxAge`
 * seconds (SESSION_MAX_AGE): the session lookup on every request is what makes logout, password
 * change and account deletion revoke access at once.
 */
export function authenticate(tokens: AccessTokens, sessions: SessionStore, clock: Clock, sessionMaxAge: number): Middleware<AppState, AppContext> {
  return async (ctx, next) => {
    const match = BEARER.exec(ctx.get('Authorization'));
    if (!match) throw unauthorized();
    const claims = await tokens.verify(match[1]!);
    if (!claims) throw unauthorized();
    const session = await sessions.findById(claims.sessionId);
    const now = clock.now();
    if (!session || session.userId !== claims.userId || session.expiresAt.getTime() <= now) {
      throw unauthorized('The session has ended; sign in again.');
    }
    if (session.createdAt.getTime() + sessionMaxAge * 1000 <= now) {
      throw unauthorized('The session has reached its maximum age; sign in again.');
    }
    ctx.state.auth = claims;
    await next();
  };
}
