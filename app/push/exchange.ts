import http from 'node:http';
import https from 'node:https';

/**
 * The one path every wake-up leaves by, whatever its transport: one request, one answer, under a total
 * deadline and a cap on the answer. A slow push service can hold a request for `deadlineMs` at most
 * (connecting, TLS, sending and the whole answer together, however it trickles), and an endless answer
 * costs at most `maxAnswerBytes` read before the connection is torn down. A transport added later
 * (APNs over HTTP/2, FCM) implements `Transport` and gets both bounds from `exchange`.
 */
export interface ExchangeLimits {
  /** PUSH_TIMEOUT_MS: from the first byte of work to the last byte of the answer. */
  deadlineMs: number;
  /** Past this many answer bytes the connection is destroyed (docs/push.md: 64 KiB). */
  maxAnswerBytes: number;
}

/** One request to send. */
export interface OutgoingRequest {
  url: URL;
  headers: Record<string, string | number>;
  body: Buffer;
}

/** What came back: the answer (its body kept up to the cap), or why there is none. */
export type ExchangeResult = { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer } | { error: ExchangeError };

/**
 * `timeout`: the deadline passed. `too_large`: the answer went past the cap. `blocked`: the address is
 * one a push may not reach (refused at connect time). Otherwise the network error's code.
 */
export type ExchangeError = 'timeout' | 'too_large' | 'blocked' | (string & {});

/** What a transport reports while an exchange runs; `exchange` settles on the first of head+end or error. */
export interface AnswerEvents {
  head(status: number, headers: Record<string, string | string[] | undefined>): void;
  chunk(data: Buffer): void;
  end(): void;
  error(code: string): void;
}

/** A way to send a request (HTTP/1.1 now; HTTP/2 later). `start` returns how to abort it: tear the stream or socket down. */
export interface Transport {
  start(request: OutgoingRequest, events: AnswerEvents): () => void;
}

/** Sends `request` through `transport` within `limits`; never rejects. */
export function exchange(transport: Transport, request: OutgoingRequest, limits: ExchangeLimits): Promise<ExchangeResult> {
  return new Promise<ExchangeResult>((resolve) => {
    // Set by `finish`, which transport.start may call before it returns: the cast keeps TypeScript from
    // narrowing it to false at the check after that call.
    let settled = false as boolean;
    let head: { status: number; headers: Record<string, string | string[] | undefined> } | null = null;
    const chunks: Buffer[] = [];
    let size = 0;
    let abort: () => void = () => {};
    const finish = (result: ExchangeResult, tearDown: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      if (tearDown) abort();
      resolve(result);
    };
    // One timer for the whole exchange, not an idle timeout: a byte every few seconds does not reset it.
    const deadline = setTimeout(() => finish({ error: 'timeout' }, true), limits.deadlineMs);
    deadline.unref();
    abort = transport.start(request, {
      head(status, headers) {
        head = { status, headers };
      },
      chunk(data) {
        size += data.length;
        if (size > limits.maxAnswerBytes) finish({ error: 'too_large' }, true);
        else chunks.push(data);
      },
      end() {
        if (head) finish({ ...head, body: Buffer.concat(chunks) }, false);
        else finish({ error: 'ECONNRESET' }, true);
      },
      error(code) {
        finish({ error: code }, true);
      },
    });
    if (settled) abort();
  });
}

/**
 * HTTP/1.1 over the given agents (keep-alive to the few push services most devices use, with the SSRF
 * lookup). Aborting destroys the request and with it the socket, so nothing more is read.
 */
export function http1Transport(agents: { 'https:': https.Agent; 'http:': http.Agent }): Transport {
  return {
    start({ url, headers, body }, events) {
      const module = url.protocol === 'https:' ? https : http;
      const req = module.request(url, { method: 'POST', headers, agent: agents[url.protocol as 'https:' | 'http:'] }, (res) => {
        events.head(res.statusCode ?? 0, res.headers);
        res.on('data', (chunk: Buffer) => events.chunk(chunk));
        res.on('end', () => events.end());
        res.on('error', (err: NodeJS.ErrnoException) => events.error(err.code ?? err.message));
        // A connection the push service closes mid-answer may end with 'close' alone: do not wait for the deadline.
        res.on('close', () => {
          if (!res.complete) events.error('ECONNRESET');
        });
      });
      req.on('error', (err: NodeJS.ErrnoException) => events.error(err.code === 'EPUSHBLOCKED' ? 'blocked' : (err.code ?? err.message)));
      req.end(body);
      return () => req.destroy();
    },
  };
}
