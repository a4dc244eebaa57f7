import { MongoServerError, type Db, type Document } from 'mongodb';
import type { SignalRecord, SignalStore } from '../types.js';

/**
 * One document per mailbox holding its signals in sequence order. Numbering and inserting a signal
 * is then one single-document update: atomic without transactions, so no reader ever sees seq n+1
 * before n, and the cap is checked in the same step. 500 signals of 16 KiB stay well under the
 * 16 MiB document limit. Expired signals are dropped on every append and by purgeExpired (a TTL
 * index cannot reach array elements).
 */
interface MailboxDoc {
  _id: string; // the recipient's user id
  lastSeq: number;
  signals: SignalRecord[];
}

export async function mongoSignalsIndexes(db: Db): Promise<void> {
  // Deleting an account pulls its unread signals out of other mailboxes.
  // MAILBOX_PER_SENDER needs no index of its own: a sender's share is counted inside the one mailbox
  // document the append updates anyway (found by _id), in the same atomic step as MAILBOX_MAX.
  await db.collection<MailboxDoc>('mailboxes').createIndex({ 'signals.senderId': 1 });
}

const liveSignals = (now: Date) => ({
  $filter: { input: { $ifNull: ['$signals', []] }, cond: { $gt: ['$$this.expiresAt', now] } },
});

export function mongoSignals(db: Db): SignalStore {
  const mailboxes = db.collection<MailboxDoc>('mailboxes');

  return {
    async append(recipientId, signal, now, { max, perSender }) {
      const full = { $gte: [{ $size: '$signals' }, max] };
      const fromSender = { $size: { $filter: { input: '$signals', cond: { $eq: ['$$this.senderId', { $literal: signal.senderId }] } } } };
      const refused = { $or: [full, { $gte: [fromSender, perSender] }] };
      const nextSeq = { $add: [{ $ifNull: ['$lastSeq', 0] }, 1] };
      const update: Document[] = [
        { $set: { signals: liveSignals(now) } },
        {
          $set: {
            lastSeq: { $cond: [refused, { $ifNull: ['$lastSeq', 0] }, nextSeq] },
            // $literal: the payload is the client's ciphertext and may start with "$".
            signals: { $cond: [refused, '$signals', { $concatArrays: ['$signals', [{ $mergeObjects: [{ $literal: signal }, { seq: nextSeq }] }]] }] },
          },
        },
      ];
      const run = () =>
        mailboxes.findOneAndUpdate({ _id: recipientId }, update, {
          upsert: true,
          returnDocument: 'after',
          // A refused append left the live signals as they were, so `full` here is what refused it.
          projection: { lastSeq: 1, newest: { $arrayElemAt: ['$signals.id', -1] }, full },
        });
      let doc;
      try {
        doc = await run();
      } catch (err) {
        // Two first signals raced to create the mailbox; the loser appends to the winner's.
        if (!(err instanceof MongoServerError && err.code === 11000)) throw err;
        doc = await run();
      }
      const after = doc as unknown as { lastSeq: number; newest?: string; full?: boolean } | null;
      if (after && after.newest === signal.id) return after.lastSeq;
      return after?.full === false ? 'sender_share' : 'mailbox_full';
    },
    async pending(recipientId, now, limit) {
      const doc = await mailboxes.findOne({ _id: recipientId }, { projection: { signals: 1 } });
      return (doc?.signals ?? []).filter((s) => s.expiresAt > now).slice(0, limit);
    },
    async ack(recipientId, upTo) {
      const before = await mailboxes.findOneAndUpdate(
        { _id: recipientId },
        { $pull: { signals: { seq: { $lte: upTo } } } },
        { returnDocument: 'before', projection: { acked: { $size: { $filter: { input: '$signals', cond: { $lte: ['$$this.seq', upTo] } } } } } },
      );
      return (before as unknown as { acked?: number } | null)?.acked ?? 0;
    },
    async clear(recipientId) {
      const before = await mailboxes.findOneAndUpdate(
        { _id: recipientId },
        { $set: { signals: [] } },
        { returnDocument: 'before', projection: { n: { $size: { $ifNull: ['$signals', []] } } } },
      );
      return (before as unknown as { n?: number } | null)?.n ?? 0;
    },
    async countPending(now) {
      const [row] = await mailboxes
        .aggregate<{ n: number }>([{ $project: { n: { $size: liveSignals(now) } } }, { $group: { _id: null, n: { $sum: '$n' } } }])
        .toArray();
      return row?.n ?? 0;
    },
    async purgeExpired(now) {
      const expired = await mailboxes
        .aggregate<{ n: number }>([
          { $match: { 'signals.expiresAt': { $lte: now } } },
          { $project: { n: { $size: { $filter: { input: '$signals', cond: { $lte: ['$$this.expiresAt', now] } } } } } },
          { $group: { _id: null, n: { $sum: '$n' } } },
        ])
        .toArray();
      await mailboxes.updateMany({ 'signals.expiresAt': { $lte: now } }, { $pull: { signals: { expiresAt: { $lte: now } } } });
      return expired[0]?.n ?? 0;
    },
    watchArrivals(listener, onFailure) {
      // Only changes that numbered a new signal: acknowledgements and purges wake nobody.
      const stream = mailboxes.watch([
        { $match: { $or: [{ operationType: 'insert' }, { 'updateDescription.updatedFields.lastSeq': { $exists: true } }] } },
      ]);
      stream.on('change', (change) => {
        if ('documentKey' in change) listener(String(change.documentKey._id));
      });
      stream.on('error', onFailure); // e.g. a standalone server: change streams need a replica set
      return () => stream.close();
    },
  };
}
