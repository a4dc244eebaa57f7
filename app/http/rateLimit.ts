import type { Middleware } from 'koa';
import type { RateLimitName } from '../config.js';
import { clientNetwork } from '../core/clientNetwork.js';
import type { RateLimiter } from '../core/rateLimiter.js';
import type { AppContext, AppState } from './context.js';

/**
 * Route middleware limiting every request by client network (`clientNetwork`: an IPv4 address or
 * an IPv6 /64), from ctx.ip, which honours TRUST_PROXY.
 */
export function limitByIp(limiter: RateLimiter, name: RateLimitName): Middleware<AppState, AppContext> {
  return async (ctx, next) => {
    await limiter.consume(name, clientNetwork(ctx.ip));
    await next();
  };
}
