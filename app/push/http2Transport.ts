import http2 from 'node:http2';
import type { Transport } from './exchange.js';

/** An HTTP/2 transport that can be closed: its sessions live for the life of the app. */
export interface ClosableTransport extends Transport {
  close(): void;
}

/**
 * HTTP/2 over TLS to a few fixed hosts (APNs): one session per origin, reused for every request (Apple
 * asks providers to keep connections open rather than reconnect per push), opened again when the host
 * closes it (GOAWAY, idle) or it fails. Each exchange is one stream; aborting it resets only that
 * stream. `ca`: the roots to trust (PUSH_CA_FILE), else the system's. The hosts are the operator's
 * configuration, not a user's input, so no SSRF check applies here (docs/security.md).
 */
export function http2Transport(ca?: string[]): ClosableTransport {
  const sessions = new Map<string, http2.ClientHttp2Session>();
  const sessionFor = (origin: string): http2.ClientHttp2Session => {
    const open = sessions.get(origin);
    if (open && !open.closed && !open.destroyed) return open;
    const session = http2.connect(origin, ca ? { ca } : {});
    const forget = () => {
      if (sessions.get(origin) === session) sessions.delete(origin);
    };
    // A session's failure reaches each of its streams as that stream's error; here it only ends the session.
    session.on('error', forget);
    session.on('goaway', forget);
    session.on('close', forget);
    session.unref();
    sessions.set(origin, session);
    return session;
  };
  return {
    start({ url, headers, body }, events) {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = sessionFor(url.origin).request({ ':method': 'POST', ':path': url.pathname + url.search, ...lowercase(headers) });
      } catch (err) {
        events.error((err as NodeJS.ErrnoException).code ?? 'ERR_HTTP2');
        return () => {};
      }
      stream.on('response', (h) => events.head(Number(h[':status']), h));
      stream.on('data', (chunk: Buffer) => events.chunk(chunk));
      stream.on('end', () => events.end());
      stream.on('error', (err: NodeJS.ErrnoException) => events.error(err.code ?? err.message));
      // A stream reset by the server, or a session torn down mid-answer, may end with 'close' alone.
      stream.on('close', () => events.error('ECONNRESET'));
      stream.end(body);
      return () => {
        if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
      };
    },
    close() {
      for (const s of sessions.values()) s.destroy();
      sessions.clear();
    },
  };
}

/** HTTP/2 header names are lowercase on the wire. */
const lowercase = (headers: Record<string, string | number>) => Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
