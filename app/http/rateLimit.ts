import type { Middleware } from 'koa';
import type { RateLimitName } from '../config/environment.js';
import type { RateLimiter } from '../core/rateLimiter.js';
import type { AppContext, AppState } from './context.js';

/**
 * Route middleware limiting every request by client network (`RateLimiter.networkOf`: an IPv4 address
 * or an IPv6 prefix of RATE_IPV6_PREFIX bits), from ctx.ip, which honours TRUST_PROXY.
 */
export function limitByIp(limiter: RateLimiter, name: RateLimitName): Middleware<AppState, AppContext> {
  return async (ctx, next) => {
    await limiter.consume(name, limiter.networkOf(ctx.ip));
    await next();
  };
}
