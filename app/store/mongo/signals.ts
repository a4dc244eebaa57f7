import type { Db } from 'mongodb';
import type { Arrivals } from '../arrivals.js';
import type { AppendRefusal, SendResult, SignalStore } from '../types.js';
import { mailboxCounters, mailboxEntries, toSignalRecord, type Device, type MongoMailboxWrites } from './mailboxes.js';
import { resilientWatch } from './resilientWatch.js';

/** A send's idempotency key, remembered until the signal it sent expires (MongoDB's TTL index, and purgeExpired). */
interface SentSignalDoc {
  _id: string; // `${senderId}:${key}`: user ids hold no ':', so no two pairs meet
  senderId: string;
  signalId: string;
  expiresAt: Date;
  devices: number;
}

export async function mongoSignalsIndexes(db: Db): Promise<void> {
  const sent = db.collection<SentSignalDoc>('sentSignals');
  await sent.createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0 }, undefined);
  // Deleting an account forgets its keys.
  await sent.createIndex({ senderId: 1 });
}

/**
 * How long a broken change stream waits before it is opened again: soon after a stream that worked (a
 * failover takes seconds), then doubling up to half a minute while MongoDB stays away.
 */
const WATCH_BACKOFF = { firstMs: 500, maxMs: 30_000 };

/** Per-device mailboxes (mailboxes.ts) and the idempotency keys of sends, the twin of sqlite/signals.ts. */
export function mongoSignals(db: Db, mailbox: MongoMailboxWrites, arrivals: Arrivals): SignalStore {
  const counters = mailboxCounters(db);
  const entries = mailboxEntries(db);
  const sent = db.collection<SentSignalDoc>('sentSignals');

  return {
    async send(i) {
      const s = i.signal;
      const keyId = i.idempotencyKey === undefined ? undefined : `${s.senderId}:${i.idempotencyKey}`;
      // The key check, the fan-out and the key itself in one transaction: every device gets the signal
      // or none does, and of two concurrent retries with one key only one stores it (the other's
      // writes conflict, and its retry finds the key).
      const result = await mailbox.transact(async (session): Promise<SendResult> => {
        if (keyId !== undefined) {
          const first = await sent.findOne({ _id: keyId, expiresAt: { $gt: i.now } }, { session });
          if (first) return { outcome: 'repeat', id: first.signalId, expiresAt: first.expiresAt, devices: first.devices };
        }
        // A device never receives its own signals.
        let targets = (await mailbox.devicesOf(i.toUserId, i.now, session)).filter((d) => d.id !== s.senderDeviceId);
        if (i.toDevice !== undefined) {
          const only = targets.find((d) => d.id === i.toDevice);
          if (!only) return { outcome: 'no_device' };
          targets = [only];
        }
        // Read, decide, write: a concurrent send to one of these devices writes its counter after this
        // snapshot, so one of the two transactions aborts on the write and is retried, re-counting.
        const counts = await mailbox.counts(
          targets.map((d) => d.id),
          s.senderId,
          i.now,
          session,
        );
        const stored: Device[] = [];
        let refusal: AppendRefusal | undefined;
        for (const device of targets) {
          const c = counts.get(device.id); // none yet: an empty mailbox
          if (c && c.live >= i.limits.max) refusal ??= 'mailbox_full';
          else if (c && c.fromSender >= i.limits.perSender) refusal ??= 'sender_share';
          else stored.push(device);
        }
        if (refusal && stored.length === 0) return { outcome: 'refused', reason: refusal };
        await mailbox.deliver(stored, s, session);
        if (keyId !== undefined) {
          // Replace: an expired key (not purged yet) gives way to the new send.
          const doc: SentSignalDoc = { _id: keyId, senderId: s.senderId, signalId: s.id, expiresAt: s.expiresAt, devices: stored.length };
          await sent.replaceOne({ _id: keyId }, doc, { upsert: true, session });
        }
        return { outcome: 'stored', devices: stored.map((d) => d.id) };
      });
      if (result.outcome === 'stored') arrivals.emit(result.devices);
      return result;
    },
    async pending(deviceId, now, limit) {
      // One indexed range, at most `limit` documents: a poll never reads more than it answers.
      const docs = await entries
        .find({ deviceId, expiresAt: { $gt: now } })
        .sort({ seq: 1 })
        .limit(limit)
        .toArray();
      return docs.map(toSignalRecord);
    },
    async ack(deviceId, upTo) {
      return (await entries.deleteMany({ deviceId, seq: { $lte: upTo } })).deletedCount;
    },
    async clear(deviceId) {
      return (await entries.deleteMany({ deviceId })).deletedCount;
    },
    async countPending(now) {
      return entries.countDocuments({ expiresAt: { $gt: now } });
    },
    async purgeExpired(now) {
      await sent.deleteMany({ expiresAt: { $lte: now } });
      // Through the expiresAt index, only what expired (the TTL index usually got there first).
      return (await entries.deleteMany({ expiresAt: { $lte: now } })).deletedCount;
    },
    onArrival(listener) {
      return arrivals.listen(listener);
    },
    watchArrivals(listener, onFailure, onRecovered) {
      // Only a device's counter is watched: it is written exactly when an entry is numbered into that
      // device's mailbox (acknowledgements, purges and expiry touch only the entries, and wake nobody),
      // and its key is the device. Inserts, updates and replacements alike (an update may be logged as
      // either), and only the key is sent, never the document. The resume token (_id) stays.
      return resilientWatch<{ documentKey?: { _id: string } }>(
        () =>
          counters.watch<{ _id: string }, { documentKey?: { _id: string } }>([
            { $match: { operationType: { $in: ['insert', 'update', 'replace'] } } },
            { $project: { documentKey: 1 } },
          ]),
        (change) => {
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-conversion -- the key is what the server sends, not checked against the counter's type
          if (change.documentKey) listener(String(change.documentKey._id));
        },
        // An invalidate event (the collection dropped) carries no key and is the stream's last: a new one opens.
        { backoff: WATCH_BACKOFF, onFailure, ...(onRecovered ? { onRecovered } : {}), isLast: (change) => !change.documentKey },
      );
    },
  };
}
