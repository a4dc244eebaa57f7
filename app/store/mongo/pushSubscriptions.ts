import { type Collection, type Db } from 'mongodb';
import { mailboxEntries } from './mailboxes.js';
import type { PushKind, PushSubscriptionRecord, PushSubscriptionStore } from '../types.js';

interface PushSubscriptionDoc {
  _id: string; // the device's session id
  userId: string;
  kind: PushKind;
  targetEnc: string;
  createdAt: Date;
}

const toRecord = (d: PushSubscriptionDoc): PushSubscriptionRecord => ({
  deviceId: d._id,
  userId: d.userId,
  kind: d.kind,
  targetEnc: d.targetEnc,
  createdAt: d.createdAt,
});

export async function mongoPushSubscriptionsIndexes(db: Db): Promise<void> {
  // Deleting an account can remove its subscriptions by user; _id (the device) needs no index of its own.
  await db.collection<PushSubscriptionDoc>('pushSubscriptions').createIndex({ userId: 1 });
}

/**
 * One document per device. MongoDB has no cascade: a session that ends leaves its document behind, so
 * every read keeps only documents whose session is still there (one `$in` on sessions by _id) and
 * removes the others as it finds them.
 */
export function mongoPushSubscriptions(db: Db): PushSubscriptionStore {
  const subs: Collection<PushSubscriptionDoc> = db.collection<PushSubscriptionDoc>('pushSubscriptions');
  const sessions = db.collection<{ _id: string; userId: string; expiresAt: Date }>('sessions');
  const entries = mailboxEntries(db);

  const live = async (docs: PushSubscriptionDoc[]): Promise<PushSubscriptionDoc[]> => {
    if (docs.length === 0) return docs;
    const found = await sessions.find({ _id: { $in: docs.map((d) => d._id) } }, { projection: { _id: 1, userId: 1 } }).toArray();
    const alive = new Map(found.map((s) => [s._id, s.userId]));
    const [keep, gone] = [docs.filter((d) => alive.get(d._id) === d.userId), docs.filter((d) => alive.get(d._id) !== d.userId)];
    if (gone.length > 0) await subs.deleteMany({ _id: { $in: gone.map((d) => d._id) } });
    return keep;
  };

  return {
    async put(record, now) {
      const session = await sessions.findOne({ _id: record.deviceId, userId: record.userId, expiresAt: { $gt: now } }, { projection: { _id: 1 } });
      if (!session) return false;
      await subs.replaceOne(
        { _id: record.deviceId },
        { userId: record.userId, kind: record.kind, targetEnc: record.targetEnc, createdAt: record.createdAt },
        { upsert: true },
      );
      return true;
    },
    async find(deviceId) {
      const doc = await subs.findOne({ _id: deviceId });
      const [kept] = await live(doc ? [doc] : []);
      return kept ? toRecord(kept) : null;
    },
    async findMany(deviceIds) {
      if (deviceIds.length === 0) return [];
      return (await live(await subs.find({ _id: { $in: [...deviceIds] } }).toArray())).map(toRecord);
    },
    async delete(deviceId, targetEnc) {
      const filter = targetEnc === undefined ? { _id: deviceId } : { _id: deviceId, targetEnc };
      return (await subs.deleteOne(filter)).deletedCount > 0;
    },
    async owed(now) {
      const docs = await live(await subs.find({}).toArray());
      if (docs.length === 0) return [];
      const counts = await entries
        .aggregate<{ _id: string; count: number }>([
          { $match: { deviceId: { $in: docs.map((d) => d._id) }, expiresAt: { $gt: now } } },
          { $group: { _id: '$deviceId', count: { $sum: 1 } } },
        ])
        .toArray();
      return counts.map((c) => ({ deviceId: c._id, count: c.count }));
    },
  };
}
