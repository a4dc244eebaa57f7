import { describe, expect, it, jest } from '@jest/globals';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { useTestApp, withUsers } from '../helpers/perTest.js';
import { bearer, type TestUser } from '../helpers/factories.js';
import { send } from '../helpers/signaling.js';
import type { TestApp } from '../helpers/app.js';

/**
 * POST /signaling/send is answered outside Koa (app/http/lean.ts, its body read by app/http/leanBody.ts) for
 * speed (bench/README.md). As for the poll (leanPoll.test.ts), the Koa route is still there, so the same
 * request is put to the node:http handler and to Koa's own callback on the same app, and both must answer
 * the same bytes: status, every header in the same order (but Date), and body. Koa making a context is how
 * a test tells which of the two answered.
 */
const REQUEST_ID = 'lean-send-vs-koa-1';

interface Wire {
  status: number;
  headers: string[];
  text: string;
}

interface Ask {
  headers?: Record<string, string>;
  /** Bytes as sent; with `chunked`, in two chunks and without Content-Length. */
  body?: string | Buffer;
  path?: string;
  chunked?: boolean;
}

/** One POST over a real socket, with the exact headers and bytes given (no client library adding its own). */
async function post(handler: RequestListener, ask: Ask): Promise<Wire> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const body = ask.body === undefined ? undefined : Buffer.from(ask.body);
    const headers: Record<string, string> = { 'X-Request-Id': REQUEST_ID, 'Content-Type': 'application/json', ...ask.headers };
    if (body && !ask.chunked) headers['Content-Length'] ??= String(body.length);
    return await new Promise<Wire>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: ask.path ?? '/signaling/send', headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const raw = res.rawHeaders;
          const masked = raw.map((h, i) => (i % 2 === 1 && raw[i - 1]!.toLowerCase() === 'date' ? '<date>' : h));
          resolve({ status: res.statusCode ?? 0, headers: masked, text: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      if (body && ask.chunked) {
        req.write(body.subarray(0, 1));
        req.end(body.subarray(1));
      } else req.end(body);
    });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

/** The JSON text of a body object. */
const json = (value: unknown) => JSON.stringify(value);

/**
 * Both answers to one request, lean first, and whether Koa made a context for the first: a request the lean
 * route takes must not reach Koa at all.
 */
async function both(t: TestApp, ask: Ask): Promise<{ lean: Wire; koa: Wire; leanReachedKoa: boolean }> {
  const createContext = jest.spyOn(t.app.koa, 'createContext');
  try {
    const lean = await post(t.app.handler, ask);
    const leanReachedKoa = createContext.mock.calls.length > 0;
    const koa = await post(t.app.koa.callback(), ask);
    expect(createContext).toHaveBeenCalled(); // the spy does see Koa's requests
    return { lean, koa, leanReachedKoa };
  } finally {
    createContext.mockRestore();
  }
}

/** Asks both; they must answer the same bytes. Returns the lean answer and whether Koa answered it. */
async function sameBytes(t: TestApp, label: string, ask: Ask, mask: (w: Wire) => Wire = (w) => w) {
  const { lean, koa, leanReachedKoa } = await both(t, ask);
  expect({ label, ...mask(lean) }).toEqual({ label, ...mask(koa) });
  return { ...lean, body: lean.text ? (JSON.parse(lean.text) as Record<string, any>) : {}, servedLean: !leanReachedKoa };
}

/** A send's id is new on each path: masked (same length, so Content-Length still compares). */
const maskId = (w: Wire) => ({ ...w, text: w.text.replace(/"id":"[^"]*"/, '"id":"<id>"') });

const asUser = (user: TestUser | null, headers: Record<string, string> = {}) => ({ ...(user ? bearer(user) : {}), ...headers });

describe('POST /signaling/send outside Koa', () => {
  const t = useTestApp();
  const { alice, bob } = withUsers(t, 'alice', 'bob', { connected: true });
  const valid = () => ({ to: bob.username, type: 'offer', payload: 'ciphertext', sessionId: 'call-1' });

  it('answers a valid send 202 with the same bytes as the Koa route, without Koa', async () => {
    const res = await sameBytes(t, 'valid', { headers: asUser(alice), body: json(valid()) }, maskId);
    expect(res.status).toBe(202);
    expect(res.servedLean).toBe(true);
    expect(res.body).toEqual({ id: expect.any(String), expiresAt: expect.any(String), devices: 1, reachable: expect.any(Number) });
    const charset = await sameBytes(t, 'charset', { headers: asUser(alice, { 'Content-Type': 'application/json; charset=utf-8' }), body: json(valid()) }, maskId);
    expect(charset.servedLean).toBe(true);
    // A retry with an idempotency key answers the first send's own answer: the same bytes, id included.
    const first = await send(t, alice, bob, { idempotencyKey: 'k-1' });
    const retry = await sameBytes(t, 'retry', { headers: asUser(alice), body: json({ ...valid(), idempotencyKey: 'k-1' }) });
    expect(retry.body.id).toBe(first.body.id);
  });

  it('stores what the lean route accepted, for the recipient to poll', async () => {
    await sameBytes(t, 'stored', { headers: asUser(alice), body: json({ ...valid(), payload: 'é 🐱' }) }, maskId);
    const polled = await t.http.get('/signaling/poll').set(bearer(bob));
    const payloads = (polled.body as { signals: Array<{ payload: string }> }).signals.map((s) => s.payload);
    expect(payloads.filter((p) => p === 'é 🐱')).toHaveLength(2);
  });

  it('refuses each invalid field of sendBody with the same validation_failed details', async () => {
    const cases: Array<[string, Record<string, unknown>]> = [
      ['nothing', {}],
      ['no to', { type: 'offer', payload: 'x' }],
      ['bad to', { ...valid(), to: 'no spaces allowed' }],
      ['to not a string', { ...valid(), to: 7 }],
      ['empty toDevice', { ...valid(), toDevice: '' }],
      ['long toDevice', { ...valid(), toDevice: 'd'.repeat(65) }],
      ['unknown type', { ...valid(), type: 'hello' }],
      ['server event type', { ...valid(), type: 'connection.accepted' }],
      ['empty payload', { ...valid(), payload: '' }],
      ['payload not a string', { ...valid(), payload: { a: 1 } }],
      ['long sessionId', { ...valid(), sessionId: 's'.repeat(129) }],
      ['empty idempotencyKey', { ...valid(), idempotencyKey: '' }],
      ['long idempotencyKey', { ...valid(), idempotencyKey: 'k'.repeat(65) }],
      ['unknown field', { ...valid(), priority: 'high' }],
      ['several at once', { to: '', type: 'x', payload: 1, extra: true }],
    ];
    for (const [label, body] of cases) {
      const res = await sameBytes(t, label, { headers: asUser(alice), body: json(body) });
      expect({ label, status: res.status, code: res.body.error.code, servedLean: res.servedLean }).toEqual({
        label,
        status: 400,
        code: 'validation_failed',
        servedLean: true,
      });
      expect(res.body.error.details).toBeDefined();
    }
    // A top-level array parses (koa-body's strict mode takes objects and arrays) and is refused by the schema.
    const array = await sameBytes(t, '[]', { headers: asUser(alice), body: '[]' });
    expect([array.status, array.body.error.code, array.servedLean]).toEqual([400, 'validation_failed', true]);
  });

  it('answers bodies that are not a JSON object or array 400 invalid_json, as koa-body does', async () => {
    const bodies: Array<[string, string | Buffer]> = [
      ['truncated', '{"to":'],
      ['a string', '"x"'],
      ['a number', '12'],
      ['null', 'null'],
      ['blank', '   '],
      ['trailing bytes', `${json(valid())}x`],
      ['proto key', '{"__proto__":{"x":1}}'],
      ['escaped proto key, nested', '{"a":[{"\\u005f_proto__":{}}]}'],
      ['not UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d])],
    ];
    for (const [label, body] of bodies) {
      const res = await sameBytes(t, label, { headers: asUser(alice), body });
      expect({ label, status: res.status, code: res.body.error.code, servedLean: res.servedLean }).toEqual({
        label,
        status: 400,
        code: 'invalid_json',
        servedLean: true,
      });
    }
    // The body is read before the token is checked (jsonBody runs before the router): still 400, not 401.
    expect((await sameBytes(t, 'bad body, no token', { body: '"x"' })).status).toBe(400);
  });

  it('reads an empty body as {}, drops a byte-order mark and keeps a "__proto__" that is only a value', async () => {
    const empty = await sameBytes(t, 'empty', { headers: asUser(alice), body: '' });
    expect([empty.status, empty.body.error.code]).toEqual([400, 'validation_failed']);
    const bom = await sameBytes(t, 'bom', { headers: asUser(alice), body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json(valid()))]) }, maskId);
    expect([bom.status, bom.servedLean]).toEqual([202, true]);
    const value = await sameBytes(t, 'proto value', { headers: asUser(alice), body: json({ ...valid(), payload: '"__proto__": 1' }) }, maskId);
    expect([value.status, value.servedLean]).toEqual([202, true]);
  });

  it('takes a body of exactly MAX_BODY_BYTES and leaves one byte more to Koa (413), with the same bytes', async () => {
    const sized = (total: number) => {
      const empty = json({ ...valid(), payload: '' });
      return json({ ...valid(), payload: 'x'.repeat(total - Buffer.byteLength(empty)) });
    };
    const atLimit = await sameBytes(t, 'at the limit', { headers: asUser(alice), body: sized(t.config.maxBodyBytes) }, maskId);
    expect(atLimit.servedLean).toBe(true);
    const past = await sameBytes(t, 'one byte more', { headers: asUser(alice), body: sized(t.config.maxBodyBytes + 1) });
    expect([past.status, past.body.error.code, past.servedLean]).toEqual([413, 'payload_too_large', false]);
  });

  it('leaves to Koa what only Koa reads: another content type, an oversize or chunked body, a query string', async () => {
    const cases: Array<[string, Ask, number]> = [
      ['text/plain', { headers: asUser(alice, { 'Content-Type': 'text/plain' }), body: json(valid()) }, 415],
      ['no content type', { headers: asUser(alice, { 'Content-Type': '' }), body: json(valid()) }, 415],
      ['+json', { headers: asUser(alice, { 'Content-Type': 'application/vnd.api+json' }), body: json(valid()) }, 202],
      ['latin1', { headers: asUser(alice, { 'Content-Type': 'application/json; charset=latin1' }), body: json(valid()) }, 202],
      ['oversize', { headers: asUser(alice), body: json({ ...valid(), payload: 'x'.repeat(t.config.maxBodyBytes) }) }, 413],
      ['chunked', { headers: asUser(alice), body: json(valid()), chunked: true }, 202],
      ['chunked, invalid', { headers: asUser(alice), body: '"x"', chunked: true }, 400],
      ['query', { headers: asUser(alice), body: json(valid()), path: '/signaling/send?x=1' }, 202],
    ];
    for (const [label, ask, status] of cases) {
      const res = await sameBytes(t, label, ask, maskId);
      expect({ label, status: res.status, servedLean: res.servedLean }).toEqual({ label, status, servedLean: false });
    }
  });

  it('refuses a missing or bad token, a stranger and an unknown device with the same bytes', async () => {
    const cases: Array<[string, TestUser | null, Record<string, unknown>, number, string]> = [
      ['no token', null, valid(), 401, 'unauthorized'],
      ['forged token', { ...alice, accessToken: `${alice.accessToken}x` }, valid(), 401, 'unauthorized'],
      ['stranger', alice, { ...valid(), to: 'carol' }, 403, 'not_connected'],
      ['unknown device', alice, { ...valid(), toDevice: 'no-such-device' }, 404, 'not_found'],
    ];
    for (const [label, user, body, status, code] of cases) {
      const res = await sameBytes(t, label, { headers: asUser(user), body: json(body) });
      expect({ label, status: res.status, code: res.body.error.code, servedLean: res.servedLean }).toEqual({ label, status, code, servedLean: true });
    }
  });

  it('refuses an ended session at once, as every route does', async () => {
    expect((await t.http.post('/auth/logout').set(bearer(alice)).send({})).status).toBe(204);
    const res = await sameBytes(t, 'ended', { headers: asUser(alice), body: json(valid()) });
    expect([res.status, res.servedLean]).toEqual([401, true]);
  });

  it('writes the same log line and counts in the same metric series as the Koa route, unmatched for a refused body', async () => {
    const strip = ({ ms: _ms, time: _time, ...rest }: Record<string, unknown>) => rest;
    const requestLines = () => t.logs.filter((l) => l.msg === 'request' && l.requestId === REQUEST_ID);
    for (const [body, status, route] of [
      [json(valid()), 202, '/signaling/send'],
      ['{', 400, null],
    ] as const) {
      const before = requestLines().length;
      expect((await both(t, { headers: asUser(alice), body })).leanReachedKoa).toBe(false);
      const lines = requestLines().slice(before);
      expect(lines).toHaveLength(2);
      expect(strip(lines[0]!)).toEqual(strip(lines[1]!));
      expect(lines[0]).toMatchObject({ method: 'POST', route, status, ip: expect.any(String) });
    }
    const metrics = (await t.http.get('/metrics')).text;
    const count = (series: string) =>
      Number(
        metrics
          .split('\n')
          .find((l) => l.startsWith(`signalbox_http_requests_total{${series}}`))
          ?.split(' ')[1],
      );
    expect(count('method="POST",route="/signaling/send",status="202"')).toBe(2);
    expect(count('method="POST",route="unmatched",status="400"')).toBe(2);
  });

  it('answers a client that stops mid-body as Koa does: logged 400, nothing stored', async () => {
    const statusesLogged = async (handler: RequestListener) => {
      const server = createServer(handler);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const before = t.logs.length;
      try {
        const { port } = server.address() as AddressInfo;
        const headers: IncomingHttpHeaders = { ...asUser(alice), 'content-type': 'application/json', 'content-length': '100', 'x-request-id': 'gone-1' };
        const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/signaling/send', headers: headers as Record<string, string>, agent: false });
        req.on('error', () => undefined);
        req.write('{"to":');
        await new Promise((resolve) => setTimeout(resolve, 50));
        req.destroy();
        for (let i = 0; i < 100 && !t.logs.slice(before).some((l) => l.requestId === 'gone-1'); i++) await new Promise((resolve) => setTimeout(resolve, 10));
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
      return t.logs
        .slice(before)
        .filter((l) => l.requestId === 'gone-1')
        .map((l) => [l.route, l.status]);
    };
    const lean = await statusesLogged(t.app.handler);
    expect(lean).toEqual(await statusesLogged(t.app.koa.callback()));
    expect(lean).toEqual([[null, 400]]);
    const polled = await t.http.get('/signaling/poll').set(bearer(bob));
    // Signals only (a device sent them); the connection's server events are there too.
    expect((polled.body as { signals: Array<{ fromDevice: string | null }> }).signals.filter((s) => s.fromDevice !== null)).toEqual([]);
  });
});

describe('POST /signaling/send outside Koa, with a full mailbox and CORS origins listed', () => {
  const t = useTestApp({ env: { MAILBOX_PER_SENDER: '1', CORS_ORIGINS: 'https://app.example' } });
  const { alice, bob } = withUsers(t, 'alice', 'bob', { connected: true });

  it('answers mailbox_full with the same headers (Retry-After included) and the same CORS headers', async () => {
    expect((await send(t, alice, bob)).status).toBe(202);
    for (const origin of ['https://app.example', 'https://evil.example', '']) {
      const headers = asUser(alice, origin ? { Origin: origin } : {});
      const res = await sameBytes(t, `full, origin ${origin || 'none'}`, { headers, body: json({ to: bob.username, type: 'ice', payload: 'c' }) });
      expect({ status: res.status, code: res.body.error.code, servedLean: res.servedLean }).toEqual({ status: 429, code: 'mailbox_full', servedLean: true });
    }
  });
});
