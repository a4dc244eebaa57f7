import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { isPostgresUnavailable } from '../../app/store/postgres/errors.js';
import { openPostgresStore } from '../../app/store/postgres/index.js';
import { watchNotifications } from '../../app/store/postgres/notifications.js';
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
    await expect(
      store.signals.send({
        signal: {
          id: 's1',
          senderId: user.id,
          senderUsername: user.username,
          senderDeviceId: null,
          type: 'offer',
          payload: 'p',
          sessionId: null,
          createdAt: new Date(),
          expiresAt: new Date(Date.now() + 60_000),
        },
        toUserId: user.id,
        now: new Date(),
        limits: { max: 10, perSender: 10 },
      }),
    ).rejects.toBeInstanceOf(StoreUnavailableError);
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
        const { rows } = await operator.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = 'signalbox' AND wait_event_type = 'Lock'");
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
      const session = {
        id: 'bob-phone',
        userId: bob.id,
        createdAt: new Date(),
        expiresAt: new Date(Date.now() + 3_600_000),
        deviceNameEnc: null,
        devicePlatformEnc: null,
        lastSeen: null,
      };
      await writer.sessions.create(session, 'refresh');
      const sendToBob = (id: string) =>
        writer.signals.send({
          signal: {
            id,
            senderId: alice.id,
            senderUsername: alice.username,
            senderDeviceId: null,
            type: 'offer',
            payload: 'p',
            sessionId: null,
            createdAt: new Date(),
            expiresAt: new Date(Date.now() + 60_000),
          },
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

describe('PostgreSQL refusing writes or picking a loser', () => {
  it('opens a read-only database (a standby, default_transaction_read_only) that is up to date: reads work, writes answer 503, the write probe says read_only', async () => {
    const writable = await open(schema.url);
    const user = makeUser();
    await writable.users.create(user);
    const url = new URL(schema.url);
    url.searchParams.set('options', `${url.searchParams.get('options')} -c default_transaction_read_only=on`);
    const readOnly = await open(url.toString());
    expect(await readOnly.users.findById(user.id)).toEqual(user);
    await expect(readOnly.users.create(makeUser())).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(await readOnly.probeWrite()).toBe('read_only');
    expect(await writable.probeWrite()).toBeNull();
  });

  it('counts a serialization failure and a deadlock, as PostgreSQL reports them, among the errors answered 503', async () => {
    const [one, two] = [await admin(), await admin()];
    try {
      await one.query('CREATE TABLE pair (id int PRIMARY KEY, n int)');
      await one.query('INSERT INTO pair VALUES (1, 0), (2, 0)');
      // A deadlock: each holds one row and asks for the other's.
      await one.query('BEGIN');
      await two.query('BEGIN');
      await one.query('UPDATE pair SET n = 1 WHERE id = 1');
      await two.query('UPDATE pair SET n = 1 WHERE id = 2');
      const crossed = await Promise.allSettled([one.query('UPDATE pair SET n = 2 WHERE id = 2'), two.query('UPDATE pair SET n = 2 WHERE id = 1')]);
      const deadlock = crossed.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(deadlock.reason.code).toBe('40P01');
      expect(isPostgresUnavailable(deadlock.reason)).toBe(true);
      await one.query('ROLLBACK');
      await two.query('ROLLBACK');
      // A serialization failure: two SERIALIZABLE transactions writing one row.
      await one.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
      await two.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
      await one.query('SELECT n FROM pair WHERE id = 1');
      await two.query('SELECT n FROM pair WHERE id = 1');
      await one.query('UPDATE pair SET n = 3 WHERE id = 1');
      const second = two.query('UPDATE pair SET n = 4 WHERE id = 1').catch((e: unknown) => e);
      await one.query('COMMIT');
      const failure = await second;
      expect((failure as { code?: string }).code).toBe('40001');
      expect(isPostgresUnavailable(failure)).toBe(true);
      await two.query('ROLLBACK');
    } finally {
      await one.end();
      await two.end();
    }
  });
});

describe('LISTEN on a connection that goes silent', () => {
  it('notices a connection that no longer answers (no reset, no close) by its heartbeat, replaces it, and hears arrivals again', async () => {
    const channel = `signalbox_arrivals_${createHash('sha256').update(schema.name).digest('hex').slice(0, 16)}`;
    const heard: string[] = [];
    const failures: unknown[] = [];
    let recovered!: () => void;
    const back = new Promise<void>((resolve) => (recovered = resolve));
    const stop = watchNotifications(relay.via(schema.url), channel, (payload) => heard.push(payload), {
      onFailure: (err) => failures.push(err),
      onRecovered: () => recovered(),
      backoff: { firstMs: 10, maxMs: 50 },
      timing: { heartbeatMs: 50, heartbeatTimeoutMs: 200, connectTimeoutMs: 200 },
    });
    try {
      const notify = async (payload: string) => {
        const c = await admin();
        await c.query('SELECT pg_notify($1, $2)', [channel, payload]);
        await c.end();
      };
      while (heard.length === 0) {
        await notify('before');
        await new Promise((r) => setTimeout(r, 20));
      }
      relay.stall();
      while (failures.length === 0) await new Promise((r) => setTimeout(r, 10));
      relay.flow();
      await back;
      heard.length = 0;
      await notify('after');
      while (heard.length === 0) await new Promise((r) => setTimeout(r, 10));
      expect(heard).toEqual(['after']);
    } finally {
      await stop();
    }
  });
});
