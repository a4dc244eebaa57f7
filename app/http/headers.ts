import type { Middleware } from 'koa';
import type { AppContext, AppState } from './context.js';

// Public documents that may be cached; every other answer can carry tokens or personal data.
const CACHEABLE = /^\/(openapi\.json|docs(\/.*)?)$/;

/** On every answer, in this order (the lean routes, http/lean.ts, send the same list). */
export const SECURITY_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['X-Content-Type-Options', 'nosniff'],
  ['Referrer-Policy', 'no-referrer'],
  ['X-Frame-Options', 'DENY'],
];
/** On every answer but the public docs: answers can carry tokens or personal data. */
export const NO_STORE = ['Cache-Control', 'no-store'] as const;

/** Security headers on every answer, and `Cache-Control: no-store` on all but the public docs. */
export function securityHeaders(): Middleware<AppState, AppContext> {
  return async (ctx, next) => {
    for (const [name, value] of SECURITY_HEADERS) ctx.set(name, value);
    if (!CACHEABLE.test(ctx.path)) ctx.set(...NO_STORE);
    await next();
  };
}

const ALLOWED_HEADERS = 'Authorization, Content-Type, X-Request-Id';
export const EXPOSED_HEADERS = 'X-Request-Id, Retry-After';
const PREFLIGHT_MAX_AGE = '600';

/**
 * CORS for the origins listed in CORS_ORIGINS; with none listed, no CORS headers at all, so
 * browsers keep the same-origin default. Tokens travel in headers, never cookies: no credentials mode.
 */
export function cors(origins: readonly string[]): Middleware<AppState, AppContext> {
  const allowed = new Set(origins);
  return async (ctx, next) => {
    if (allowed.size === 0) return next() as Promise<void>;
    ctx.vary('Origin');
    const origin = ctx.get('Origin');
    if (!origin || !allowed.has(origin)) return next() as Promise<void>;
    ctx.set('Access-Control-Allow-Origin', origin);
    ctx.set('Access-Control-Expose-Headers', EXPOSED_HEADERS);
    if (ctx.method === 'OPTIONS' && ctx.get('Access-Control-Request-Method')) {
      ctx.set('Access-Control-Allow-Methods', 'GET, POST, PUT, DELETE');
      ctx.set('Access-Control-Allow-Headers', ALLOWED_HEADERS);
      ctx.set('Access-Control-Max-Age', PREFLIGHT_MAX_AGE);
      ctx.status = 204;
      return;
    }
    await next();
  };
}
