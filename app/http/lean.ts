import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Caller } from '../core/caller.js';
import { errorBody, toAppError } from './errorHandler.js';
import { EXPOSED_HEADERS, NO_STORE, SECURITY_HEADERS } from './headers.js';
import { VALID_REQUEST_ID } from './requestContext.js';

/**
 * A route answered straight from node:http, outside Koa: for the one endpoint hot enough that Koa's
 * context, its middleware chain and a suspended async frame per middleware show in the bench (bench/README.md:
 * the empty short poll, and every held long-poll's memory). Only what it does not need is skipped: it
 * answers the same bytes as the Koa route (same headers in the same order, the same JSON), writes the same
 * log line, counts in the same metrics and authenticates with the same check, and answers its failures
 * (a refused token or session, a bad cursor, a cap, a store that is down) in the same error shape. A query
 * of another shape it leaves to Koa before doing anything, so Koa's validation answers it.
 */
export interface LeanRoute<Q> {
  /** Only GET; the exact path (no trailing slash, no parameters: those go to Koa). */
  path: string;
  /** The route template for logs and metrics, as Koa's router names it. */
  template: string;
  /** The parsed query string (without `?`), or null to leave the request to Koa (it writes the 400). */
  query(search: string): Q | null;
  /** The 200 answer's JSON body; an error thrown is answered in the API's single error shape. */
  handle(caller: Caller, query: Q, req: IncomingMessage, res: ServerResponse): Promise<unknown>;
}

export interface LeanDeps {
  logger: Logger;
  trustProxy: boolean;
  corsOrigins: readonly string[];
  maxBodyBytes: number;
  /** The metrics middleware's record of one request. */
  observe(method: string, route: string, status: number, seconds: number): void;
  /** `authenticate`'s check: the caller, or a thrown 401. */
  callerOf(authorization: string): Promise<Caller>;
  /** What the router tells of every authenticated request (presence, the device's lastSeen). */
  onAuthenticated?(caller: Caller): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** `securityHeaders()`'s answer headers, flat, as writeHead takes them. */
const FIXED_HEADERS: readonly string[] = [...SECURITY_HEADERS.flat(), ...NO_STORE];

/** Koa's `ctx.ip` with `maxIpsCount: 1`: the one address our proxy appended, else the socket's peer. */
function clientIp(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = req.headers['x-forwarded-for'];
    if (typeof forwarded === 'string' && forwarded !== '') {
      const last = forwarded.slice(forwarded.lastIndexOf(',') + 1).trim();
      if (last) return last;
    }
  }
  return req.socket.remoteAddress ?? '';
}

/** Koa's `ctx.writable`: an answer can still be written. */
const writable = (res: ServerResponse) => !res.writableEnded && (!res.socket || res.socket.writable);

/**
 * The node:http request handler: the lean routes first, everything else (and anything they leave) to
 * `fallback`, Koa's callback.
 */
export function leanHandler(deps: LeanDeps, routes: Array<LeanRoute<unknown>>, fallback: Handler): Handler {
  const byPath = new Map(routes.map((r) => [r.path, r]));
  const cors = new Set(deps.corsOrigins);

  const serve = async (req: IncomingMessage, res: ServerResponse, route: LeanRoute<unknown>, query: unknown, started: bigint) => {
    let status = 200;
    let body: unknown;
    let extra: Record<string, string> | undefined;
    let failed = false;
    let failure: unknown;
    try {
      // Every failure from here on is answered here, as errorHandler would: nothing runs twice.
      const caller = await deps.callerOf(req.headers.authorization ?? '');
      if (deps.onAuthenticated) await deps.onAuthenticated(caller);
      body = await route.handle(caller, query, req, res);
    } catch (err) {
      failed = true;
      failure = err;
    }
    // The id is taken once the answer is known, not before the wait: randomUUID's text is a tree of a dozen
    // joined strings (~0.4 KB) until something flattens it, and a held poll would keep it for its whole wait
    // (bench/README.md, "Held poll").
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && VALID_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    if (failed) {
      const appError = toAppError(failure, deps.logger, deps.maxBodyBytes, { requestId, method: 'GET', path: route.path });
      status = appError.status;
      extra = appError.headers;
      body = errorBody(appError);
    }
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    deps.observe('GET', route.template, status, ms / 1000);
    deps.logger.info({ requestId, method: 'GET', route: route.template, status, ms: Math.round(ms * 10) / 10, ip: clientIp(req, deps.trustProxy) }, 'request');
    if (!writable(res)) {
      res.end();
      return;
    }
    // The headers of the Koa path, in its order: request id, security headers, CORS, the error's, then the
    // body's. One flat list to writeHead: no header map to build and read back (setHeader each was ~4 %).
    const headers = ['X-Request-Id', requestId, ...FIXED_HEADERS];
    if (cors.size > 0) {
      headers.push('Vary', 'Origin');
      const origin = req.headers.origin;
      if (origin && cors.has(origin)) headers.push('Access-Control-Allow-Origin', origin, 'Access-Control-Expose-Headers', EXPOSED_HEADERS);
    }
    if (extra) for (const name of Object.keys(extra)) headers.push(name, extra[name]!);
    const text = JSON.stringify(body);
    headers.push('Content-Type', 'application/json; charset=utf-8', 'Content-Length', String(Buffer.byteLength(text)));
    res.writeHead(status, headers);
    res.end(text);
  };

  return (req, res) => {
    if (req.method === 'GET' && req.url !== undefined) {
      const url = req.url;
      const q = url.indexOf('?');
      const route = byPath.get(q === -1 ? url : url.slice(0, q));
      if (route) {
        const query = route.query(q === -1 ? '' : url.slice(q + 1));
        if (query !== null) {
          void serve(req, res, route, query, process.hrtime.bigint()).catch((err: unknown) => {
            // Only a bug gets here (every failure above is answered): never leave the socket hanging.
            deps.logger.error({ err }, 'lean route failed');
            if (!res.headersSent) res.statusCode = 500;
            res.end();
          });
          return;
        }
      }
    }
    fallback(req, res);
  };
}
