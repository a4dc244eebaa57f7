import { MongoClient, type MongoClientOptions } from 'mongodb';
import { Arrivals } from '../arrivals.js';
import { guardUnavailable } from '../guard.js';
import { StoreUnavailableError, type Store } from '../types.js';
import { mongoConnections, mongoConnectionsIndexes } from './connections.js';
import { COMMIT_MAX_MS, mongoMailboxesIndexes, mongoMailboxWrites } from './mailboxes.js';
import { migrateUserMailboxes } from './migrateMailboxes.js';
import { mongoPresence } from './presence.js';
import { mongoPushSubscriptions, mongoPushSubscriptionsIndexes } from './pushSubscriptions.js';
import { mongoRateLimits, mongoRateLimitsIndexes } from './rateLimits.js';
import { mongoKeyBackups } from './keyBackups.js';
import { mongoResetCodes, mongoResetCodesIndexes } from './resetCodes.js';
import { mongoSecurityEvents, mongoSecurityEventsIndexes } from './securityEvents.js';
import { mongoSignals, mongoSignalsIndexes } from './signals.js';
import { mongoTwoFactor } from './twoFactor.js';
import { mongoSessions, mongoSessionsIndexes } from './sessions.js';
import { isMongoUnavailable as isUnavailable } from './unavailable.js';
import { mongoUsers, mongoUsersIndexes } from './users.js';

/**
 * How long the health check waits for a ping. Without a bound it waits for server selection (5 s) or
 * longer, past the probe timeouts of load balancers and orchestrators, which then see a hung instance
 * rather than one answering "store unavailable".
 */
const PING_TIMEOUT_MS = 2000;
/** mongod's error code for a write refused because its disk is full. */
const MONGO_OUT_OF_DISK_SPACE = 14031;

/** Rejects with StoreUnavailableError when `work` has not settled within `ms`; the work itself runs on. */
async function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreUnavailableError(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Sends, connection changes and key changes write several documents that must commit together (a
 * signal to every device, a change with its server events), which takes multi-document transactions,
 * and those need a replica set (one node is enough) or a sharded cluster.
 */
async function requireTransactions(client: MongoClient): Promise<void> {
  const hello = await client.db('admin').command({ hello: 1 });
  if (typeof hello.setName === 'string' || hello.msg === 'isdbgrid') return;
  throw new Error(
    'STORE=mongodb needs a replica set (a single-node one is enough: start mongod with --replSet rs0, run ' +
      'rs.initiate() once, and add ?replicaSet=rs0 to MONGODB_URI); this server is a standalone. See docs/deploy.md.',
  );
}

/**
 * The client's options. `wtimeoutMS` bounds how long a write outside a transaction (a login's session, a
 * rate-limit count) waits for the write concern the URI or the deployment asks (a majority by default since
 * MongoDB 5.0): without it such a write waits for as long as the replica set cannot confirm it. Past it the
 * server answers WriteConcernFailed, which the driver does not retry and the store answers 503
 * (unavailable.ts); the URI's `w` is kept (the driver merges the two key by key). Transactions set their own
 * (mailboxes.ts, TRANSACTION_OPTIONS).
 */
// eslint-disable-next-line @typescript-eslint/no-deprecated -- its replacement, a writeConcern object, is not documented to merge with the URI's `w` key by key
export const MONGO_CLIENT_OPTIONS = { serverSelectionTimeoutMS: 5000, appName: 'signalbox', wtimeoutMS: COMMIT_MAX_MS } as const satisfies MongoClientOptions;

/** Connects to MongoDB (a replica set), creates the unique and TTL indexes, migrates, and returns the store. */
export async function openMongoStore(uri: string, dbName: string): Promise<Store> {
  const client = new MongoClient(uri, MONGO_CLIENT_OPTIONS);
  await client.connect();
  const db = client.db(dbName);
  // Sends and the changes that cause server events write mailboxes the same way, and wake polls through one feed.
  const arrivals = new Arrivals();
  const mailbox = mongoMailboxWrites(client, db, arrivals);
  try {
    await requireTransactions(client);
    await mongoUsersIndexes(db);
    await mongoSessionsIndexes(db);
    await mongoRateLimitsIndexes(db);
    await mongoResetCodesIndexes(db);
    await mongoMailboxesIndexes(db);
    await mongoSignalsIndexes(db);
    await mongoConnectionsIndexes(db);
    await mongoPushSubscriptionsIndexes(db);
    await mongoSecurityEventsIndexes(db);
    await migrateUserMailboxes(db, mailbox, new Date());
  } catch (err) {
    await client.close();
    throw err;
  }

  return {
    kind: 'mongodb',
    users: guardUnavailable(mongoUsers(db, mailbox), isUnavailable),
    sessions: guardUnavailable(mongoSessions(db), isUnavailable),
    rateLimits: guardUnavailable(mongoRateLimits(db), isUnavailable),
    resetCodes: guardUnavailable(mongoResetCodes(db), isUnavailable),
    twoFactor: guardUnavailable(mongoTwoFactor(db), isUnavailable),
    signals: guardUnavailable(mongoSignals(db, mailbox, arrivals), isUnavailable),
    connections: guardUnavailable(mongoConnections(db, mailbox), isUnavailable),
    presence: guardUnavailable(mongoPresence(db), isUnavailable),
    pushSubscriptions: guardUnavailable(mongoPushSubscriptions(db), isUnavailable),
    securityEvents: guardUnavailable(mongoSecurityEvents(db), isUnavailable),
    keyBackups: guardUnavailable(mongoKeyBackups(db, mailbox), isUnavailable),
    async ping() {
      const ping = db.command({ ping: 1 });
      ping.catch(() => {}); // answered by the race below; a late failure must not go unhandled
      try {
        await within(ping, PING_TIMEOUT_MS);
      } catch (err) {
        if (isUnavailable(err)) throw new StoreUnavailableError(undefined, { cause: err });
        throw err;
      }
    },
    async probeWrite() {
      // One small upsert, bounded like the ping (maxTimeMS on the server, `within` for server selection).
      const write = db
        .collection<{ _id: string; probedAt: Date }>('healthProbe')
        .updateOne({ _id: 'probe' }, { $set: { probedAt: new Date() } }, { upsert: true, maxTimeMS: PING_TIMEOUT_MS });
      write.catch(() => {}); // answered by the race below; a late failure must not go unhandled
      try {
        await within(write, PING_TIMEOUT_MS);
        return null;
      } catch (err) {
        // mongod answers OutOfDiskSpace (14031) when its disk is full; anything else (no primary, write
        // concern, timeout) is a write that did not happen for another reason.
        return (err as { code?: unknown }).code === MONGO_OUT_OF_DISK_SPACE ? 'disk_full' : 'write_failed';
      }
    },
    async close() {
      await client.close();
    },
  };
}
