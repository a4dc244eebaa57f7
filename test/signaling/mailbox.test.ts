import { beforeEach, describe, expect, it } from '@jest/globals';
import { makeTestApp } from '../helpers/app.js';
import { connect, removeConnection } from '../helpers/connections.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { useTestApp, withUser } from '../helpers/perTest.js';
import { connectQuietly, deviceIdOf, payloads, poll, send } from '../helpers/signaling.js';

const t = useTestApp({ env: { MAILBOX_MAX: '5', SIGNAL_MAX_BYTES: '64' } });
const alice = withUser(t);
const bob = withUser(t);
beforeEach(() => connectQuietly(t, alice, bob));

describe('POST /signaling/send', () => {
  it('answers 202 with an id, the expiry SIGNAL_TTL ahead and how many devices stored it', async () => {
    const res = await send(t, alice, bob);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ id: expect.any(String), expiresAt: '2026-06-01T12:05:00.000Z', devices: 1, reachable: 1 });
  });

  it('delivers what was sent, with sender, sending device, type, session id and times', async () => {
    const sent = await send(t, alice, bob, { type: 'answer', payload: 'opaque', sessionId: 'call-1' });
    const res = await poll(t, bob);
    expect(res.status).toBe(200);
    expect(res.body.signals).toEqual([
      {
        id: sent.body.id,
        from: alice.username,
        fromDevice: await deviceIdOf(t, alice),
        type: 'answer',
        payload: 'opaque',
        sessionId: 'call-1',
        createdAt: '2026-06-01T12:00:00.000Z',
        expiresAt: '2026-06-01T12:05:00.000Z',
      },
    ]);
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('accepts a leading @ on the recipient', async () => {
    expect((await send(t, alice, { username: `@${bob.username.toUpperCase()}` })).status).toBe(202);
  });

  it.each(['offer', 'answer', 'ice', 'bye', 'custom'])('accepts the type %s', async (type) => {
    expect((await send(t, alice, bob, { type })).status).toBe(202);
  });

  it('stores the payload byte for byte, whatever it looks like', async () => {
    const odd = '$gt {"json":true} \u0000 ünïcödé 🚀';
    await send(t, alice, bob, { payload: odd });
    expect(payloads(await poll(t, bob))).toEqual([odd]);
  });

  it('answers an unknown recipient exactly like an unconnected one: 403 not_connected', async () => {
    const carol = await registerUser(t);
    const unconnected = await send(t, alice, carol);
    const unknown = await send(t, alice, { username: 'nobody_at_all' });
    expect(unconnected.status).toBe(403);
    expect(unconnected.body.error.code).toBe('not_connected');
    expect(unknown.status).toBe(unconnected.status);
    expect(unknown.body).toEqual(unconnected.body);
  });

  it('refuses a pending (not yet accepted) request as not_connected', async () => {
    const carol = await registerUser(t);
    await t.http.post('/connections/request').set(bearer(alice)).send({ username: carol.username });
    expect((await send(t, alice, carol)).status).toBe(403);
    expect((await send(t, carol, alice)).status).toBe(403);
  });

  it('takes a send to oneself without a connection; with no other device it reaches none', async () => {
    const res = await send(t, alice, alice);
    expect(res.status).toBe(202);
    expect(res.body.devices).toBe(0);
    expect(payloads(await poll(t, alice))).toEqual([]);
  });

  it('stops delivery rights once the connection is removed', async () => {
    await removeConnection(t, alice, bob);
    expect((await send(t, alice, bob)).status).toBe(403);
    expect((await send(t, bob, alice)).status).toBe(403);
  });

  it('refuses a payload over SIGNAL_MAX_BYTES counted in UTF-8 bytes', async () => {
    expect((await send(t, alice, bob, { payload: 'x'.repeat(64) })).status).toBe(202);
    const res = await send(t, alice, bob, { payload: 'é'.repeat(33) }); // 66 bytes, 33 characters
    expect(res.status).toBe(400);
    expect(res.body.error.details.fields).toEqual([expect.objectContaining({ field: 'payload' })]);
  });

  it.each([
    ['an empty payload', { payload: '' }],
    ['a non-string payload', { payload: { sdp: 'x' } }],
    ['an unknown type', { type: 'hello' }],
    ['a sessionId over 128 characters', { sessionId: 's'.repeat(129) }],
    ['an unknown field', { priority: 1 }],
    ['an operator object as recipient', { to: { $ne: '' } }],
  ])('refuses %s with 400 validation_failed', async (_label, body) => {
    const res = await send(t, alice, bob, body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
  });

  it('answers 429 mailbox_full once the recipient holds MAILBOX_MAX pending signals', async () => {
    for (let i = 0; i < 5; i++) expect((await send(t, alice, bob, { payload: `s${i}` })).status).toBe(202);
    const res = await send(t, alice, bob, { payload: 'one too many' });
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe('mailbox_full');
    expect(res.headers['retry-after']).toBeDefined();
    expect(payloads(await poll(t, bob))).toEqual(['s0', 's1', 's2', 's3', 's4']);
  });

  it('accepts sends again once the recipient acknowledged', async () => {
    for (let i = 0; i < 5; i++) await send(t, alice, bob);
    const { cursor } = (await poll(t, bob)).body;
    await poll(t, bob, { after: cursor });
    expect((await send(t, alice, bob)).status).toBe(202);
  });

  it('is rate limited per sender', async () => {
    const limited = makeTestApp({ env: { RATE_SEND_USER: '2/60' } });
    try {
      const a = await registerUser(limited);
      const b = await registerUser(limited);
      await connect(limited, a, b);
      await send(limited, a, b);
      await send(limited, a, b);
      const res = await send(limited, a, b);
      expect(res.status).toBe(429);
      expect(res.body.error.code).toBe('rate_limited');
    } finally {
      await limited.close();
    }
  });
});

describe('GET /signaling/poll', () => {
  it('answers an empty mailbox with no signals and a cursor', async () => {
    const res = await poll(t, bob);
    expect(res.body).toEqual({ signals: [], cursor: expect.any(String) });
  });

  it('delivers in send order', async () => {
    for (let i = 0; i < 5; i++) await send(t, alice, bob, { payload: `p${i}` });
    expect(payloads(await poll(t, bob))).toEqual(['p0', 'p1', 'p2', 'p3', 'p4']);
  });

  it('keeps order across many sends from both directions of several senders', async () => {
    const many = makeTestApp({ env: { MAILBOX_MAX: '500' } });
    try {
      const [a, b, c] = [await registerUser(many), await registerUser(many), await registerUser(many)];
      await connectQuietly(many, a, c);
      await connectQuietly(many, b, c);
      const sent: string[] = [];
      for (let i = 0; i < 150; i++) {
        const from = i % 2 === 0 ? a : b;
        sent.push(`${i}`);
        expect((await send(many, from, c, { payload: `${i}` })).status).toBe(202);
      }
      const received: string[] = [];
      let after: string | undefined;
      for (;;) {
        const res = await poll(many, c, after === undefined ? {} : { after });
        if (res.body.signals.length === 0) break;
        received.push(...payloads(res));
        after = res.body.cursor;
      }
      expect(received).toEqual(sent);
    } finally {
      await many.close();
    }
  });

  it('delivers again what was not acknowledged', async () => {
    await send(t, alice, bob, { payload: 'again' });
    expect(payloads(await poll(t, bob))).toEqual(['again']);
    expect(payloads(await poll(t, bob))).toEqual(['again']);
  });

  it('acknowledges with after=cursor: those signals are gone for good, later ones come', async () => {
    await send(t, alice, bob, { payload: 'first' });
    const { cursor } = (await poll(t, bob)).body;
    await send(t, alice, bob, { payload: 'second' });
    expect(payloads(await poll(t, bob, { after: cursor }))).toEqual(['second']);
    expect(payloads(await poll(t, bob, { after: cursor }))).toEqual(['second']);
  });

  it('never acknowledges a signal sent after the cursor was handed out', async () => {
    const empty = (await poll(t, bob)).body.cursor;
    await send(t, alice, bob, { payload: 'late' });
    expect(payloads(await poll(t, bob, { after: empty }))).toEqual(['late']);
  });

  it.each([
    ['garbage', 'not-a-cursor'],
    ['a made-up number', '5.AAAAAAAAAAAAAAAA'],
    ['a negative number', '-1.AAAAAAAAAAAAAAAA'],
  ])('refuses %s as cursor with 400', async (_label, after) => {
    const res = await poll(t, bob, { after });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
  });

  it("refuses another user's cursor with 400 and acknowledges nothing", async () => {
    await send(t, bob, alice, { payload: 'for alice' });
    await send(t, alice, bob, { payload: 'for bob' });
    const bobsCursor = (await poll(t, bob)).body.cursor;
    const res = await poll(t, alice, { after: bobsCursor });
    expect(res.status).toBe(400);
    expect(payloads(await poll(t, alice))).toEqual(['for alice']);
  });

  it.each([['31'], ['-1'], ['1.5'], ['soon']])('refuses wait=%s with 400', async (wait) => {
    const res = await t.http.get(`/signaling/poll?wait=${wait}`).set(bearer(bob));
    expect(res.status).toBe(400);
  });

  it('forgets signals after SIGNAL_TTL', async () => {
    await send(t, alice, bob, { payload: 'stale' });
    t.clock.advance(300);
    expect(payloads(await poll(t, bob))).toEqual([]);
  });

  it('still delivers a signal just before SIGNAL_TTL', async () => {
    await send(t, alice, bob, { payload: 'fresh' });
    t.clock.advance(299);
    expect(payloads(await poll(t, bob))).toEqual(['fresh']);
  });

  it('frees mailbox room as signals expire', async () => {
    for (let i = 0; i < 5; i++) await send(t, alice, bob);
    t.clock.advance(300);
    expect((await send(t, alice, bob)).status).toBe(202);
  });

  it('needs a valid access token', async () => {
    expect((await t.http.get('/signaling/poll')).status).toBe(401);
  });
});

describe('POST /signaling/ack', () => {
  it('removes everything up to the cursor', async () => {
    await send(t, alice, bob, { payload: 'a' });
    await send(t, alice, bob, { payload: 'b' });
    const { cursor } = (await poll(t, bob)).body;
    await send(t, alice, bob, { payload: 'c' });
    expect((await t.http.post('/signaling/ack').set(bearer(bob)).send({ upTo: cursor })).status).toBe(204);
    expect(payloads(await poll(t, bob))).toEqual(['c']);
  });

  it("refuses another user's cursor with 400", async () => {
    const alicesCursor = (await poll(t, alice)).body.cursor;
    const res = await t.http.post('/signaling/ack').set(bearer(bob)).send({ upTo: alicesCursor });
    expect(res.status).toBe(400);
  });

  it.each([
    ['a missing upTo', {}],
    ['a number', { upTo: 5 }],
    ['garbage', { upTo: 'zzz' }],
  ])('refuses %s with 400', async (_label, body) => {
    expect((await t.http.post('/signaling/ack').set(bearer(bob)).send(body)).status).toBe(400);
  });
});

describe('DELETE /signaling/clear', () => {
  it('drops every pending signal of the caller only', async () => {
    await send(t, alice, bob, { payload: 'for bob' });
    await send(t, bob, alice, { payload: 'for alice' });
    expect((await t.http.delete('/signaling/clear').set(bearer(bob))).status).toBe(204);
    expect(payloads(await poll(t, bob))).toEqual([]);
    expect(payloads(await poll(t, alice))).toEqual(['for alice']);
  });
});

describe('account deletion', () => {
  it("drops the deleted user's mailbox and the signals they had sent", async () => {
    await send(t, alice, bob, { payload: 'from alice' });
    await send(t, bob, alice, { payload: 'from bob' });
    const res = await t.http.delete('/users/me').set(bearer(alice)).send({ password: alice.password });
    expect(res.status).toBe(204);
    expect(payloads(await poll(t, bob))).toEqual([]);
    expect(await t.store.signals.countPending(new Date(t.clock.now()))).toBe(0);
  });
});
