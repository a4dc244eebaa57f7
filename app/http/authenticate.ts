import type { Middleware } from 'koa';
import type { Caller } from '../core/caller.js';
import { unauthorized } from '../core/errors.js';
import type { Clock } from '../lib/clock.js';
import type { SessionStore } from '../store/types.js';
import type { AppContext, AppState } from './context.js';

const BEARER = /^Bearer ([A-Za-z0-9_.~+/-]+=*)$/;
const BEARER_PREFIX = 'Bearer ';

/** Checks an access token's signature and claims; null for any token it refuses. The accounts feature passes its `AccessTokens`. */
export interface TokenVerifier {
  verify(token: string): Promise<Caller | null>;
  /**
   * The same check without a promise, when the verifier can do it synchronously (the hot path uses it).
   * It accepts only a JWS in compact form: base64url segments and dots, characters that BEARER allows.
   */
  verifySync?(token: string): Caller | null;
}

/**
 * The caller of a request with this `Authorization` header: a valid access token whose session still
 * exists and is younger than `sessionMaxAge` seconds; else throws 401 unauthorized. Shared by the
 * middleware and the lean poll route, so both refuse exactly the same requests.
 */
export function callerCheck(tokens: TokenVerifier, sessions: SessionStore, clock: Clock, sessionMaxAge: number): (authorization: string) => Promise<Caller> {
  return async (authorization) => {
    let claims: Caller | null;
    if (tokens.verifySync) {
      // verifySync accepts only characters BEARER allows, so the prefix is all of BEARER left to check: the
      // same requests pass, without running the pattern over every token (the empty poll's CPU, bench/README.md).
      claims = authorization.startsWith(BEARER_PREFIX) ? tokens.verifySync(authorization.slice(BEARER_PREFIX.length)) : null;
    } else {
      const match = BEARER.exec(authorization);
      if (!match) throw unauthorized();
      claims = await tokens.verify(match[1]!);
    }
    if (!claims) throw unauthorized();
    const session = await sessions.findById(claims.sessionId);
    const now = clock.now();
    if (!session || session.userId !== claims.userId || session.expiresAt.getTime() <= now) {
      throw unauthorized('The session has ended; sign in again.');
    }
    if (session.createdAt.getTime() + sessionMaxAge * 1000 <= now) {
      throw unauthorized('The session has reached its maximum age; sign in again.');
    }
    return claims;
  };
}

/**
 * Accepts a valid access token whose session still exists and is younger than `sessionMaxAge`
 * seconds (SESSION_MAX_AGE): the session lookup on every request is what makes logout, password
 * change and account deletion revoke access at once.
 */
export function authenticate(tokens: TokenVerifier, sessions: SessionStore, clock: Clock, sessionMaxAge: number): Middleware<AppState, AppContext> {
  const check = callerCheck(tokens, sessions, clock, sessionMaxAge);
  return async (ctx, next) => {
    ctx.state.auth = await check(ctx.get('Authorization'));
    await next();
  };
}

/**
 * Route middleware for after `authenticate`: tells `record` of every authenticated request (presence
 * counts each one as activity) before the handler runs.
 */
export function onAuthenticated(record: (caller: Caller) => Promise<void> | undefined): Middleware<AppState, AppContext> {
  return async (ctx, next) => {
    if (ctx.state.auth) await record(ctx.state.auth);
    await next();
  };
}
