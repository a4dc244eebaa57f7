import { MongoServerError, type AnyBulkWriteOperation, type ClientSession, type Db, type Document, type MongoClient } from 'mongodb';
import type { Arrivals } from '../arrivals.js';
import type { EventAudience, MailboxEntry, ServerEvent, SignalRecord } from '../types.js';

/**
 * One document per device (session) holding its entries in sequence order. 500 entries of 16 KiB stay
 * well under the 16 MiB document limit. Expired entries are dropped on every write and by
 * purgeExpired (a TTL index cannot reach array elements). `lastSeq` survives acknowledgement, so a
 * device's sequence (its cursor) never goes back. Documents written before devices existed were keyed
 * by user id and have no `userId`; migrateUserMailboxes (migrateMailboxes.ts) moves them at open.
 */
export interface MailboxDoc {
  _id: string; // the device's session id
  userId: string;
  lastSeq: number;
  signals: SignalRecord[];
}

/** A live session as a delivery target: its mailbox is keyed by `id` and records `userId`. */
export interface Device {
  id: string;
  userId: string;
}

export async function mongoMailboxesIndexes(db: Db): Promise<void> {
  const mailboxes = db.collection<MailboxDoc>('mailboxes');
  // Deleting an account pulls its unread signals and events out of other mailboxes.
  // MAILBOX_PER_SENDER needs no index of its own: a sender's share is counted inside the one mailbox
  // document per device that the send reads anyway (by _id).
  await mailboxes.createIndex({ 'signals.senderId': 1 });
  // Finds the per-user documents left to migrate ({userId: null} matches a missing field) without a scan.
  await mailboxes.createIndex({ userId: 1 });
}

/** A device's unexpired entries as an aggregation expression (`$signals` may be missing on a new document). */
export const liveSignals = (now: Date) => ({
  $filter: { input: { $ifNull: ['$signals', []] }, cond: { $gt: ['$$this.expiresAt', now] } },
});

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
  /** Numbers `entry` into each device's mailbox (its next seq), creating the mailbox when it has none. No caps. */
  deliver(devices: readonly Device[], entry: MailboxEntry, now: Date, session: ClientSession): Promise<void>;
  /**
   * Runs `change` in one transaction with the events `events` builds from its outcome (null: nothing
   * changed, no events), then wakes the devices that received them. Each event goes to its audience's
   * devices live at the event's `createdAt`.
   */
  withEvents<R>(change: (session: ClientSession) => Promise<R>, events: ((outcome: R) => ServerEvent[] | null) | undefined): Promise<R>;
}

export function mongoMailboxWrites(client: MongoClient, db: Db, arrivals: Arrivals): MongoMailboxWrites {
  const mailboxes = db.collection<MailboxDoc>('mailboxes');
  const sessions = db.collection<{ _id: string; userId: string; createdAt: Date; expiresAt: Date }>('sessions');
  const connections = db.collection<{ _id: string; lowId: string; highId: string; state: string }>('connections');

  const transact = async <R>(work: (session: ClientSession) => Promise<R>): Promise<R> => {
    for (let attempt = 1; ; attempt++) {
      try {
        // Snapshot reads and majority writes: every read of the transaction sees one consistent state,
        // and a write to a document someone else changed since aborts it (retried by withTransaction).
        return await client.withSession((session) =>
          session.withTransaction(() => work(session), { readConcern: { level: 'snapshot' }, writeConcern: { w: 'majority' } }),
        );
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

  /** One device's append: drop what expired, take the next seq, add the entry under it. */
  const appendOp = (device: Device, entry: MailboxEntry, now: Date): AnyBulkWriteOperation<MailboxDoc> => {
    const update: Document[] = [
      { $set: { userId: { $literal: device.userId }, lastSeq: { $add: [{ $ifNull: ['$lastSeq', 0] }, 1] }, signals: liveSignals(now) } },
      // $literal: a signal's payload is the client's ciphertext and may start with "$".
      { $set: { signals: { $concatArrays: ['$signals', [{ $mergeObjects: [{ $literal: entry }, { seq: '$lastSeq' }] }]] } } },
    ];
    // Upsert: a device has no mailbox document until its first entry.
    return { updateOne: { filter: { _id: device.id }, update, upsert: true } };
  };

  const deliver = async (devices: readonly Device[], entry: MailboxEntry, now: Date, session: ClientSession) => {
    if (devices.length === 0) return;
    // Ordered, so two entries for one device take its sequence numbers in the order given.
    await mailboxes.bulkWrite(devices.map((d) => appendOp(d, entry, now)), { session, ordered: true });
  };

  return {
    transact,
    devicesOf,
    deliver,
    async withEvents(change, events) {
      const { outcome, woken } = await transact(async (session) => {
        const outcome = await change(session);
        const woken: string[] = [];
        const ops: Array<AnyBulkWriteOperation<MailboxDoc>> = [];
        // Events are never refused by the caps: the rate limits of the actions that cause them bound them.
        for (const event of (events && events(outcome)) ?? []) {
          const at = event.entry.createdAt;
          for (const device of await audience(event.to, at, session)) {
            ops.push(appendOp(device, event.entry, at));
            woken.push(device.id);
          }
        }
        if (ops.length > 0) await mailboxes.bulkWrite(ops, { session, ordered: true });
        return { outcome, woken };
      });
      // After commit only, so a woken poll always finds what woke it.
      arrivals.emit(woken);
      return outcome;
    },
  };
}

/**
 * Deletes the mailboxes of ended sessions. Called after the sessions themselves are gone: a send that
 * read a session before it ended then conflicts with this delete (and runs again without it), or
 * committed first and its entries go with the mailbox. Should the device have had no mailbox yet, such
 * a send creates one nobody reads, which sessions.purgeExpired sweeps (deleteOrphanMailboxes).
 */
export async function deleteMailboxes(db: Db, deviceIds: readonly string[]): Promise<void> {
  if (deviceIds.length === 0) return;
  await db.collection<MailboxDoc>('mailboxes').deleteMany({ _id: { $in: [...deviceIds] } });
}

/**
 * Deletes mailboxes whose session no longer exists: sessions MongoDB's TTL index removed by itself,
 * and those a send created for a session that ended while it ran. Per-user documents not migrated
 * yet (no `userId`) are left for the migration.
 */
export async function deleteOrphanMailboxes(db: Db): Promise<number> {
  const mailboxes = db.collection<MailboxDoc>('mailboxes');
  const orphans = await mailboxes
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
  return (await mailboxes.deleteMany({ _id: { $in: orphans.map((o) => o._id) } })).deletedCount;
}
