import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { MongoClient } from 'mongodb';
import { openMongoStore } from '../../app/store/mongo/index.js';
import { describeAdminStoreContract } from './adminContract.js';
import { describeAuthStoreContract } from './authContract.js';
import { describeEventStoreContract } from './eventsContract.js';
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
describeAdminStoreContract('MongoDB', openContractStore);

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
});
