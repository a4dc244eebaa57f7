import type { Middleware } from 'koa';
import { HttpMethodEnum, koaBody } from 'koa-body';
import type { AppContext, AppState } from './context.js';
import { invalidJson, payloadTooLarge, unsupportedMediaType } from '../core/errors.js';

const METHODS_WITH_BODY = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function hasBody(ctx: AppContext): boolean {
  const length = ctx.get('Content-Length');
  return ctx.get('Transfer-Encoding') !== '' || (length !== '' && length !== '0');
}

/**
 * JSON bodies only: another content type is 415, malformed JSON is 400, more than `limit` bytes is
 * 413. A request with no body reads as `{}`, so `POST /auth/logout` needs no payload.
 */
export function jsonBody(limit: number): Middleware<AppState, AppContext> {
  const parse = koaBody({
    json: true,
    jsonStrict: true, // only objects and arrays at the top level
    jsonLimit: limit,
    urlencoded: false,
    text: false,
    multipart: false,
    // koa-body parses only POST, PUT and PATCH by default; DELETE /users/me carries a body too.
    parsedMethods: [HttpMethodEnum.POST, HttpMethodEnum.PUT, HttpMethodEnum.PATCH, HttpMethodEnum.DELETE],
    onError: (err) => {
      const status = (err as { status?: number }).status;
      if (status === 413) throw payloadTooLarge(limit);
      if (status === 415) throw unsupportedMediaType();
      throw invalidJson();
    },
  }) as unknown as Middleware<AppState, AppContext>;

  return async (ctx, next) => {
    if (!METHODS_WITH_BODY.has(ctx.method) || !hasBody(ctx)) {
      ctx.request.body = {};
      return next() as Promise<void>;
    }
    if (!ctx.is('application/json', '+json')) throw unsupportedMediaType();
    return parse(ctx, next) as Promise<void>;
  };
}
