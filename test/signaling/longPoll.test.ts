import { request as httpRequest, createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { WAIT_TICK_MS } from '../../app/signaling/notifier.js';
import { bearer, registerUser, signIn } from '../helpers/factories.js';
import { useTestApp, withUser } from '../helpers/perTest.js';
import { connectQuietly, metricValue, payloads, poll, send } from '../helpers/signaling.js';

// Held polls wait on a ManualScheduler: a test that needs a wait to run out moves its time (t.scheduler) past
// the wait and one tick of the notifier's wheel, the most a wait may overrun.
const t = useTestApp({ env: { MAILBOX_MAX: '1000' }, manualScheduler: true });
const alice = withUser(t);
const bob = withUser(t);
beforeEach(() => connectQuietly(t, alice, bob));

/** Resolves once the app reports `n` held polls (the poll is registered and waiting). */
async function heldPolls(n: number): Promise<void> {
  while ((await metricValue(t, 'signalbox_held_polls')) !== n) await new Promise((r) => setTimeout(r, 5));
}

describe('GET /signaling/poll?wait=', () => {
  it('holds an empty mailbox and answers as soon as a signal arrives', async () => {
    const held = poll(t, bob, { wait: 30 });
    await heldPolls(1);
    await send(t, alice, bob, { payload: 'wake up' });
    const res = await held;
    expect(res.status).toBe(200);
    expect(payloads(res)).toEqual(['wake up']);
    expect(await metricValue(t, 'signalbox_held_polls')).toBe(0);
  });

  it('answers at once without waiting when signals are pending', async () => {
    await send(t, alice, bob, { payload: 'ready' });
    expect(payloads(await poll(t, bob, { wait: 30 }))).toEqual(['ready']);
  });

  it('ends empty when the wait runs out, not before', async () => {
    const held = poll(t, bob, { wait: 1 });
    await heldPolls(1);
    await t.scheduler!.advance(999);
    expect(await metricValue(t, 'signalbox_held_polls')).toBe(1);
    await t.scheduler!.advance(WAIT_TICK_MS); // a wait ends at most one tick of the notifier's wheel after its time
    const res = await held;
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ signals: [], cursor: expect.any(String) });
  });

  it('is not woken by a signal for someone else', async () => {
    const carol = await registerUser(t);
    await connectQuietly(t, alice, carol);
    const held = poll(t, bob, { wait: 1 });
    await heldPolls(1);
    await send(t, alice, carol);
    expect(await metricValue(t, 'signalbox_held_polls')).toBe(1);
    await t.scheduler!.advance(1000 + WAIT_TICK_MS);
    expect(payloads(await held)).toEqual([]);
  });

  it('acknowledges `after` before waiting, then delivers only the new signal', async () => {
    await send(t, alice, bob, { payload: 'old' });
    const { cursor } = (await poll(t, bob)).body;
    const held = poll(t, bob, { after: cursor, wait: 30 });
    await heldPolls(1);
    await send(t, alice, bob, { payload: 'new' });
    expect(payloads(await held)).toEqual(['new']);
  });

  it('never misses a signal sent while the poll is registering (300 rounds)', async () => {
    let cursor: string | undefined;
    for (let i = 0; i < 300; i++) {
      const [res] = await Promise.all([poll(t, bob, { ...(cursor === undefined ? {} : { after: cursor }), wait: 5 }), send(t, alice, bob, { payload: `r${i}` })]);
      expect(payloads(res)).toEqual([`r${i}`]);
      cursor = res.body.cursor;
    }
  });

  it('wakes every held poll of the recipient (two devices)', async () => {
    const bobLaptop = await signIn(t, bob);
    const phone = poll(t, bob, { wait: 30 });
    const laptop = poll(t, bobLaptop, { wait: 30 });
    await heldPolls(2);
    await send(t, alice, bob, { payload: 'ring' });
    expect(payloads(await phone)).toEqual(['ring']);
    expect(payloads(await laptop)).toEqual(['ring']);
  });
});

describe('held polls and their clients', () => {
  let server: Server;
  let port: number;
  beforeEach(async () => {
    server = createServer(t.app.handler);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('releases the waiter at once when the client disconnects', async () => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/signaling/poll?wait=30', headers: bearer(bob) });
    req.on('error', () => {}); // the abort below is the point
    req.end();
    await heldPolls(1);
    req.destroy();
    await heldPolls(0);
  });

  it('answers every held poll (empty) when the server shuts down, and holds no new one', async () => {
    const held = poll(t, bob, { wait: 30 });
    await heldPolls(1);
    t.app.lifecycle.releasePolls();
    const res = await held;
    expect(res.status).toBe(200);
    expect(res.body.signals).toEqual([]);
    expect((await poll(t, bob, { wait: 30 })).body.signals).toEqual([]);
  });
});

describe('presence from polling', () => {
  it('shows the user online to connections while a poll is held, even past PRESENCE_WINDOW', async () => {
    const held = poll(t, bob, { wait: 2 });
    await heldPolls(1);
    t.clock.advance(3600);
    await t.http
      .post('/auth/login')
      .send({ username: alice.username, password: alice.password })
      .then((r) => (alice.accessToken = r.body.accessToken));
    const view = await t.http.get(`/users/${bob.username}`).set(bearer(alice));
    expect(view.body.presence.online).toBe(true);
    await t.scheduler!.advance(2000 + WAIT_TICK_MS);
    await held;
  });
});

describe('signal metrics', () => {
  it('counts sent, delivered, acknowledged and rejected signals and times delivery', async () => {
    await send(t, alice, bob);
    await send(t, alice, { username: 'nobody_here' });
    const { cursor } = (await poll(t, bob)).body;
    await poll(t, bob, { after: cursor });
    const text = (await t.http.get('/metrics')).text;
    expect(text).toContain('signalbox_signals_sent_total 1');
    expect(text).toContain('signalbox_signals_delivered_total 1');
    expect(text).toContain('signalbox_signals_acknowledged_total 1');
    expect(text).toContain('signalbox_signals_rejected_total{reason="not_connected"} 1');
    expect(text).toContain('signalbox_signal_delivery_seconds_count 1');
  });
});
