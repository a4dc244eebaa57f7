import { MongoServerError, WriteConcern, type ClientSession, type Db, type Document, type MongoClient, type TransactionOptions } from 'mongodb';
import type { Arrivals } from '../arrivals.js';
import type { EventAudience, MailboxEntry, ServerEvent, SignalRecord } from '../types.js';

/**
 * A device's mailbox is two kinds of document, the twin of SQLite's device_mailboxes and device_signals:
 * - one small counter per device (`mailboxes`, keyed by the session id) holding the last sequence number
 *   handed out. It survives acknowledgement, so a device's sequence (its cursor) never goes back, and
 *   every append writes it, so two sends to one device inside transactions conflict and one runs again
 *   (that is what keeps MAILBOX_MAX and MAILBOX_PER_SENDER exact). Change streams watch it (signals.ts).
 * - one document per entry copy (`mailboxEntries`): a read is one indexed range of at most the poll's
 *   limit, acknowledgement and expiry delete documents, and no document grows with the mailbox. The
 *   earlier single document per device holding every entry in an array could pass MongoDB's 16 MiB
 *   document limit (MAILBOX_MAX × SIGNAL_MAX_BYTES: 500 × 1 MiB is allowed), was read whole on every
 *   poll, and purge had to rewrite every document holding an expired entry.
 * Unlike SQLite the payload is kept with each copy: a send reaches a handful of devices, and one
 * document per copy needs no join and no reference counting when copies are acknowledged apart.
 * Documents of the earlier shapes (an array per device, or per user before devices existed) are moved
 * at open by migrateMailboxes.ts.
 */
export interface MailboxDoc {
  _id: string; // the device's session id
  userId: string;
  lastSeq: number;
}

/** One copy of an entry in one device's mailbox: the record, plus whose mailbox it is in. */
export interface MailboxEntryDoc extends SignalRecord {
  deviceId: string;
  /**
   * True for a server event (a dotted type): events count apart from signals (EVENTS_MAX against
   * MAILBOX_MAX). Absent on copies written before; those are signals or events that expire within
   * SIGNAL_TTL, so the caps read "not true" as a signal.
   */
  event?: boolean;
  /** A connection request's events: the pair's key (ServerEvent.requestPair), else absent. */
  pairKey?: string;
}

/** Server events have dotted types, which no client can send (store/types.ts EventType). */
const isEventType = (type: string) => type.includes('.');

/** A signal, not a server event: what the two caps of a send count. */
const SIGNALS_ONLY = { event: { $ne: true } } as const;

/** A live session as a delivery target: its mailbox is keyed by `id` and records `userId`. */
export interface Device {
  id: string;
  userId: string;
}

export const mailboxCounters = (db: Db) => db.collection<MailboxDoc>('mailboxes');
export const mailboxEntries = (db: Db) => db.collection<MailboxEntryDoc>('mailboxEntries');

/** The copy as the port's record: field by field, so `deviceId` and `_id` never leave. */
export const toSignalRecord = (d: MailboxEntryDoc): SignalRecord => ({
  id: d.id,
  seq: d.seq,
  senderId: d.senderId,
  senderUsername: d.senderUsername,
  senderDeviceId: d.senderDeviceId,
  type: d.type,
  payload: d.payload,
  sessionId: d.sessionId,
  createdAt: d.createdAt,
  expiresAt: d.expiresAt,
});

export async function mongoMailboxesIndexes(db: Db): Promise<void> {
  const entries = mailboxEntries(db);
  // A device's entries in sequence order: reads (bounded by the poll's limit), acknowledgement, clearing.
  await entries.createIndex({ deviceId: 1, seq: 1 }, { unique: true }, undefined);
  // The two caps of a send (signals only) and EVENTS_MAX (events only), each counted from an index alone,
  // without reading a payload.
  await entries.createIndex({ deviceId: 1, expiresAt: 1 });
  await entries.createIndex({ deviceId: 1, event: 1, expiresAt: 1 });
  await entries.createIndex({ deviceId: 1, senderId: 1, event: 1, expiresAt: 1 });
  // A device's pending `connection.requested` of one pair, replaced or removed by the pair's next event.
  await entries.createIndex({ deviceId: 1, pairKey: 1, expiresAt: 1 }, { partialFilterExpression: { pairKey: { $exists: true } } }, undefined);
  // MongoDB drops expired copies itself (within about a minute); purgeExpired and every read still
  // compare expiresAt with now, and purge and countPending use this index instead of a scan.
  await entries.createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0 }, undefined);
  // Deleting an account removes its unread signals and events from other mailboxes.
  await entries.createIndex({ senderId: 1 });
  // Finds the per-user documents left to migrate ({userId: null} matches a missing field) without a scan.
  await mailboxCounters(db).createIndex({ userId: 1 });
  // Indexes nothing queries any more: the array shape's (it made every append index each entry), and the
  // per-sender count's from before events counted apart (now with `event`, above).
  const dropIfPresent = (drop: Promise<unknown>) =>
    drop.catch((err: unknown) => {
      if (!(err instanceof MongoServerError && (err.code === 27 || err.code === 26))) throw err; // IndexNotFound, NamespaceNotFound
    });
  await dropIfPresent(mailboxCounters(db).dropIndex('signals.senderId_1'));
  await dropIfPresent(entries.dropIndex('deviceId_1_senderId_1_expiresAt_1'));
}

/**
 * How long a transaction's commit may wait for a majority of the replica set to confirm it. Without a
 * bound of its own, a replica set that cannot confirm majority writes (a secondary down in a set of
 * two data members and an arbiter, or lagging) held each send for about two minutes before a 503: the
 * commit waits out its write-concern timeout (the driver sets 10 s when none is given), the driver
 * labels that timeout UnknownTransactionCommitResult, and withTransaction commits again and again until
 * its own 120 s are up, although the write has long been applied on the primary.
 *
 * maxCommitTimeMS becomes the commit's maxTimeMS: when it runs out first, mongod answers the write
 * concern with MaxTimeMSExpired, which withTransaction never retries, so the send gets its 503 (the
 * client retries it with its idempotency key) within this bound, well under a poll's 30 s hold. The
 * write-concern timeout is set just above it on purpose: a shorter one would end the wait with
 * WriteConcernFailed, which withTransaction does retry, and the two minutes would be back.
 */
export const COMMIT_MAX_MS = 5000;
export const TRANSACTION_OPTIONS = {
  // Snapshot reads and majority writes: every read of the transaction sees one consistent state, and a
  // write to a document someone else changed since aborts it (retried by withTransaction).
  readConcern: { level: 'snapshot' },
  writeConcern: new WriteConcern('majority', COMMIT_MAX_MS + 1000),
  maxCommitTimeMS: COMMIT_MAX_MS,
} as const satisfies TransactionOptions;

// A write that lost a race to a concurrent insert of the same key (an upsert of a new mailbox, an
// idempotency key, a connection pair) is retried from a fresh snapshot, where it sees the winner.
// Each retry means someone else committed, so a few always suffice. Write conflicts between
// transactions are retried by withTransaction itself.
const MAX_ATTEMPTS = 5;
const isDuplicate = (err: unknown) => err instanceof MongoServerError && err.code === 11000;

/**
 * The one way anything enters a device's mailbox, shared by sends (signals.ts) and by the changes that
 * cause server events (connections.ts, users.ts), the twin of sqlite/mailboxWrites.ts. Everything
 * runs inside a multi-document transaction (which needs a replica set; index.ts checks at open).
 */
export interface MongoMailboxWrites {
  /**
   * Runs `work` in one transaction (`{ session }` must reach every operation). `work` may run more
   * than once when the transaction is retried, so it must do nothing but database operations.
   */
  transact<R>(work: (session: ClientSession) => Promise<R>): Promise<R>;
  /** The user's live devices (sessions not expired at `now`), oldest first. */
  devicesOf(userId: string, now: Date, session: ClientSession): Promise<Device[]>;
  /**
   * Live signals in each of the devices' mailboxes at `now`, all of them and those from `senderId`
   * (the two caps of a send; server events count apart); a device with none is absent. Counted from indexes alone.
   */
  counts(deviceIds: readonly string[], senderId: string, now: Date, session: ClientSession): Promise<Map<string, { live: number; fromSender: number }>>;
  /**
   * Numbers `entry` into each device's mailbox (its next seq), creating the device's counter when it has
   * none. No caps. `pairKey` marks a connection request's events (ServerEvent.requestPair).
   */
  deliver(devices: readonly Device[], entry: MailboxEntry, session: ClientSession, pairKey?: string): Promise<void>;
  /**
   * Runs `change` in one transaction with the events `events` builds from its outcome (null: nothing
   * changed, no events), then wakes the devices that received them. Each event goes to its audience's
   * devices live at the event's `createdAt`, under the bounds for events (ServerEvent).
   */
  withEvents<R>(change: (session: ClientSession) => Promise<R>, events: ((outcome: R) => ServerEvent[] | null) | undefined): Promise<R>;
}

export function mongoMailboxWrites(client: MongoClient, db: Db, arrivals: Arrivals): MongoMailboxWrites {
  const counters = mailboxCounters(db);
  const entries = mailboxEntries(db);
  const sessions = db.collection<{ _id: string; userId: string; createdAt: Date; expiresAt: Date }>('sessions');
  const connections = db.collection<{ _id: string; lowId: string; highId: string; state: string }>('connections');

  const transact = async <R>(work: (session: ClientSession) => Promise<R>): Promise<R> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await client.withSession((session) => session.withTransaction(() => work(session), TRANSACTION_OPTIONS));
      } catch (err) {
        if (!isDuplicate(err) || attempt >= MAX_ATTEMPTS) throw err;
      }
    }
  };

  const toDevices = (docs: Array<{ _id: string; userId: string }>): Device[] => docs.map((d) => ({ id: d._id, userId: d.userId }));

  const devicesOf = async (userId: string, now: Date, session: ClientSession) =>
    toDevices(
      await sessions
        .find({ userId, expiresAt: { $gt: now } }, { session, projection: { _id: 1, userId: 1 } })
        .sort({ createdAt: 1, _id: 1 })
        .toArray(),
    );

  const audience = async (to: EventAudience, now: Date, session: ClientSession): Promise<Device[]> => {
    if (!('connectionsOf' in to)) return (await devicesOf(to.userId, now, session)).filter((d) => d.id !== to.exceptDevice);
    const user = to.connectionsOf;
    const peers = (
      await connections.find({ state: 'accepted', $or: [{ lowId: user }, { highId: user }] }, { session, projection: { lowId: 1, highId: 1 } }).toArray()
    ).map((c) => (c.lowId === user ? c.highId : c.lowId));
    if (peers.length === 0) return [];
    return toDevices(
      await sessions
        .find({ userId: { $in: peers }, expiresAt: { $gt: now } }, { session, projection: { _id: 1, userId: 1 } })
        .sort({ userId: 1, createdAt: 1, _id: 1 })
        .toArray(),
    );
  };

  const counts = async (deviceIds: readonly string[], senderId: string, now: Date, session: ClientSession) => {
    const byDevice = new Map<string, { live: number; fromSender: number }>();
    if (deviceIds.length === 0) return byDevice;
    const count = (match: Document) =>
      entries.aggregate<{ _id: string; n: number }>([{ $match: match }, { $group: { _id: '$deviceId', n: { $sum: 1 } } }], { session }).toArray();
    const ids = [...deviceIds];
    for (const c of await count({ deviceId: { $in: ids }, ...SIGNALS_ONLY, expiresAt: { $gt: now } })) byDevice.set(c._id, { live: c.n, fromSender: 0 });
    for (const c of await count({ deviceId: { $in: ids }, senderId, ...SIGNALS_ONLY, expiresAt: { $gt: now } })) byDevice.get(c._id)!.fromSender = c.n;
    return byDevice;
  };

  /** Removes the device's pending `connection.requested` of `pair`; whether there was one. */
  const removePendingRequest = async (deviceId: string, pair: string, now: Date, session: ClientSession): Promise<boolean> => {
    const { deletedCount } = await entries.deleteMany({ deviceId, pairKey: pair, type: 'connection.requested', expiresAt: { $gt: now } }, { session });
    return deletedCount > 0;
  };

  /** Drops the device's pending events past the newest `keep` (EVENTS_MAX), oldest first. */
  const trimEvents = async (deviceId: string, now: Date, keep: number, session: ClientSession): Promise<void> => {
    const past = await entries
      .find({ deviceId, event: true, expiresAt: { $gt: now } }, { session, projection: { _id: 1 } })
      .sort({ seq: -1 })
      .skip(keep)
      .toArray();
    if (past.length > 0) await entries.deleteMany({ _id: { $in: past.map((d) => d._id) } }, { session });
  };

  const deliver = async (devices: readonly Device[], entry: MailboxEntry, session: ClientSession, pairKey?: string) => {
    if (devices.length === 0) return;
    const copies: MailboxEntryDoc[] = [];
    // One after another (a transaction's operations must not overlap), so two entries for one device
    // take its sequence numbers in the order given.
    for (const device of devices) {
      // Upsert: a device has no counter until its first entry. Writing it is also what makes two
      // transactions appending to one device conflict (one of them runs again and re-counts).
      const counter = await counters.findOneAndUpdate(
        { _id: device.id },
        { $inc: { lastSeq: 1 }, $set: { userId: device.userId } },
        { upsert: true, returnDocument: 'after', projection: { lastSeq: 1 }, session },
      );
      // A plain insert, never an update: a payload is the client's ciphertext, stored as given even
      // when it starts with "$".
      copies.push({
        ...entry,
        seq: counter!.lastSeq,
        deviceId: device.id,
        event: isEventType(entry.type),
        ...(pairKey === undefined ? {} : { pairKey }),
      });
    }
    await entries.insertMany(copies, { session, ordered: true });
  };

  return {
    transact,
    devicesOf,
    counts,
    deliver,
    async withEvents(change, events) {
      const { outcome, woken } = await transact(async (session) => {
        const outcome = await change(session);
        const woken: string[] = [];
        // Events are never refused and never refuse a signal: they count apart, and each device keeps only
        // its newest `eventsMax` pending ones (docs/security.md, "Mailbox bounds for strangers").
        for (const event of (events && events(outcome)) ?? []) {
          const now = event.entry.createdAt;
          let devices = await audience(event.to, now, session);
          const pair = event.requestPair;
          if (pair !== undefined && event.entry.type === 'connection.removed') {
            // A request the device never took out: both go, and the device hears of neither. One after
            // another: a transaction's operations must not overlap.
            const kept: Device[] = [];
            for (const d of devices) if (!(await removePendingRequest(d.id, pair, now, session))) kept.push(d);
            devices = kept;
          } else if (pair !== undefined && event.entry.type === 'connection.requested') {
            for (const d of devices) await removePendingRequest(d.id, pair, now, session);
          }
          await deliver(devices, event.entry, session, pair);
          for (const d of devices) await trimEvents(d.id, now, event.eventsMax, session);
          woken.push(...devices.map((d) => d.id));
        }
        return { outcome, woken };
      });
      // After commit only, so a woken poll always finds what woke it.
      arrivals.emit(woken);
      return outcome;
    },
  };
}

/**
 * Deletes the mailboxes of ended sessions: each counter, then each copy. Called after the sessions
 * themselves are gone: a send that read a session before it ended wrote its counter, so it either
 * committed before the counter's deletion (and its copies go with the copies here) or conflicts with
 * it and runs again without the session. Should the device have had no counter yet, such a send
 * creates one nobody reads, which sessions.purgeExpired sweeps (deleteOrphanMailboxes); its copies
 * expire.
 */
export async function deleteMailboxes(db: Db, deviceIds: readonly string[]): Promise<void> {
  if (deviceIds.length === 0) return;
  await mailboxCounters(db).deleteMany({ _id: { $in: [...deviceIds] } });
  await mailboxEntries(db).deleteMany({ deviceId: { $in: [...deviceIds] } });
}

/** Removes the unread signals and events `senderId` caused from every mailbox (account deletion). */
export async function deleteEntriesFrom(db: Db, senderId: string): Promise<void> {
  await mailboxEntries(db).deleteMany({ senderId });
}

/**
 * How long one instance's orphan sweep holds the cluster's turn: a little under the purge interval
 * (10 minutes, main.ts), so the sweep runs about once per interval however many instances share the
 * database, and the instance that ran it can take the next turn despite a few seconds of clock skew.
 */
export const ORPHAN_SWEEP_TURN_MS = 9 * 60_000;

interface TurnDoc {
  _id: string;
  until: Date;
}

/**
 * Takes the cluster-wide turn `name` until `now + forMs` when nobody holds it; whether this caller got
 * it. One upsert: when someone else's turn has not ended, the filter matches nothing and the upsert's
 * insert meets their document (duplicate key), which is the answer "not yours"; two instances racing
 * for a free turn meet the same way, so exactly one wins.
 */
export async function takeTurn(db: Db, name: string, now: Date, forMs: number): Promise<boolean> {
  try {
    await db.collection<TurnDoc>('turns').updateOne({ _id: name, until: { $lte: now } }, { $set: { until: new Date(now.getTime() + forMs) } }, { upsert: true });
    return true;
  } catch (err) {
    if (isDuplicate(err)) return false;
    throw err;
  }
}

/**
 * The orphan sweep below, on one instance per turn: it reads every counter with a join on sessions,
 * which every instance used to do at every purge. Answers how many it deleted (0 when it was another
 * instance's turn).
 */
export async function sweepOrphanMailboxesInTurn(db: Db, now: Date): Promise<number> {
  if (!(await takeTurn(db, 'orphanMailboxSweep', now, ORPHAN_SWEEP_TURN_MS))) return 0;
  return deleteOrphanMailboxes(db);
}

/**
 * Deletes mailboxes whose session no longer exists: sessions MongoDB's TTL index removed by itself,
 * and those a send created for a session that ended while it ran. Per-user documents not migrated
 * yet (no `userId`) are left for the migration. Called through sweepOrphanMailboxesInTurn.
 */
export async function deleteOrphanMailboxes(db: Db): Promise<number> {
  const orphans = await mailboxCounters(db)
    .aggregate<{ _id: string }>([
      { $match: { userId: { $ne: null } } },
      { $project: { _id: 1 } },
      { $lookup: { from: 'sessions', localField: '_id', foreignField: '_id', as: 'session' } },
      { $match: { session: { $size: 0 } } },
      { $project: { _id: 1 } },
    ])
    .toArray();
  if (orphans.length === 0) return 0;
  // Each orphan's session id is gone for good (ids are never reused), so nothing can revive it meanwhile.
  const ids = orphans.map((o) => o._id);
  const { deletedCount } = await mailboxCounters(db).deleteMany({ _id: { $in: ids } });
  await mailboxEntries(db).deleteMany({ deviceId: { $in: ids } });
  return deletedCount;
}
