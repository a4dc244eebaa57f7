import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { openPostgresStore } from '../../app/store/postgres/index.js';
import { StoreUnavailableError, type Store } from '../../app/store/types.js';
import { makeUser } from './contract.js';
import { createTestSchema, startRelay, type Relay, type TestSchema } from './postgresTestDb.js';

// PostgreSQL out of reach, slow or shutting connections down: every such failure is StoreUnavailableError
// (answered 503 with Retry-After), and the store works again once PostgreSQL does, LISTEN included.
// Run only with DATABASE_URL (jest.config.js).

let schema: TestSchema;
let relay: Relay;
const opened: Store[] = [];

beforeEach(async () => {
  schema = await createTestSchema();
  relay = await startRelay();
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  await relay.close();
  await schema.drop();
});

async function open(url: string, options?: Parameters<typeof openPostgresStore>[1]): Promise<Store> {
  const store = await openPostgresStore(url, options);
  opened.push(store);
  return store;
}

/** A connection of the operator's own to the test schema, outside any store. */
async function admin(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: schema.url });
  await client.connect();
  return client;
}

describe('PostgreSQL out of reach', () => {
  it('answers StoreUnavailableError while the network to PostgreSQL is cut, and works again once it is back', async () => {
    const store = await open(relay.via(schema.url));
    const user = makeUser();
    await store.users.create(user);
    await relay.cut();
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.users.findById(user.id)).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.signals.send({
      signal: { id: 's1', senderId: user.id, senderUsername: user.username, senderDeviceId: null, type: 'offer', payload: 'p', sessionId: null, createdAt: new Date(), expiresAt: new Date(Date.now() + 60_000) },
      toUserId: user.id,
      now: new Date(),
      limits: { max: 10, perSender: 10 },
    })).rejects.toBeInstanceOf(StoreUnavailableError);
    await relay.restore();
    await store.ping();
    expect(await store.users.findById(user.id)).toEqual(user);
  });

  it('answers StoreUnavailableError for a statement PostgreSQL cancels at PG_STATEMENT_TIMEOUT_MS (a table locked by someone else)', async () => {
    const store = await open(schema.url, { max: 4, statementTimeoutMs: 200 });
    const locker = await admin();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE users IN ACCESS EXCLUSIVE MODE');
      const err = await store.users.findById('anyone').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreUnavailableError);
      expect(((err as Error).cause as { code?: string }).code).toBe('57014');
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    expect(await store.users.findById('anyone')).toBeNull();
  });

  it('answers StoreUnavailableError when PostgreSQL shuts the connection down mid-query (admin shutdown), and the next query works', async () => {
    const store = await open(schema.url);
    const operator = await admin();
    try {
      await operator.query('BEGIN');
      await operator.query('LOCK TABLE users IN ACCESS EXCLUSIVE MODE');
      const waiting = store.users.findById('anyone').catch((e: unknown) => e);
      // The store's backend now waits for the lock: end it as `pg_ctl stop -m fast` or an operator would.
      for (;;) {
        const { rows } = await operator.query<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE application_name = 'signalbox' AND wait_event_type = 'Lock'",
        );
        if (rows[0]) {
          await operator.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
          break;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(await waiting).toBeInstanceOf(StoreUnavailableError);
    } finally {
      await operator.query('ROLLBACK');
      await operator.end();
    }
    expect(await store.users.findById('anyone')).toBeNull();
  });
});

describe('LISTEN across an outage', () => {
  it('reports the failure, reconnects once PostgreSQL is back, reports the recovery, and hears arrivals again', async () => {
    const listener = await open(relay.via(schema.url));
    const writer = await open(schema.url);
    const heard: string[] = [];
    const failures: unknown[] = [];
    let recoveries = 0;
    let recovered!: () => void;
    const back = new Promise<void>((resolve) => (recovered = resolve));
    const stop = listener.signals.watchArrivals!(
      (id) => heard.push(id),
      (err) => failures.push(err),
      () => {
        recoveries += 1;
        recovered();
      },
    );
    try {
      const [alice, bob] = [makeUser(), makeUser()];
      await writer.users.create(alice);
      await writer.users.create(bob);
      const session = { id: 'bob-phone', userId: bob.id, createdAt: new Date(), expiresAt: new Date(Date.now() + 3_600_000), deviceNameEnc: null, devicePlatformEnc: null, lastSeen: null };
      await writer.sessions.create(session, 'refresh');
      const sendToBob = (id: string) =>
        writer.signals.send({
          signal: { id, senderId: alice.id, senderUsername: alice.username, senderDeviceId: null, type: 'offer', payload: 'p', sessionId: null, createdAt: new Date(), expiresAt: new Date(Date.now() + 60_000) },
          toUserId: bob.id,
          now: new Date(),
          limits: { max: 10, perSender: 10 },
        });
      // Heard before the outage (sent until the listener is in place).
      while (heard.length === 0) {
        await sendToBob(`before-${Date.now()}-${Math.random()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      await relay.cut();
      while (failures.length === 0) await new Promise((r) => setTimeout(r, 10));
      expect(recoveries).toBe(0);
      await relay.restore();
      await back;
      heard.length = 0;
      await sendToBob('after');
      while (heard.length === 0) await new Promise((r) => setTimeout(r, 10));
      expect(heard).toEqual(['bob-phone']);
      expect(recoveries).toBe(1);
    } finally {
      await stop();
    }
  });
});
