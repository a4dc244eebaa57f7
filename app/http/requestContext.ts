import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import type { AppContext, AppState } from './context.js';

// Echo a caller's id only when it is short and plain, so it cannot inject into logs or headers.
export const VALID_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Assigns X-Request-Id (echoing a valid incoming one) and logs one line per finished request. */
export function requestContext(logger: Logger): Middleware<AppState, AppContext> {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    const incoming = ctx.get('X-Request-Id');
    ctx.state.requestId = VALID_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ctx.set('X-Request-Id', ctx.state.requestId);
    try {
      await next();
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      logger.info(
        {
          requestId: ctx.state.requestId,
          method: ctx.method,
          route: ctx._matchedRoute ?? null,
          status: ctx.status,
          ms: Math.round(ms * 10) / 10,
          ip: ctx.ip,
        },
        'request',
      );
    }
  };
}
