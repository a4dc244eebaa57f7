import { describe, expect, it } from '@jest/globals';
import { StoreUnavailableError, type Store } from '../../app/store/types.js';
import { bearer } from '../helpers/factories.js';
import { useTestApp, withUsers } from '../helpers/perTest.js';
import { connectQuietly, payloads, poll, send } from '../helpers/signaling.js';

/**
 * The real SQLite store, whose writes fail the way the store's guard answers a full disk or a read-only
 * file system (StoreUnavailableError around the driver's SQLITE_READONLY) once `writes.fail` is set.
 * Reads keep working, as they do on a full disk.
 */
const writes = { fail: false };
const readOnlyError = () =>
  new StoreUnavailableError(undefined, { cause: Object.assign(new Error('attempt to write a readonly database'), { code: 'SQLITE_READONLY' }) });
function failingWrites(store: Store): Store {
  const refuse =
    <A extends unknown[], R>(write: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> =>
      writes.fail ? Promise.reject(readOnlyError()) : write(...args);
  return {
    ...store,
    signals: { ...store.signals, ack: refuse(store.signals.ack), send: refuse(store.signals.send) },
    sessions: { ...store.sessions, touch: refuse(store.sessions.touch) },
    presence: { ...store.presence, touch: refuse(store.presence.touch) },
  };
}

const t = useTestApp(() => {
  writes.fail = false;
  return { wrapStore: failingWrites };
});
const { alice, bob } = withUsers(t, 'alice', 'bob');

describe('GET /signaling/poll while the store cannot write', () => {
  it('answers what is stored past the cursor although the acknowledgement it carries fails, and the next poll acknowledges', async () => {
    await connectQuietly(t, alice, bob);
    for (const p of ['one', 'two', 'three']) expect((await send(t, alice, bob, { payload: p })).status).toBe(202);
    const first = await poll(t, bob);
    expect(payloads(first)).toEqual(['one', 'two', 'three']);
    expect((await send(t, alice, bob, { payload: 'four' })).status).toBe(202);

    writes.fail = true;
    const second = await poll(t, bob, { after: first.body.cursor });
    expect(second.status).toBe(200);
    // Not "one".."three" again (the client has them), and "four", which it has not, is not hidden.
    expect(payloads(second)).toEqual(['four']);
    const third = await poll(t, bob, { after: second.body.cursor });
    expect(third.status).toBe(200);
    expect(payloads(third)).toEqual([]);

    writes.fail = false;
    const fourth = await poll(t, bob, { after: third.body.cursor });
    expect(payloads(fourth)).toEqual([]);
    // The acknowledgement carried once the store writes again removed everything: nothing is delivered twice.
    expect(payloads(await poll(t, bob))).toEqual([]);
  });

  it('answers a plain poll although the lastSeen writes (user and device) fail', async () => {
    await connectQuietly(t, alice, bob);
    expect((await send(t, alice, bob, { payload: 'stored before' })).status).toBe(202);
    writes.fail = true;
    // The lastSeen writes are throttled per user and device (one per 30 s): past that, the next request writes.
    t.clock.advance(31);
    const res = await poll(t, bob);
    expect(res.status).toBe(200);
    expect(payloads(res)).toEqual(['stored before']);
    // And through Koa (a query shape the lean route leaves to it) and any other authenticated route.
    expect((await t.http.get('/signaling/poll?wait=0&after=').set(bearer(bob))).status).not.toBe(503);
    expect((await t.http.get('/users/me').set(bearer(alice))).status).toBe(200);
    const warned = t.logs.filter((l) => l.msg === 'lastSeen not recorded (the request goes on)');
    // Logged once for the interval, not once per request.
    expect(warned).toHaveLength(1);
  });

  it('still refuses a send with 503 unavailable and Retry-After', async () => {
    await connectQuietly(t, alice, bob);
    writes.fail = true;
    const res = await send(t, alice, bob, { payload: 'not stored' });
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ error: { code: 'unavailable', message: expect.any(String) } });
    expect(res.headers['retry-after']).toMatch(/^\d+$/);
    writes.fail = false;
    expect(payloads(await poll(t, bob))).toEqual([]);
  });
});
