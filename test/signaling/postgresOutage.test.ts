import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { openPostgresStore } from '../../app/store/postgres/index.js';
import type { Store } from '../../app/store/types.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { connectQuietly, payloads, poll, send } from '../helpers/signaling.js';
import { createTestSchema, listeners, startRelay, type Relay, type TestSchema } from '../store/postgresTestDb.js';
import { heldPolls } from './helpers.js';

// Instances whose PostgreSQL goes away and comes back (a restart, a network cut), through a TCP relay on
// loopback that can be cut and restored. Run only with DATABASE_URL (jest.config.js).
// Interval timers are frozen, as in postgresCrossInstance.test.ts: the re-check fallback and the session
// check never run, so what answers a held poll is the store's LISTEN connection or its recovery.

let schema: TestSchema;
let relay: Relay;
let apps: TestApp[];
let stops: Array<() => Promise<void>>;

beforeEach(async () => {
  jest.useFakeTimers({ doNotFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'nextTick', 'queueMicrotask', 'Date', 'hrtime', 'performance'] });
  schema = await createTestSchema();
  relay = await startRelay();
  apps = [];
  stops = [];
});

afterEach(async () => {
  for (const t of apps) t.app.lifecycle.releasePolls();
  await Promise.all(stops.map((stop) => stop()));
  for (const t of apps) await t.close();
  await relay.close();
  await schema.drop();
  jest.useRealTimers();
});

/** Mailbox reads in flight, per store: a poll counted as held still reads its mailbox once before it waits. */
const readsInFlight = new WeakMap<Store, () => number>();

/** `store` with its mailbox reads counted (readsInFlight). */
function countingReads(store: Store): Store {
  let inFlight = 0;
  const pending: Store['signals']['pending'] = async (...args) => {
    inFlight++;
    try {
      return await store.signals.pending(...args);
    } finally {
      inFlight--;
    }
  };
  const signals = new Proxy(store.signals, { get: (target, key) => (key === 'pending' ? pending : Reflect.get(target, key, target)) });
  const counted = new Proxy(store, { get: (target, key) => (key === 'signals' ? signals : Reflect.get(target, key, target)) });
  readsInFlight.set(counted, () => inFlight);
  return counted;
}

/** Resolves once `t` holds `n` polls and each is waiting, its mailbox read done (a cut then meets no read). */
async function waitingPolls(t: TestApp, n: number): Promise<void> {
  await heldPolls(t, n);
  const reads = readsInFlight.get(t.store)!;
  while (reads() > 0) await new Promise((r) => setTimeout(r, 5));
}

/** An app whose store reaches PostgreSQL directly, or through the relay; started (LISTEN included). */
async function instance(through: 'direct' | 'relay'): Promise<TestApp> {
  const store = countingReads(await openPostgresStore(through === 'relay' ? relay.via(schema.url) : schema.url));
  const t = makeTestApp({ store });
  apps.push(t);
  stops.push(t.app.lifecycle.start());
  return t;
}

describe('PostgreSQL going away and coming back', () => {
  it('GET /health answers 503 unavailable with Retry-After while PostgreSQL is out of reach, and 200 once it is back', async () => {
    const t = await instance('relay');
    const ok = await t.http.get('/health');
    expect(ok.status).toBe(200);
    expect(ok.body.store).toBe('postgres');
    await relay.cut();
    const down = await t.http.get('/health');
    expect(down.status).toBe(503);
    expect(down.body.error.code).toBe('unavailable');
    expect(down.headers['retry-after']).toBeDefined();
    await relay.restore();
    expect((await t.http.get('/health')).status).toBe(200);
  });

  it('an API request answers 503 unavailable, not 500, while PostgreSQL is out of reach', async () => {
    const t = await instance('relay');
    const alice = await registerUser(t);
    await relay.cut();
    const res = await t.http.get('/users/me/devices').set(bearer(alice));
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('unavailable');
    expect(res.headers['retry-after']).toBeDefined();
  });

  it('after its LISTEN connection is back, an instance re-checks every held poll once: a signal sent meanwhile is delivered', async () => {
    const a = await instance('direct');
    const b = await instance('relay');
    await listeners(schema, 4);
    const alice = await registerUser(a);
    const bob = await registerUser(a);
    await connectQuietly(a, alice, bob);
    const held = poll(b, bob, { wait: 30 });
    await waitingPolls(b, 1);
    // B loses PostgreSQL: the announcement of this send never reaches it.
    await relay.cut();
    expect((await send(a, alice, bob, { payload: 'sent during the outage' })).status).toBe(202);
    await relay.restore();
    const res = await held;
    expect(res.status).toBe(200);
    expect(payloads(res)).toEqual(['sent during the outage']);
  });
});
