import { createECDH, createHmac, createDecipheriv, createPublicKey, randomBytes, verify, type ECDH } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a receiver got: what the push service or gateway would see. */
export interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/**
 * A push service or gateway stand-in: a real HTTP server on 127.0.0.1 that records every request and
 * answers each with the next status of `statuses` (then 201, or `fallback`). Tests await `next()`.
 */
export class Receiver {
  readonly received: Received[] = [];
  private waiters: Array<() => void> = [];
  private server!: Server;
  statuses: number[] = [];
  fallback = 201;
  /** True: record requests and never answer them (a push service that hangs). */
  silent = false;
  /** Requests answered so far. */
  answered = 0;
  /** The JSON a gateway answers with (`{rejected: [...]}`). */
  answer: unknown = {};

  static async start(): Promise<Receiver> {
    const r = new Receiver();
    r.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        r.received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
        if (r.silent) {
          for (const w of r.waiters.splice(0)) w();
          return;
        }
        r.answered++;
        const status = r.statuses.shift() ?? r.fallback;
        res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(r.answer));
        for (const w of r.waiters.splice(0)) w();
      });
    });
    await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', resolve));
    return r;
  }

  get origin(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Resolves once `n` requests in all have arrived. */
  async count(n: number): Promise<Received[]> {
    while (this.received.length < n) await new Promise<void>((resolve) => this.waiters.push(resolve));
    return this.received;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A browser's side of a Web Push subscription: its P-256 key pair and auth secret (RFC 8291 "ua" keys). */
export class UserAgentKeys {
  readonly ecdh: ECDH = createECDH('prime256v1');
  readonly auth = randomBytes(16);
  readonly publicKey: Buffer;

  constructor() {
    this.publicKey = this.ecdh.generateKeys();
  }

  /** The PushSubscription JSON a browser would hand over for `endpoint`. */
  subscription(endpoint: string) {
    return { kind: 'webpush', endpoint, expirationTime: null, keys: { p256dh: this.publicKey.toString('base64url'), auth: this.auth.toString('base64url') } };
  }

  /**
   * Decrypts an RFC 8291 `aes128gcm` body (RFC 8188 framing, one record) written from scratch with
   * Node's HMAC and AES-GCM, independently of the library that encrypted it.
   */
  decrypt(body: Buffer): string {
    const salt = body.subarray(0, 16);
    const rs = body.readUInt32BE(16);
    const idlen = body[20]!;
    const asPublic = body.subarray(21, 21 + idlen);
    const ciphertext = body.subarray(21 + idlen);
    if (idlen !== 65 || ciphertext.length > rs) throw new Error('not a single-record aes128gcm body with a P-256 key id');
    const hmac = (key: Buffer, ...data: Buffer[]) => createHmac('sha256', key).update(Buffer.concat(data)).digest();
    const ecdhSecret = this.ecdh.computeSecret(asPublic);
    // RFC 8291 section 3.4: combine the ECDH secret with the auth secret, then RFC 8188's key and nonce.
    const prkKey = hmac(this.auth, ecdhSecret);
    const ikm = hmac(prkKey, Buffer.from('WebPush: info\0'), this.publicKey, asPublic, Buffer.from([1]));
    const prk = hmac(salt, ikm);
    const cek = hmac(prk, Buffer.from('Content-Encoding: aes128gcm\0'), Buffer.from([1])).subarray(0, 16);
    const nonce = hmac(prk, Buffer.from('Content-Encoding: nonce\0'), Buffer.from([1])).subarray(0, 12);
    const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
    decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
    const padded = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]);
    let end = padded.length - 1;
    while (end >= 0 && padded[end] === 0) end--;
    if (padded[end] !== 2) throw new Error('the last record must end with the delimiter 0x02');
    return padded.subarray(0, end).toString('utf8');
  }
}

/**
 * Checks an RFC 8292 `Authorization: vapid t=<JWT>, k=<key>` header with Node's crypto: the key is the
 * server's, the ES256 signature verifies against it, `aud` is the endpoint's origin, `exp` is within
 * 24 hours and `sub` is the configured contact. Returns the claims; throws on any failure.
 */
export function verifyVapid(header: string | undefined, expected: { publicKey: string; audience: string; subject: string; now?: number }) {
  const m = /^vapid t=([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+), k=([A-Za-z0-9_-]+)$/.exec(header ?? '');
  if (!m) throw new Error(`not a vapid Authorization header: ${header}`);
  const [jwt, k] = [m[1]!, m[2]!];
  if (k !== expected.publicKey) throw new Error('k is not the server VAPID public key');
  const [h, p, s] = jwt.split('.') as [string, string, string];
  const head = JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg: string; typ: string };
  if (head.alg !== 'ES256') throw new Error(`alg ${head.alg}`);
  const point = Buffer.from(k, 'base64url');
  const key = createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33, 65).toString('base64url') },
    format: 'jwk',
  });
  const ok = verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
  if (!ok) throw new Error('VAPID JWT signature does not verify');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as { aud: string; exp: number; sub: string };
  const now = (expected.now ?? Date.now()) / 1000;
  if (claims.aud !== expected.audience) throw new Error(`aud ${claims.aud}`);
  if (!(claims.exp > now && claims.exp <= now + 24 * 3600)) throw new Error(`exp ${claims.exp}`);
  if (claims.sub !== expected.subject) throw new Error(`sub ${claims.sub}`);
  return claims;
}

/**
 * A hostile push service that answers at once with 201 and its headers, then trickles its body one byte
 * every `everyMs` and never ends it: the request stays open until the server cuts it. Counts the requests
 * it holds open now and at most, and the ones the server closed.
 */
export class TrickleReceiver {
  requests = 0;
  open = 0;
  maxOpen = 0;
  /** Requests whose connection the server closed (while this was still trickling). */
  closed = 0;
  private waiters: Array<() => void> = [];
  private server!: Server;

  static async start(everyMs = 200): Promise<TrickleReceiver> {
    const r = new TrickleReceiver();
    r.server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        r.requests++;
        r.open++;
        r.maxOpen = Math.max(r.maxOpen, r.open);
        res.writeHead(201, { 'Content-Type': 'text/plain' });
        res.write('.');
        const timer = setInterval(() => res.write('.'), everyMs);
        res.on('close', () => {
          clearInterval(timer);
          r.open--;
          r.closed++;
          r.notify();
        });
        r.notify();
      });
    });
    await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', resolve));
    return r;
  }

  get origin(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Resolves once `test()` holds (checked after every request and every close). */
  async until(test: (r: TrickleReceiver) => boolean): Promise<void> {
    while (!test(this)) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * A hostile push service whose answer never ends: 200, then 1 KiB chunks as fast as the connection takes
 * them (waiting for `drain`, so what it counts is what went to the socket), up to `limitBytes`, then it
 * ends the answer. `written` lists, per request, the bytes the socket had written when it closed, and
 * whether the server closed it before the answer was complete.
 */
export class EndlessReceiver {
  readonly written: Array<{ bytes: number; cutBeforeEnd: boolean }> = [];
  private waiters: Array<() => void> = [];
  private server!: Server;

  static async start(limitBytes: number): Promise<EndlessReceiver> {
    const r = new EndlessReceiver();
    const chunk = Buffer.alloc(1024, 'x');
    r.server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        let sent = 0;
        let ended = false;
        const socket = res.socket!;
        const before = socket.bytesWritten;
        const pump = () => {
          if (res.destroyed) return;
          if (sent >= limitBytes) {
            ended = true;
            res.end();
            return;
          }
          sent += chunk.length;
          // One chunk per turn of the event loop, so the reader gets to read (and cut) between them.
          if (res.write(chunk)) setImmediate(pump);
          else res.once('drain', pump);
        };
        res.on('close', () => {
          r.written.push({ bytes: socket.bytesWritten - before, cutBeforeEnd: !ended });
          for (const w of r.waiters.splice(0)) w();
        });
        pump();
      });
    });
    await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', resolve));
    return r;
  }

  get origin(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Resolves once `n` answers have closed. */
  async count(n: number): Promise<EndlessReceiver['written']> {
    while (this.written.length < n) await new Promise<void>((resolve) => this.waiters.push(resolve));
    return this.written;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
