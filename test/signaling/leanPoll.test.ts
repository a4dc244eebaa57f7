import { describe, expect, it } from '@jest/globals';
import request, { type Response } from 'supertest';
import { useTestApp, withUsers } from '../helpers/perTest.js';
import { bearer, type TestUser } from '../helpers/factories.js';
import { clearMailbox, metricValue, send } from '../helpers/signaling.js';
import type { TestApp } from '../helpers/app.js';

/**
 * GET /signaling/poll is answered outside Koa (app/http/lean.ts) for speed (bench/README.md). The Koa route is
 * still there (it answers whatever the lean route leaves to it), so the two can be asked the same thing
 * on the same app and state, and must answer the same bytes: status, every header in the same order
 * (but Date), and body.
 */
const REQUEST_ID = 'lean-vs-koa-1';

/** Both answers to one GET; `path` under /signaling/poll. */
async function both(t: TestApp, path: string, headers: Record<string, string>): Promise<[Response, Response]> {
  const koaOnly = request(t.app.koa.callback());
  const lean = request(t.app.handler);
  const ask = (agent: typeof lean) => {
    let req = agent.get(path).set('X-Request-Id', REQUEST_ID);
    for (const [k, v] of Object.entries(headers)) req = req.set(k, v);
    return req.then((r) => r);
  };
  return [await ask(lean), await ask(koaOnly)];
}

/** Status, raw headers in order (Date's value masked) and the body's exact text. */
const wire = (r: Response) => {
  const raw = (r as unknown as { res: { rawHeaders: string[] } }).res.rawHeaders;
  return { status: r.status, headers: raw.map((h, i) => (i % 2 === 1 && raw[i - 1]!.toLowerCase() === 'date' ? '<date>' : h)), text: r.text };
};

function sameBytes(t: TestApp, label: string, path: string, user: TestUser | null, extra: Record<string, string> = {}) {
  return async () => {
    const [lean, koa] = await both(t, path, { ...(user ? bearer(user) : {}), ...extra });
    expect({ label, ...wire(lean) }).toEqual({ label, ...wire(koa) });
    return lean;
  };
}

describe('GET /signaling/poll outside Koa', () => {
  const t = useTestApp();
  const { alice, bob } = withUsers(t, 'alice', 'bob', { connected: true });

  it('answers an empty short poll with the same bytes as the Koa route', async () => {
    await request(t.app.handler).get('/signaling/poll').set(bearer(bob)); // the connection event, seen once
    const lean = await sameBytes(t, 'empty', '/signaling/poll', alice)();
    expect(lean.status).toBe(200);
    expect(lean.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(lean.headers['x-request-id']).toBe(REQUEST_ID);
  });

  it('answers pending signals with the same bytes (nothing acknowledged, so both see them)', async () => {
    expect((await send(t, alice, bob, { payload: 'one' })).status).toBe(202);
    expect((await send(t, alice, bob, { payload: 'two', sessionId: 'call-1' })).status).toBe(202);
    const lean = await sameBytes(t, 'pending', '/signaling/poll?wait=0', bob)();
    expect(lean.body.signals.map((s: { payload: string }) => s.payload)).toEqual(expect.arrayContaining(['one', 'two']));
  });

  it('answers a bad cursor, a bad query and a bad token with the same bytes', async () => {
    const bad = await sameBytes(t, 'cursor', '/signaling/poll?after=1.AAAAAAAAAAAAAAAA', alice)();
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_failed');
    expect((await sameBytes(t, 'unknown key', '/signaling/poll?since=1', alice)()).status).toBe(400);
    expect((await sameBytes(t, 'wait too long', '/signaling/poll?wait=31', alice)()).status).toBe(400);
    expect((await sameBytes(t, 'repeated key', '/signaling/poll?wait=1&wait=2', alice)()).status).toBe(400);
    expect((await sameBytes(t, 'no token', '/signaling/poll', null)()).status).toBe(401);
    expect((await sameBytes(t, 'forged token', '/signaling/poll', { ...alice, accessToken: `${alice.accessToken}x` })()).status).toBe(401);
  });

  it('refuses an ended session at once, as every route does', async () => {
    expect((await request(t.app.handler).post('/auth/logout').set(bearer(alice)).send({})).status).toBe(204);
    const res = await sameBytes(t, 'ended', '/signaling/poll', alice)();
    expect(res.status).toBe(401);
  });

  it('writes the same log line and counts in the same metric series as the Koa route', async () => {
    await both(t, '/signaling/poll', bearer(alice));
    const lines = t.logs.filter((l) => l.msg === 'request' && l.route === '/signaling/poll').slice(-2);
    const strip = ({ ms: _ms, time: _time, ...rest }: Record<string, unknown>) => rest;
    expect(lines).toHaveLength(2);
    expect(strip(lines[0]!)).toEqual(strip(lines[1]!));
    expect(lines[0]).toMatchObject({ requestId: REQUEST_ID, method: 'GET', status: 200, ip: expect.any(String) });
    const metrics = (await t.http.get('/metrics')).text;
    const count = metrics.split('\n').find((l) => l.startsWith('signalbox_http_requests_total{method="GET",route="/signaling/poll",status="200"}'));
    expect(count).toBeDefined();
    expect(Number(count!.split(' ')[1])).toBe(2);
  });

  it('names a held poll that brought no X-Request-Id once it answers: a fresh id in its header and its log line, after a wake-up or a refusal', async () => {
    const held = async (n: number) => {
      while ((await metricValue(t, 'signalbox_held_polls')) !== n) await new Promise((r) => setTimeout(r, 5));
    };
    await clearMailbox(t, alice);
    await clearMailbox(t, bob);
    const woken = request(t.app.handler)
      .get('/signaling/poll?wait=30')
      .set(bearer(bob))
      .then((r) => r);
    await held(1);
    expect((await send(t, alice, bob, { payload: 'wake' })).status).toBe(202);
    const wokenAnswer = await woken;
    await held(0);
    const ended = request(t.app.handler)
      .get('/signaling/poll?wait=30')
      .set(bearer(alice))
      .then((r) => r);
    await held(1);
    expect((await request(t.app.handler).post('/auth/logout').set(bearer(alice)).send({})).status).toBe(204);
    const answers = [wokenAnswer, await ended];
    expect(answers.map((r) => r.status)).toEqual([200, 401]);
    const ids = answers.map((r) => r.headers['x-request-id'] as string);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(ids[0]).not.toBe(ids[1]);
    const logged = t.logs.filter((l) => l.msg === 'request' && l.route === '/signaling/poll').map((l) => l.requestId);
    expect(logged).toEqual(expect.arrayContaining(ids));
  });
});

describe('GET /signaling/poll outside Koa, with CORS origins listed', () => {
  const t = useTestApp({ env: { CORS_ORIGINS: 'https://app.example' } });
  const { alice } = withUsers(t, 'alice');

  it('sends the same CORS headers for a listed origin, an unlisted one and none', async () => {
    for (const origin of ['https://app.example', 'https://evil.example', '']) {
      const res = await sameBytes(t, `origin ${origin || 'none'}`, '/signaling/poll', alice, origin ? { Origin: origin } : {})();
      expect(res.headers.vary).toBe('Origin');
    }
  });
});
