import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import Database from '../../app/store/sqlite/driver.js';
import { openSqliteStore } from '../../app/store/sqlite/index.js';
import { SEARCH_SQL } from '../../app/store/sqlite/users.js';
import { StoreUnavailableError, type Store } from '../../app/store/types.js';
import { describeAccountSecurityContract } from './accountSecurityContract.js';
import { describeAdminStoreContract } from './adminContract.js';
import { describeAuthStoreContract } from './authContract.js';
import { describeEventBoundsContract } from './eventBoundsContract.js';
import { describeEventStoreContract } from './eventsContract.js';
import { describeProbeWriteContract } from './probeWriteContract.js';
import { describePushStoreContract } from './pushContract.js';
import { describeRacesAndLimitsContract } from './racesAndLimitsContract.js';
import { describeSignalStoreContract } from './signalsContract.js';
import { describeStoreContract, makeSession, makeUser } from './contract.js';

/** A fresh store on a real file (WAL needs one; :memory: would not exercise it) in its own temp dir. */
function openTempSqlite() {
  const dir = mkdtempSync(join(tmpdir(), 'signalbox-store-'));
  const file = join(dir, 'signalbox.db');
  return { dir, file, store: openSqliteStore(file) };
}

const openContractStore = async () => {
  const { dir, store } = openTempSqlite();
  return {
    store,
    async cleanup() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

describeStoreContract('SQLite', openContractStore);
describeAuthStoreContract('SQLite', openContractStore);
describeSignalStoreContract('SQLite', openContractStore);
describeEventStoreContract('SQLite', openContractStore);
describeEventBoundsContract('SQLite', openContractStore);
describeAdminStoreContract('SQLite', openContractStore);
describePushStoreContract('SQLite', openContractStore);
describeRacesAndLimitsContract('SQLite', openContractStore);
describeProbeWriteContract('SQLite', openContractStore);
describeAccountSecurityContract('SQLite', openContractStore);

describe('SQLite store', () => {
  let dir: string;
  let file: string;
  let store: Store;

  beforeEach(() => {
    ({ dir, file, store } = openTempSqlite());
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps users and sessions across close and reopen (migrations run once)', async () => {
    const user = makeUser();
    const session = makeSession(user.id);
    await store.users.create(user);
    await store.sessions.create(session, 'refresh-1');
    await store.close();

    store = openSqliteStore(file);
    expect(await store.users.findById(user.id)).toEqual(user);
    expect(await store.sessions.findById(session.id)).toEqual(session);
  });

  it('leaves the schema version unchanged on reopen (migrations are idempotent)', async () => {
    const version = () => {
      const db = new Database(file, { readonly: true });
      try {
        return db.pragma('user_version', { simple: true }) as number;
      } finally {
        db.close();
      }
    };
    const first = version();
    await store.close();
    store = openSqliteStore(file);
    expect(first).toBeGreaterThan(0);
    expect(version()).toBe(first);
  });

  it('puts the database file in WAL journal mode', async () => {
    const db = new Database(file, { readonly: true });
    try {
      // journal_mode=WAL is persistent in the file, so a second connection sees it.
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      db.close();
    }
  });

  it('removes refresh token rows with their user, not just the session rows', async () => {
    const user = makeUser();
    await store.users.create(user);
    await store.sessions.create(makeSession(user.id), 'refresh-cascade');
    await store.users.delete(user.id);
    const db = new Database(file, { readonly: true });
    try {
      expect(db.prepare('SELECT count(*) AS n FROM refresh_tokens').get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
  });

  it('ping rejects with StoreUnavailableError after close', async () => {
    await store.close();
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('user methods reject with StoreUnavailableError after close', async () => {
    await store.close();
    await expect(store.users.findById('any')).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('session methods reject with StoreUnavailableError after close', async () => {
    await store.close();
    await expect(store.sessions.rotateRefreshToken('a', 'b', new Date(), new Date())).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('serves the username prefix search from the username index, not a table scan', async () => {
    // The plan is what keeps search fast at 100k users (bench/search.ts measures it); a LIKE or a
    // lower() around the column would silently turn this into SCAN users.
    const db = new Database(file, { readonly: true });
    try {
      const plan = db
        .prepare(`EXPLAIN QUERY PLAN ${SEARCH_SQL}`)
        .all({ low: 'ab', high: 'ac', excludeId: 'x', limit: 20 })
        .map((row) => (row as { detail: string }).detail)
        .join('\n');
      expect(plan).toMatch(/SEARCH users USING (COVERING )?INDEX sqlite_autoindex_users_\d+ \(username>\? AND username<\?\)/);
    } finally {
      db.close();
    }
  });

  it('fans a send out in one transaction: a failure on the last device leaves no copy on the others', async () => {
    const [alice, bob] = [makeUser(), makeUser()];
    await store.users.create(alice);
    await store.users.create(bob);
    const devices = [makeSession(bob.id, { createdAt: new Date(1) }), makeSession(bob.id, { createdAt: new Date(2) }), makeSession(bob.id, { createdAt: new Date(3) })];
    for (const d of devices) await store.sessions.create(d, `refresh-${d.id}`);
    // A disk error or crash stand-in: the write to the newest device fails after the others were written.
    // Added with the store closed, so the store's connection reads the schema with the trigger in it.
    await store.close();
    const db = new Database(file);
    db.exec(`CREATE TRIGGER fail_last BEFORE INSERT ON device_signals WHEN NEW.device_id = '${devices[2]!.id}'
             BEGIN SELECT RAISE(ABORT, 'disk gone'); END`);
    db.close();
    store = openSqliteStore(file);
    const now = new Date(10);
    const signal = {
      id: 'x',
      senderId: alice.id,
      senderUsername: 'alice',
      senderDeviceId: null,
      type: 'offer' as const,
      payload: 'p',
      sessionId: null,
      createdAt: now,
      expiresAt: new Date(now.getTime() + 60_000),
    };
    // Not toThrow: better-sqlite3 registers its error class once per process, so in a jest worker that
    // loaded it for an earlier test file the SqliteError comes from that file's realm and is no Error here.
    await expect(store.signals.send({ signal, toUserId: bob.id, now, limits: { max: 10, perSender: 10 } })).rejects.toHaveProperty('message', 'disk gone');
    expect(await store.signals.countPending(now)).toBe(0);
    const check = new Database(file, { readonly: true });
    try {
      // Not even a sequence number was taken: the next signal on the first device is still number 1.
      expect(check.prepare('SELECT count(*) AS n FROM device_mailboxes').get()).toEqual({ n: 0 });
    } finally {
      check.close();
    }
  });

  it('stores a payload once however many devices get it, and drops it with the last copy acknowledged', async () => {
    const [alice, bob] = [makeUser(), makeUser()];
    await store.users.create(alice);
    await store.users.create(bob);
    const devices = Array.from({ length: 10 }, (_, i) => makeSession(bob.id, { createdAt: new Date(i + 1) }));
    for (const d of devices) await store.sessions.create(d, `refresh-${d.id}`);
    const now = new Date(100);
    const payload = 'x'.repeat(16_384);
    const signal = {
      id: 'once',
      senderId: alice.id,
      senderUsername: 'alice',
      senderDeviceId: null,
      type: 'offer' as const,
      payload,
      sessionId: null,
      createdAt: now,
      expiresAt: new Date(now.getTime() + 60_000),
    };
    expect((await store.signals.send({ signal, toUserId: bob.id, now, limits: { max: 10, perSender: 10 } })).outcome).toBe('stored');
    const payloadBytes = () => {
      const db = new Database(file, { readonly: true });
      try {
        return (db.prepare('SELECT coalesce(sum(length(payload)), 0) AS n FROM signal_bodies').get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    expect(payloadBytes()).toBe(payload.length);
    for (const d of devices.slice(0, 9)) await store.signals.ack(d.id, 1);
    expect(payloadBytes()).toBe(payload.length); // the tenth device has not read it yet
    expect((await store.signals.pending(devices[9]!.id, now, 10))[0]?.payload).toBe(payload);
    await store.signals.ack(devices[9]!.id, 1);
    expect(payloadBytes()).toBe(0);
  });

  it('close can be called twice (shutdown paths may overlap)', async () => {
    await store.close();
    await expect(store.close()).resolves.toBeUndefined();
  });
});
