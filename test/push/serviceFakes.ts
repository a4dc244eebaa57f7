import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { jwtVerify, type JWTPayload } from 'jose';

type KeyLike = KeyObject;

/**
 * Local stand-ins for Apple's and Google's push services, on 127.0.0.1 over TLS with the test-only
 * certificate in test/fixtures/tls (the server under test trusts it through PUSH_CA_FILE). Each checks
 * what the real service checks before it accepts a push, and records what it saw and any problem, so a
 * test asserts on the wire, not on our sender's internals.
 */
export const TLS_DIR = join(process.cwd(), 'test', 'fixtures', 'tls');
export const TEST_CA_FILE = join(TLS_DIR, 'localhost-cert.pem');
const tlsIdentity = () => ({ key: readFileSync(join(TLS_DIR, 'localhost-key.pem')), cert: readFileSync(TEST_CA_FILE) });

export interface ApnsReceived {
  path: string;
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
  /** The provider token as sent, and its verified claims (null when it did not verify). */
  jwt: string | null;
  claims: JWTPayload | null;
  /** performance.now() when the request ended: latency figures. */
  at: number;
}

/**
 * APNs (Apple, "Sending notification requests to APNs"): HTTP/2 only, `POST /3/device/<hex token>`, a
 * provider token `bearer <ES256 JWT>` with `kid` and `iss`/`iat` that verifies against the team key's
 * public half and is under an hour old; answers 200 with `apns-id`, or the next of `answers`
 * (`{status, reason}` as APNs words them: 410 Unregistered, 400 BadDeviceToken, 403 ExpiredProviderToken).
 */
export class ApnsFake {
  readonly received: ApnsReceived[] = [];
  readonly problems: string[] = [];
  answers: Array<{ status: number; reason: string }> = [];
  /** False: skip the signature check (bench: its CPU is the fake's, not the server's). */
  verify = true;
  private server!: http2.Http2SecureServer;
  private waiters: Array<() => void> = [];
  /** Open client sessions: closing the fake ends them, as a service going away would, instead of waiting for the client. */
  private readonly sessions = new Set<http2.ServerHttp2Session>();

  private constructor(
    private readonly publicKey: KeyLike | Uint8Array,
    private readonly keyId: string,
    private readonly teamId: string,
  ) {}

  static async start(publicKey: KeyLike | Uint8Array, keyId: string, teamId: string): Promise<ApnsFake> {
    const f = new ApnsFake(publicKey, keyId, teamId);
    f.server = http2.createSecureServer({ ...tlsIdentity(), allowHTTP1: false });
    f.server.on('session', (session) => {
      f.sessions.add(session);
      session.on('close', () => f.sessions.delete(session));
    });
    f.server.on('stream', (stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => void f.handle(stream, headers, Buffer.concat(chunks)));
    });
    await new Promise<void>((resolve) => f.server.listen(0, '127.0.0.1', resolve));
    return f;
  }

  get origin(): string {
    return `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Distinct provider tokens seen: one for many pushes. */
  get distinctTokens(): number {
    return new Set(this.received.map((r) => r.jwt)).size;
  }

  async count(n: number): Promise<ApnsReceived[]> {
    while (this.received.length < n) await new Promise<void>((resolve) => this.waiters.push(resolve));
    return this.received;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const session of this.sessions) session.destroy();
    await closed;
  }

  private async handle(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, body: Buffer): Promise<void> {
    const path = String(headers[':path']);
    const auth = headers.authorization ?? '';
    const jwt = auth.startsWith('bearer ') ? auth.slice('bearer '.length) : null;
    let claims: JWTPayload | null = null;
    let refusal: { status: number; reason: string } | null = null;
    if (headers[':method'] !== 'POST') refusal = { status: 405, reason: 'MethodNotAllowed' };
    else if (!/^\/3\/device\/[0-9a-f]{64,200}$/.test(path)) refusal = { status: 400, reason: 'BadDeviceToken' };
    else if (!jwt) refusal = { status: 403, reason: 'MissingProviderToken' };
    else if (this.verify) {
      try {
        const verified = await jwtVerify(jwt, this.publicKey, { algorithms: ['ES256'], issuer: this.teamId, maxTokenAge: '1h' });
        if (verified.protectedHeader.kid !== this.keyId) throw new Error('kid');
        claims = verified.payload;
      } catch {
        refusal = { status: 403, reason: 'InvalidProviderToken' };
      }
    }
    if (!refusal) {
      const type = headers['apns-push-type'];
      const priority = headers['apns-priority'];
      if (type !== 'voip' && type !== 'background') this.problems.push(`apns-push-type ${String(type)}`);
      if (type === 'background' && priority !== '5') this.problems.push('priority 10 on a background push');
      if (!/^\d+$/.test(String(headers['apns-expiration']))) this.problems.push('no apns-expiration');
      if (!headers['apns-topic']) refusal = { status: 400, reason: 'MissingTopic' };
      try {
        JSON.parse(body.toString('utf8'));
      } catch {
        refusal = { status: 400, reason: 'PayloadEmpty' };
      }
    }
    this.received.push({ path, headers, body, jwt, claims, at: performance.now() });
    const answer = refusal ?? this.answers.shift() ?? null;
    if (refusal) this.problems.push(`refused: ${refusal.reason}`);
    if (answer) {
      stream.respond({ ':status': answer.status, 'apns-id': 'fake-id', 'content-type': 'application/json' });
      stream.end(JSON.stringify(answer.status === 410 ? { reason: answer.reason, timestamp: Date.now() } : { reason: answer.reason }));
    } else {
      stream.respond({ ':status': 200, 'apns-id': 'fake-id' });
      stream.end();
    }
    for (const w of this.waiters.splice(0)) w();
  }
}

export interface FcmReceived {
  path: string;
  headers: import('node:http').IncomingHttpHeaders;
  body: Buffer;
  at: number;
}

/**
 * Google's OAuth2 token endpoint and FCM HTTP v1 in one HTTPS server. `/token`: the RFC 7523 JWT bearer
 * grant (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`, `assertion` an RS256 JWT from the
 * service account: `iss` its client_email, `aud` the token_uri, the firebase.messaging scope, at most an
 * hour) answers an access token. `/v1/projects/<id>/messages:send`: a live access token as Bearer, and
 * a message with `token`, `data` of strings and `android`; answers `{name}`, or the next of `answers`
 * (Google's error JSON).
 */
export class FcmFake {
  readonly received: FcmReceived[] = [];
  readonly problems: string[] = [];
  /** Access tokens issued, with when each lapses (fake time: `expiresIn` seconds from issue). */
  readonly issued = new Map<string, number>();
  grants = 0;
  expiresIn = 3600;
  answers: Array<{ status: number; error: Record<string, unknown> }> = [];
  private server!: https.Server;
  private waiters: Array<() => void> = [];

  private constructor(
    private readonly publicKey: KeyLike | Uint8Array,
    private readonly clientEmail: string,
    readonly projectId: string,
  ) {}

  static async start(publicKey: KeyLike | Uint8Array, clientEmail: string, projectId: string): Promise<FcmFake> {
    const f = new FcmFake(publicKey, clientEmail, projectId);
    f.server = https.createServer(tlsIdentity(), (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => void f.handle(req, res, Buffer.concat(chunks)));
    });
    await new Promise<void>((resolve) => f.server.listen(0, '127.0.0.1', resolve));
    return f;
  }

  get origin(): string {
    return `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get tokenUri(): string {
    return `${this.origin}/token`;
  }

  /** Lapses every access token issued so far (as if its hour were over). */
  expireTokens(): void {
    for (const t of this.issued.keys()) this.issued.set(t, 0);
  }

  async count(n: number): Promise<FcmReceived[]> {
    while (this.received.length < n) await new Promise<void>((resolve) => this.waiters.push(resolve));
    return this.received;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private json(res: import('node:http').ServerResponse, status: number, body: unknown) {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  private async handle(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, body: Buffer): Promise<void> {
    const path = req.url ?? '';
    if (path === '/token') {
      const form = new URLSearchParams(body.toString('utf8'));
      if (req.method !== 'POST' || form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer' || !form.get('assertion')) {
        this.problems.push('bad grant');
        this.json(res, 400, { error: 'invalid_grant' });
        return;
      }
      try {
        const { payload } = await jwtVerify(form.get('assertion')!, this.publicKey, { algorithms: ['RS256'], issuer: this.clientEmail, audience: this.tokenUri });
        if (payload.scope !== 'https://www.googleapis.com/auth/firebase.messaging') throw new Error('scope');
        if (typeof payload.iat !== 'number' || typeof payload.exp !== 'number' || payload.exp - payload.iat > 3600) throw new Error('lifetime');
      } catch (err) {
        this.problems.push(`assertion: ${(err as Error).message}`);
        this.json(res, 400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
        return;
      }
      this.grants++;
      const token = `ya29.fake-${this.grants}`;
      this.issued.set(token, Date.now() + this.expiresIn * 1000);
      this.json(res, 200, { access_token: token, expires_in: this.expiresIn, token_type: 'Bearer' });
      return;
    }
    if (path !== `/v1/projects/${this.projectId}/messages:send` || req.method !== 'POST') {
      this.problems.push(`path ${path}`);
      this.json(res, 404, { error: { code: 404, message: 'Not found', status: 'NOT_FOUND' } });
      return;
    }
    const bearer = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    const until = this.issued.get(bearer);
    this.received.push({ path, headers: req.headers, body, at: performance.now() });
    const done = () => {
      for (const w of this.waiters.splice(0)) w();
    };
    if (until === undefined || until <= Date.now()) {
      this.json(res, 401, { error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' } });
      done();
      return;
    }
    let message: { token?: unknown; data?: Record<string, unknown>; android?: unknown } | undefined;
    try {
      message = (JSON.parse(body.toString('utf8')) as { message?: typeof message }).message;
    } catch {
      // below
    }
    if (!message || typeof message.token !== 'string' || !message.data || Object.values(message.data).some((v) => typeof v !== 'string')) {
      this.problems.push('bad message');
      this.json(res, 400, {
        error: {
          code: 400,
          message: 'Invalid JSON payload received.',
          status: 'INVALID_ARGUMENT',
          details: [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: 'message.data' }] }],
        },
      });
      done();
      return;
    }
    const answer = this.answers.shift();
    if (answer) this.json(res, answer.status, { error: answer.error });
    else this.json(res, 200, { name: `projects/${this.projectId}/messages/0:${this.received.length}` });
    done();
  }
}

/** Google's answer for a token whose app is gone (FCM v1 ErrorCode UNREGISTERED). */
export const FCM_UNREGISTERED = {
  status: 404,
  error: {
    code: 404,
    message: 'Requested entity was not found.',
    status: 'NOT_FOUND',
    details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: 'UNREGISTERED' }],
  },
};

/** Google's answer for a malformed registration token. */
export const FCM_INVALID_TOKEN = {
  status: 400,
  error: {
    code: 400,
    message: 'The registration token is not a valid FCM registration token',
    status: 'INVALID_ARGUMENT',
    details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: 'INVALID_ARGUMENT' }],
  },
};
