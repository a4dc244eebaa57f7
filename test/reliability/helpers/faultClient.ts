import { request as httpRequest, type Agent } from 'node:http';
import { connect, type Socket } from 'node:net';

// HTTP as the reliability suite needs it: node:http with no retries of its own (fetch's pool may
// resend a request on a reused socket; here the test decides what is retried), and raw sockets that
// give up on a request at chosen moments: mid-body, right after it is written, after the first bytes
// of the answer.

export interface Answer {
  status: number;
  /** The answer's content-type header ('' when absent). */
  contentType: string;
  /** The parsed JSON body, or null for an empty or non-JSON one. */
  body: unknown;
  text: string;
}

export interface CallOptions {
  token?: string;
  body?: unknown;
  /** The request fails (rejects) when no full answer came within this; default 40 s (above a 30 s hold). */
  timeoutMs?: number;
  /** A keep-alive agent to reuse sockets; default a new connection each time. */
  agent?: Agent;
}

const DEFAULT_TIMEOUT_MS = 40_000;

/** One request; rejects on any network failure (refused, reset, cut off mid-answer, timed out). */
export function call(baseUrl: string, method: string, path: string, options: CallOptions = {}): Promise<Answer> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${baseUrl}${path}`,
      {
        method,
        agent: options.agent ?? false,
        headers: {
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
        },
        timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('aborted', () => reject(new Error('answer cut off')));
        res.on('end', () => {
          if (!res.complete) {
            reject(new Error('answer cut off'));
            return;
          }
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = null;
          try {
            body = text ? JSON.parse(text) : null;
          } catch {
            body = null;
          }
          resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'] ?? '', body, text });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`)));
    // Named for the request it failed (node's own stack says nothing of it); the code (ECONNREFUSED) is kept.
    req.on('error', (err: NodeJS.ErrnoException) => reject(Object.assign(new Error(`${method} ${path}: ${err.message}`), { code: err.code })));
    req.end(payload);
  });
}

/** Whether a failed `call` never reached the server (nothing listened): unlike a reset, no request was taken. */
export const wasRefused = (err: unknown) => (err as NodeJS.ErrnoException | null)?.code === 'ECONNREFUSED';

/** The body of `res` when its status is `status`; otherwise throws naming `what` and the whole answer. */
export function expectStatus(res: Answer, status: number, what: string): unknown {
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status} ${res.text.slice(0, 500)}`);
  return res.body;
}

/** Whether `body` is the API's single error shape `{error: {code, message}}`. */
export function isErrorShape(body: unknown): boolean {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  return typeof error?.code === 'string' && typeof error.message === 'string';
}

/** Where a raw request is given up. */
export type DropMoment =
  /** Headers and half the body written, then the socket destroyed: the request never completes. */
  | 'mid-body'
  /** The whole request written (flushed to the kernel), then destroyed at once, before any answer. */
  | 'after-request'
  /** Destroyed as soon as the first bytes of the answer arrive, with the rest maybe still being written. */
  | 'after-first-bytes';

/** What a dropped request saw before it gave up. */
export interface Dropped {
  /** The bytes of the answer received before the drop (empty unless 'after-first-bytes'). */
  received: string;
}

function rawRequest(
  baseUrl: string,
  method: string,
  path: string,
  token: string | undefined,
  body: unknown,
): { head: string; payload: string; host: string; port: number } {
  const { hostname, port } = new URL(baseUrl);
  const payload = body === undefined ? '' : JSON.stringify(body);
  const lines = [
    `${method} ${path} HTTP/1.1`,
    `Host: ${hostname}:${port}`,
    ...(token ? [`Authorization: Bearer ${token}`] : []),
    ...(body === undefined ? [] : ['Content-Type: application/json', `Content-Length: ${Buffer.byteLength(payload)}`]),
    'Connection: close',
  ];
  return { head: `${lines.join('\r\n')}\r\n\r\n`, payload, host: hostname, port: Number(port) };
}

/**
 * Sends a request on a raw TCP socket and destroys the socket at `moment` (see DropMoment). Resolves once
 * the socket is destroyed; a reset or refusal by the server is not an error (the drop is the point).
 * For 'after-first-bytes' the first chunk read decides; with a large answer (a full poll) the server is
 * then usually still writing. Rejects only if the answer never starts within `timeoutMs`.
 */
export function dropRequest(
  baseUrl: string,
  method: string,
  path: string,
  moment: DropMoment,
  options: { token?: string; body?: unknown; timeoutMs?: number } = {},
): Promise<Dropped> {
  const { head, payload, host, port } = rawRequest(baseUrl, method, path, options.token, options.body);
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host, port });
    let received = '';
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve({ received });
    };
    const timer = setTimeout(
      () => finish(new Error(`${method} ${path}: no answer began within ${options.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`)),
      options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    );
    socket.on('error', () => finish());
    socket.on('close', () => finish());
    socket.once('connect', () => {
      if (moment === 'mid-body') {
        // A body of one byte or none has no half: then the head is cut in two instead.
        const cut = payload.length >= 2 ? head + payload.slice(0, Math.floor(payload.length / 2)) : head.slice(0, Math.floor(head.length / 2));
        socket.write(cut, () => finish());
        return;
      }
      socket.write(head + payload, () => {
        if (moment === 'after-request') finish();
      });
      if (moment === 'after-first-bytes') {
        socket.once('data', (chunk: Buffer) => {
          received = chunk.toString('latin1');
          finish();
        });
      }
    });
  });
}

/** A raw request left open: the test decides when the client leaves. */
export interface OpenRequest {
  /** The answer's bytes received so far. */
  received(): string;
  /** Destroys the socket (the client leaves); resolves once it is closed. */
  drop(): Promise<void>;
}

/** Writes a whole request on a raw TCP socket and keeps it open until `drop()`, reading whatever comes. */
export function openRequest(baseUrl: string, method: string, path: string, options: { token?: string; body?: unknown } = {}): Promise<OpenRequest> {
  const { head, payload, host, port } = rawRequest(baseUrl, method, path, options.token, options.body);
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host, port });
    let received = '';
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.once('error', reject);
    socket.once('connect', () =>
      socket.write(head + payload, () => {
        socket.off('error', reject);
        // Later errors (a reset by the server) only end the socket; drop() still resolves on close.
        socket.on('error', () => undefined);
        resolve({
          received: () => received,
          drop: () => {
            socket.destroy();
            return closed;
          },
        });
      }),
    );
  });
}
