import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { Response } from 'supertest';
import { openPostgresStore } from '../../app/store/postgres/index.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { bearer, registerUser, type TestUser } from '../helpers/factories.js';
import { connectQuietly, payloads, poll, send } from '../helpers/signaling.js';
import { createTestSchema, listeners, type TestSchema } from '../store/postgresTestDb.js';
import { heldPolls } from './helpers.js';

// Two instances (two apps, each with its own PostgreSQL store object and pool) on one database, as two
// servers behind a load balancer. Run only with DATABASE_URL (jest.config.js; scripts/test-postgres.sh).
//
// Interval timers are frozen for these tests: the periodic session check (every 5 s) and the re-check
// fallback of held polls never run, so a held poll on B can only answer early because B heard of the
// change from PostgreSQL (LISTEN/NOTIFY). Every poll waits up to 30 s: an answer within the test's time
// means it was woken or ended, not timed out.

let schema: TestSchema;
let a: TestApp;
let b: TestApp;
let stops: Array<() => Promise<void>>;

beforeEach(async () => {
  jest.useFakeTimers({ doNotFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'nextTick', 'queueMicrotask', 'Date', 'hrtime', 'performance'] });
  schema = await createTestSchema();
  const [storeA, storeB] = await Promise.all([openPostgresStore(schema.url), openPostgresStore(schema.url)]);
  a = makeTestApp({ store: storeA });
  b = makeTestApp({ store: storeB });
  stops = [a.app.lifecycle.start(), b.app.lifecycle.start()];
  await listeners(schema, 4);
});

afterEach(async () => {
  for (const t of [a, b]) t.app.lifecycle.releasePolls();
  await Promise.all(stops.map((stop) => stop()));
  await a.close();
  await b.close();
  await schema.drop();
  jest.useRealTimers();
});

/** A user registered through A, and signed in through B on a device of their own (the tokens work on both). */
async function users(): Promise<{ alice: TestUser; bob: TestUser }> {
  const alice = await registerUser(a);
  const bob = await registerUser(a);
  await connectQuietly(a, alice, bob);
  return { alice, bob };
}

/** Bob's poll held on B (wait=30), once B reports it held (in an array: an awaited promise would wait for the answer). */
async function holdOnB(user: TestUser): Promise<[Promise<Response>]> {
  const held = poll(b, user, { wait: 30 });
  await heldPolls(b, 1);
  return [held];
}

describe('two instances on one PostgreSQL database', () => {
  it('a send through A wakes the poll held through B, with the signal', async () => {
    const { alice, bob } = await users();
    const [held] = await holdOnB(bob);
    const sent = await send(a, alice, bob, { payload: 'through A' });
    expect(sent.status).toBe(202);
    const res = await held;
    expect(res.status).toBe(200);
    expect(payloads(res)).toEqual(['through A']);
  });

  it('a logout through A ends the session on B at once: its held poll answers 401, and B refuses the token', async () => {
    const { bob } = await users();
    const [held] = await holdOnB(bob);
    expect((await a.http.post('/auth/logout').set(bearer(bob)).send({})).status).toBe(204);
    const res = await held;
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
    expect((await b.http.get('/users/me/devices').set(bearer(bob))).status).toBe(401);
  });

  it('removing a device through A ends its poll held on B at once, and a send through B stores nothing for it', async () => {
    const { alice, bob } = await users();
    const devices = await b.http.get('/users/me/devices').set(bearer(bob));
    const bobDevice = (devices.body.devices as Array<{ id: string; current: boolean }>).find((d) => d.current)!.id;
    const [held] = await holdOnB(bob);
    expect((await a.http.delete(`/users/me/devices/${bobDevice}`).set(bearer(bob))).status).toBe(204);
    expect((await held).status).toBe(401);
    const late = await send(b, alice, bob, { payload: 'to nobody' });
    expect(late.status).toBe(202);
    expect(late.body.devices).toBe(0);
  });
});
