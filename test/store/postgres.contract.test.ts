import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { openPostgresStore } from '../../app/store/postgres/index.js';
import { MIGRATIONS } from '../../app/store/postgres/migrations.js';
import { StoreUnavailableError } from '../../app/store/types.js';
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
import { createTestSchema, type TestSchema } from './postgresTestDb.js';

// jest.config.js ignores this file when DATABASE_URL is unset, so reaching here means it is set.

const openContractStore = async () => {
  const schema = await createTestSchema();
  const store = await openPostgresStore(schema.url);
  return {
    store,
    async cleanup() {
      await store.close();
      await schema.drop();
    },
  };
};

describeStoreContract('PostgreSQL', openContractStore);
describeAuthStoreContract('PostgreSQL', openContractStore);
describeSignalStoreContract('PostgreSQL', openContractStore);
describeEventStoreContract('PostgreSQL', openContractStore);
describeEventBoundsContract('PostgreSQL', openContractStore);
describeAdminStoreContract('PostgreSQL', openContractStore);
describePushStoreContract('PostgreSQL', openContractStore);
describeRacesAndLimitsContract('PostgreSQL', openContractStore);
describeProbeWriteContract('PostgreSQL', openContractStore);
describeAccountSecurityContract('PostgreSQL', openContractStore);

describe('PostgreSQL store', () => {
  let schema: TestSchema;

  beforeEach(async () => {
    schema = await createTestSchema();
  });
  afterEach(async () => {
    await schema.drop();
  });

  const migrationsRecorded = async () => {
    const client = new pg.Client({ connectionString: schema.url });
    await client.connect();
    try {
      return (await client.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).rows.map((r) => r.version);
    } finally {
      await client.end();
    }
  };

  it('keeps users and sessions across close and reopen (migrations run once)', async () => {
    const user = makeUser();
    const session = makeSession(user.id);
    const first = await openPostgresStore(schema.url);
    try {
      await first.users.create(user);
      await first.sessions.create(session, 'refresh-1');
    } finally {
      await first.close();
    }
    const reopened = await openPostgresStore(schema.url);
    try {
      expect(await reopened.users.findById(user.id)).toEqual(user);
      expect(await reopened.sessions.findById(session.id)).toEqual(session);
    } finally {
      await reopened.close();
    }
    expect(await migrationsRecorded()).toEqual(MIGRATIONS.map((_, i) => i + 1));
  });

  it('migrates an empty database once when several instances start on it at the same moment', async () => {
    const stores = await Promise.all([1, 2, 3, 4].map(() => openPostgresStore(schema.url)));
    try {
      expect(await migrationsRecorded()).toEqual(MIGRATIONS.map((_, i) => i + 1));
      const user = makeUser();
      await stores[0]!.users.create(user);
      expect(await stores[3]!.users.findById(user.id)).toEqual(user);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('reports store "postgres", and StoreUnavailableError from ping and every aggregate after close', async () => {
    const store = await openPostgresStore(schema.url);
    expect(store.kind).toBe('postgres');
    await store.ping();
    await store.close();
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.users.findById('x')).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.signals.pending('x', new Date(), 10)).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('answers StoreUnavailableError (503), not a driver error, when nothing listens at the address', async () => {
    // A port on loopback that nothing listens on: connection refused.
    const refused = new URL(schema.url);
    refused.port = '1';
    await expect(openPostgresStore(refused.toString())).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
