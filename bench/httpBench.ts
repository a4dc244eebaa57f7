import { request as httpRequest, type Agent, type IncomingMessage } from 'node:http';

// What the HTTP-driven benches (signaling.ts, sendFanout.ts) share: plain node:http requests over a
// chosen keep-alive agent (no client library between the timer and the socket), and their statistics.

export interface Reply {
  status: number;
  body: string;
}

/** One HTTP request to 127.0.0.1:`port` over `agent`; resolves with the whole body. */
export function call(agent: Agent, port: number, method: string, path: string, opts: { token?: string; body?: unknown } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const headers: Record<string, string> = {};
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const req = httpRequest({ host: '127.0.0.1', port, method, path, agent, headers }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** The reply's JSON body when its status is `status`; otherwise stops the bench naming `what`. */
export const expect = (r: Reply, status: number, what: string) => {
  if (r.status !== status) throw new Error(`${what}: expected ${status}, got ${r.status} ${r.body.slice(0, 200)}`);
  return r.body ? (JSON.parse(r.body) as Record<string, unknown>) : {};
};

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** The nearest-rank percentile; NaN for no samples. */
export const percentile = (xs: number[], p: number) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};

/** Milliseconds, monotonic, sub-microsecond resolution. */
export const hr = () => Number(process.hrtime.bigint()) / 1e6;
