import type { Db } from 'mongodb';
import type { Arrivals } from '../arrivals.js';
import type { AppendRefusal, SendResult, SignalStore } from '../types.js';
import { liveSignals, type Device, type MailboxDoc, type MongoMailboxWrites } from './mailboxes.js';

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
  await sent.createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0 });
  // Deleting an account forgets its keys.
  await sent.createIndex({ senderId: 1 });
}

/** Per-device mailboxes (mailboxes.ts) and the idempotency keys of sends, the twin of sqlite/signals.ts. */
export function mongoSignals(db: Db, mailbox: MongoMailboxWrites, arrivals: Arrivals): SignalStore {
  const mailboxes = db.collection<MailboxDoc>('mailboxes');
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
        // Read, decide, write: a concurrent send to one of these mailboxes changes it after this
        // snapshot, so one of the two transactions aborts on the write and is retried, re-counting.
        const counts = new Map(
          (
            await mailboxes
              .aggregate<{ _id: string; live: number; fromSender: number }>(
                [
                  { $match: { _id: { $in: targets.map((d) => d.id) } } },
                  {
                    $project: {
                      live: { $size: liveSignals(i.now) },
                      fromSender: { $size: { $filter: { input: liveSignals(i.now), cond: { $eq: ['$$this.senderId', { $literal: s.senderId }] } } } },
                    },
                  },
                ],
                { session },
              )
              .toArray()
          ).map((c) => [c._id, c]),
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
        await mailbox.deliver(stored, s, i.now, session);
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
      const doc = await mailboxes.findOne({ _id: deviceId }, { projection: { signals: 1 } });
      return (doc?.signals ?? []).filter((s) => s.expiresAt > now).slice(0, limit);
    },
    async ack(deviceId, upTo) {
      const before = await mailboxes.findOneAndUpdate(
        { _id: deviceId },
        { $pull: { signals: { seq: { $lte: upTo } } } },
        { returnDocument: 'before', projection: { acked: { $size: { $filter: { input: '$signals', cond: { $lte: ['$$this.seq', upTo] } } } } } },
      );
      return (before as unknown as { acked?: number } | null)?.acked ?? 0;
    },
    async clear(deviceId) {
      const before = await mailboxes.findOneAndUpdate(
        { _id: deviceId },
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
      await sent.deleteMany({ expiresAt: { $lte: now } });
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
    onArrival(listener) {
      return arrivals.listen(listener);
    },
    watchArrivals(listener, onFailure) {
      // Only writes that numbered a new entry (a new mailbox, or lastSeq moved; a pipeline update may
      // be logged as a replacement): acknowledgements and purges wake nobody. The key is the device.
      const stream = mailboxes.watch([
        {
          $match: {
            $or: [{ operationType: { $in: ['insert', 'replace'] } }, { 'updateDescription.updatedFields.lastSeq': { $exists: true } }],
          },
        },
      ]);
      stream.on('change', (change) => {
        if ('documentKey' in change) listener(String(change.documentKey._id));
      });
      stream.on('error', onFailure); // e.g. the replica set went away
      return () => stream.close();
    },
  };
}
