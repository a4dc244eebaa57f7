import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import {
  AppError,
  badRequest,
  internal,
  invalidJson,
  methodNotAllowed,
  notFound,
  notImplemented,
  payloadTooLarge,
  unavailable,
  unsupportedMediaType,
} from '../core/errors.js';
import { StoreUnavailableError } from '../store/types.js';
import type { AppContext, AppState } from './context.js';

/** Maps errors thrown by Koa and its body parser (http-errors) to our codes by status. */
function fromHttpError(err: { status: number; expose?: boolean }, maxBodyBytes: number): AppError | null {
  if (!err.expose) return null;
  if (err.status === 413) return payloadTooLarge(maxBodyBytes);
  if (err.status === 415) return unsupportedMediaType();
  if (err.status === 400) return invalidJson();
  if (err.status === 404) return notFound();
  return badRequest(err.status);
}

/** Where an error happened, for the log line of an unknown one. */
export interface ErrorSite {
  requestId: string;
  method: string;
  path: string;
}

/**
 * The AppError to answer for anything thrown: itself when it is one, `unavailable` for a store that
 * is down, ours for Koa's and the body parser's http-errors, else (logged in full) a generic 500.
 */
export function toAppError(err: unknown, logger: Logger, maxBodyBytes: number, site: ErrorSite): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof StoreUnavailableError) {
    logger.error({ err, requestId: site.requestId }, 'store unavailable');
    return unavailable();
  }
  // `err` can be anything thrown, null and undefined included: never let reading it throw.
  const mapped =
    typeof (err as { status?: unknown } | null | undefined)?.status === 'number' ? fromHttpError(err as { status: number; expose?: boolean }, maxBodyBytes) : null;
  if (mapped) return mapped;
  logger.error({ err, requestId: site.requestId, method: site.method, path: site.path }, 'unhandled error');
  return internal();
}

/** The single error shape of the API contract: `{error: {code, message, details?}}`. */
export function errorBody(appError: AppError): { error: Record<string, unknown> } {
  const error: Record<string, unknown> = { code: appError.code, message: appError.message };
  if (appError.details) error.details = appError.details;
  return { error };
}

/**
 * Writes every failure in the single error shape of the API contract. Unknown errors are logged in
 * full and answered with a generic 500: their messages never reach the client.
 */
export function errorHandler(logger: Logger, maxBodyBytes: number): Middleware<AppState, AppContext> {
  return async (ctx, next) => {
    let appError: AppError;
    try {
      await next();
      if (ctx.body !== undefined && ctx.body !== null) return;
      if (ctx.status === 404) appError = notFound(`No route for ${ctx.method} ${ctx.path}.`);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-conversion -- typed string, but Koa returns node's getHeader(): a number, an array or undefined too
      else if (ctx.status === 405) appError = methodNotAllowed(String(ctx.response.get('Allow')));
      // The router answers a method it does not know at all (TRACE, PROPFIND) 501 with a text body.
      else if (ctx.status === 501) appError = notImplemented();
      else return;
    } catch (err) {
      appError = toAppError(err, logger, maxBodyBytes, { requestId: ctx.state.requestId, method: ctx.method, path: ctx.path });
    }
    ctx.status = appError.status;
    for (const [name, value] of Object.entries(appError.headers ?? {})) ctx.set(name, value);
    ctx.body = errorBody(appError);
  };
}
