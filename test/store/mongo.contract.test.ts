import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { MongoClient } from 'mongodb';
import { openMongoStore } from '../../app/store/mongo/index.js';
import { ORPHAN_SWEEP_TURN_MS, takeTurn } from '../../app/store/mongo/mailboxes.js';
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

// jest.config.js ignores this file when MONGODB_URI is unset, so reaching here means it is set.
const uri = process.env.MONGODB_URI ?? '';

/** A database name of its own per test, so parallel runs and leftovers never meet. */
const uniqueDbName = () => `signalbox_test_${randomUUID().replaceAll('-', '')}`;

/** Drops a test database through a separate client, so it works even after the store was closed. */
async function dropDatabase(dbName: string): Promise<void> {
  const client = new MongoClient(uri);
  try {
    await client.db(dbName).dropDatabase();
  } finally {
    await client.close();
  }
}

const openContractStore = async () => {
  const dbName = uniqueDbName();
  const store = await openMongoStore(uri, dbName);
  return {
    store,
    async cleanup() {
      await store.close();
      await dropDatabase(dbName);
    },
  };
};

describeStoreContract('MongoDB', openContractStore);
describeAuthStoreContract('MongoDB', openContractStore);
describeSignalStoreContract('MongoDB', openContractStore);
describeEventStoreContract('MongoDB', openContractStore);
describeEventBoundsContract('MongoDB', openContractStore);
describeAdminStoreContract('MongoDB', openContractStore);
describePushStoreContract('MongoDB', openContractStore);
describeRacesAndLimitsContract('MongoDB', openContractStore);
describeProbeWriteContract('MongoDB', openContractStore);
describeAccountSecurityContract('MongoDB', openContractStore);

describe('MongoDB store', () => {
  let dbName: string;

  beforeEach(() => {
    dbName = uniqueDbName();
  });
  afterEach(async () => {
    await dropDatabase(dbName);
  });

  it('keeps users and sessions across close and reopen (index creation is idempotent)', async () => {
    const user = makeUser();
    const session = makeSession(user.id);
    const first = await openMongoStore(uri, dbName);
    try {
      await first.users.create(user);
      await first.sessions.create(session, 'refresh-1');
    } finally {
      await first.close();
    }

    const reopened = await openMongoStore(uri, dbName);
    try {
      expect(await reopened.users.findById(user.id)).toEqual(user);
      expect(await reopened.sessions.findById(session.id)).toEqual(session);
    } finally {
      await reopened.close();
    }
  });

  it('moves a per-user mailbox written before devices to each live session, numbers kept', async () => {
    const [alice, bob] = [makeUser(), makeUser()];
    const phone = makeSession(bob.id, { createdAt: new Date(Date.now() - 2000), expiresAt: new Date(Date.now() + 3_600_000) });
    const tablet = makeSession(bob.id, { createdAt: new Date(Date.now() - 1000), expiresAt: new Date(Date.now() + 3_600_000) });
    const first = await openMongoStore(uri, dbName);
    try {
      for (const u of [alice, bob]) await first.users.create(u);
      for (const d of [phone, tablet]) await first.sessions.create(d, `refresh-${d.id}`);
    } finally {
      await first.close();
    }
    // The document shape of release 0.1.0: keyed by the recipient's user id, no userId, no senderDeviceId.
    const entry = (seq: number) => ({
      id: `signal-${seq}`,
      seq,
      senderId: alice.id,
      senderUsername: alice.username,
      type: 'offer',
      payload: `p${seq}`,
      sessionId: null,
      createdAt: new Date(),
      expiresAt: new Date(Date.now() + 300_000),
    });
    const client = new MongoClient(uri);
    try {
      await client
        .db(dbName)
        .collection<{ _id: string }>('mailboxes')
        .insertOne({ _id: bob.id, lastSeq: 3, signals: [entry(2), entry(3)] } as never);
    } finally {
      await client.close();
    }

    const upgraded = await openMongoStore(uri, dbName);
    try {
      for (const device of [phone, tablet]) {
        const pending = await upgraded.signals.pending(device.id, new Date(), 10);
        expect(pending.map((s) => [s.seq, s.id, s.senderDeviceId])).toEqual([
          [2, 'signal-2', null],
          [3, 'signal-3', null],
        ]);
      }
      const next = { ...entry(0), id: 'after', senderDeviceId: null, type: 'answer' as const };
      await upgraded.signals.send({ signal: next, toUserId: bob.id, now: new Date(), limits: { max: 500, perSender: 100 } });
      expect((await upgraded.signals.pending(phone.id, new Date(), 10)).map((s) => s.seq)).toEqual([2, 3, 4]);
    } finally {
      await upgraded.close();
    }
  });

  it('moves a device mailbox kept in one document (before mailbox entries became one document each) to one document per entry, numbers kept', async () => {
    const [alice, bob] = [makeUser(), makeUser()];
    const phone = makeSession(bob.id, { createdAt: new Date(Date.now() - 1000), expiresAt: new Date(Date.now() + 3_600_000) });
    const first = await openMongoStore(uri, dbName);
    try {
      for (const u of [alice, bob]) await first.users.create(u);
      await first.sessions.create(phone, `refresh-${phone.id}`);
    } finally {
      await first.close();
    }
    const entry = (seq: number, expiresAt = new Date(Date.now() + 300_000)) => ({
      id: `signal-${seq}`,
      seq,
      senderId: alice.id,
      senderUsername: alice.username,
      senderDeviceId: null,
      type: 'offer',
      payload: `p${seq}`,
      sessionId: null,
      createdAt: new Date(),
      expiresAt,
    });
    // The shape of API v1.1 before mailbox entries became one document each: the device's counter holding every entry in an array.
    const client = new MongoClient(uri);
    try {
      await client
        .db(dbName)
        .collection<{ _id: string }>('mailboxes')
        .insertOne({ _id: phone.id, userId: bob.id, lastSeq: 5, signals: [entry(3), entry(4, new Date(Date.now() - 1000)), entry(5)] } as never);
    } finally {
      await client.close();
    }

    const upgraded = await openMongoStore(uri, dbName);
    try {
      // The expired entry stays behind; the others keep their numbers, and the next send follows them.
      expect((await upgraded.signals.pending(phone.id, new Date(), 10)).map((s) => [s.seq, s.payload])).toEqual([
        [3, 'p3'],
        [5, 'p5'],
      ]);
      const next = { ...entry(0), id: 'after', type: 'answer' as const };
      await upgraded.signals.send({ signal: next, toUserId: bob.id, now: new Date(), limits: { max: 500, perSender: 100 } });
      expect((await upgraded.signals.pending(phone.id, new Date(), 10)).map((s) => s.seq)).toEqual([3, 5, 6]);
    } finally {
      await upgraded.close();
    }
    const check = new MongoClient(uri);
    try {
      expect(
        await check
          .db(dbName)
          .collection('mailboxes')
          .countDocuments({ signals: { $exists: true } }),
      ).toBe(0);
    } finally {
      await check.close();
    }
  });

  it('runs the orphan-mailbox sweep on one instance per turn', async () => {
    const client = new MongoClient(uri);
    try {
      const db = client.db(dbName);
      const t0 = new Date();
      // Two instances' purges at once: one gets the turn.
      const [a, b] = await Promise.all([takeTurn(db, 'sweep', t0, ORPHAN_SWEEP_TURN_MS), takeTurn(db, 'sweep', t0, ORPHAN_SWEEP_TURN_MS)]);
      expect([a, b].sort()).toEqual([false, true]);
      expect(await takeTurn(db, 'sweep', new Date(t0.getTime() + ORPHAN_SWEEP_TURN_MS - 1), ORPHAN_SWEEP_TURN_MS)).toBe(false);
      expect(await takeTurn(db, 'sweep', new Date(t0.getTime() + ORPHAN_SWEEP_TURN_MS), ORPHAN_SWEEP_TURN_MS)).toBe(true);
    } finally {
      await client.close();
    }
  });
});
