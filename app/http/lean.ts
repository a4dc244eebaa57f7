import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Caller } from '../core/caller.js';
import { errorBody, toAppError } from './errorHandler.js';
import { EXPOSED_HEADERS, NO_STORE, SECURITY_HEADERS } from './headers.js';
import { leanBodyLength, readJsonBody } from './leanBody.js';
import { VALID_REQUEST_ID } from './requestContext.js';

/**
 * A route answered straight from node:http, outside Koa: for the endpoints hot enough that Koa's context, its
 * middleware chain and a suspended async frame per middleware show in the bench (bench/README.md: the empty
 * short poll, every held long-poll's memory, and the send, whose Koa chain with koa-body and zod was a tenth of
 * its CPU). Only what it does not need is skipped: it answers the same bytes as the Koa route (same headers in
 * the same order, the same JSON), writes the same log line, counts in the same metrics and authenticates with
 * the same check, and answers its failures (a refused token or session, a bad body or cursor, a cap, a store
 * that is down) in the same error shape. A request of another shape (query; for a POST, body headers) it
 * leaves to Koa before doing anything, so Koa answers it.
 */
export interface LeanRoute<Q> {
  /**
   * GET, or POST with a JSON body: read (leanBody.ts) before the caller is authenticated, as `jsonBody` runs
   * before the router in Koa's chain, and handed to `handle` as `jsonBody` would hand it on.
   */
  method: 'GET' | 'POST';
  /** The exact path (no trailing slash, no parameters: those go to Koa). */
  path: string;
  /** The route template for logs and metrics, as Koa's router names it. */
  template: string;
  /** The status of a success: 200, or 202 for what is accepted for delivery. */
  status: number;
  /** The parsed query string (without `?`), or null to leave the request to Koa (it writes the 400). */
  query(search: string): Q | null;
  /** The success's JSON body; an error thrown is answered in the API's single error shape. `body` is undefined for a GET. */
  handle(caller: Caller, query: Q, body: unknown, req: IncomingMessage, res: ServerResponse): Promise<unknown>;
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
  onAuthenticated?(caller: Caller): Promise<void> | undefined;
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
  const byRoute = new Map(routes.map((r) => [`${r.method} ${r.path}`, r]));
  const cors = new Set(deps.corsOrigins);

  /** `bodyLength`: for a POST, the body's declared length (leanBody.ts); null for a GET. */
  const serve = async (req: IncomingMessage, res: ServerResponse, route: LeanRoute<unknown>, query: unknown, bodyLength: number | null, started: bigint) => {
    let status = route.status;
    let body: unknown;
    let extra: Record<string, string> | undefined;
    // Koa's router names the route only once the body is read: a body refused is logged and counted unmatched.
    let matched = bodyLength === null;
    let failed = false;
    let failure: unknown;
    try {
      // Every failure from here on is answered here, as errorHandler would: nothing runs twice.
      const input = bodyLength === null ? undefined : await readJsonBody(req, bodyLength, deps.maxBodyBytes);
      matched = true;
      const caller = await deps.callerOf(req.headers.authorization ?? '');
      // Undefined when no lastSeen write was due: nothing to wait on.
      const seen = deps.onAuthenticated?.(caller);
      if (seen) await seen;
      body = await route.handle(caller, query, input, req, res);
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
      const appError = toAppError(failure, deps.logger, deps.maxBodyBytes, { requestId, method: route.method, path: route.path });
      status = appError.status;
      extra = appError.headers;
      body = errorBody(appError);
    }
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (writable(res)) writeAnswer(req, res, requestId, status, extra, body);
    else res.end();
    // Counted and logged once the answer is on its way, not before: the log line's write is a syscall
    // a woken poll's recipient would otherwise wait for (bench/README.md, "Delivery").
    deps.observe(route.method, matched ? route.template : 'unmatched', status, ms / 1000);
    deps.logger.info(
      { requestId, method: route.method, route: matched ? route.template : null, status, ms: Math.round(ms * 10) / 10, ip: clientIp(req, deps.trustProxy) },
      'request',
    );
  };

  const writeAnswer = (req: IncomingMessage, res: ServerResponse, requestId: string, status: number, extra: Record<string, string> | undefined, body: unknown) => {
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
    const url = req.url;
    if ((req.method === 'GET' || req.method === 'POST') && url !== undefined) {
      const q = url.indexOf('?');
      const route = byRoute.get(`${req.method} ${q === -1 ? url : url.slice(0, q)}`);
      const bodyLength = route?.method === 'POST' ? leanBodyLength(req, deps.maxBodyBytes) : null;
      if (route && (route.method === 'GET' || bodyLength !== null)) {
        const query = route.query(q === -1 ? '' : url.slice(q + 1));
        if (query !== null) {
          void serve(req, res, route, query, bodyLength, process.hrtime.bigint()).catch((err: unknown) => {
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
