import { MongoClient, MongoNetworkError, MongoNotConnectedError, MongoServerSelectionError, MongoTopologyClosedError } from 'mongodb';
import { guardUnavailable } from '../guard.js';
import type { Store } from '../types.js';
import { mongoConnections, mongoConnectionsIndexes } from './connections.js';
import { mongoPresence } from './presence.js';
import { mongoRateLimits, mongoRateLimitsIndexes } from './rateLimits.js';
import { mongoResetCodes, mongoResetCodesIndexes } from './resetCodes.js';
import { mongoSignals, mongoSignalsIndexes } from './signals.js';
import { mongoTwoFactor } from './twoFactor.js';
import { mongoSessions, mongoSessionsIndexes } from './sessions.js';
import { mongoUsers, mongoUsersIndexes } from './users.js';

const isUnavailable = (err: unknown) =>
  err instanceof MongoNetworkError ||
  err instanceof MongoServerSelectionError ||
  err instanceof MongoNotConnectedError ||
  err instanceof MongoTopologyClosedError;

/** Connects to MongoDB, creates the unique and TTL indexes, and returns the store. */
export async function openMongoStore(uri: string, dbName: string): Promise<Store> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000, appName: 'signalbox' });
  await client.connect();
  const db = client.db(dbName);
  await mongoUsersIndexes(db);
  await mongoSessionsIndexes(db);
  await mongoRateLimitsIndexes(db);
  await mongoResetCodesIndexes(db);
  await mongoSignalsIndexes(db);
  await mongoConnectionsIndexes(db);

  return {
    kind: 'mongodb',
    users: guardUnavailable(mongoUsers(db), isUnavailable),
    sessions: guardUnavailable(mongoSessions(db), isUnavailable),
    rateLimits: guardUnavailable(mongoRateLimits(db), isUnavailable),
    resetCodes: guardUnavailable(mongoResetCodes(db), isUnavailable),
    twoFactor: guardUnavailable(mongoTwoFactor(db), isUnavailable),
    signals: guardUnavailable(mongoSignals(db), isUnavailable),
    connections: guardUnavailable(mongoConnections(db), isUnavailable),
    presence: guardUnavailable(mongoPresence(db), isUnavailable),
    async ping() {
      await db.command({ ping: 1 });
    },
    async close() {
      await client.close();
    },
  };
}
