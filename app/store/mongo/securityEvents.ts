import { ObjectId, type Db } from 'mongodb';
import type { SecurityEventRecord, SecurityEventStore } from '../types.js';

interface SecurityEventDoc extends Omit<SecurityEventRecord, 'id'> {
  /** ObjectId: increasing within a process, so it orders entries of the same millisecond by insertion. */
  _id: ObjectId;
  id: string;
}

const collection = (db: Db) => db.collection<SecurityEventDoc>('securityEvents');

export async function mongoSecurityEventsIndexes(db: Db): Promise<void> {
  // One account's log, newest first, from the index alone.
  await collection(db).createIndex({ userId: 1, at: -1, _id: -1 });
  // MongoDB drops expired entries itself; purgeExpired and list still compare expiresAt with now.
  await collection(db).createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0 }, undefined);
}

export function mongoSecurityEvents(db: Db): SecurityEventStore {
  const events = collection(db);
  const users = db.collection<{ _id: string }>('users');

  return {
    async add(e) {
      const _id = new ObjectId();
      await events.insertOne({ _id, ...e });
      // An entry only for a user that exists. Checked after the insert, and users.delete removes the
      // user before its log: whichever runs second removes this entry.
      if ((await users.countDocuments({ _id: e.userId }, { limit: 1 })) === 0) await events.deleteOne({ _id });
    },
    async list(userId, now, limit) {
      const docs = await events
        .find({ userId, expiresAt: { $gt: now } })
        .sort({ at: -1, _id: -1 })
        .limit(limit)
        .toArray();
      // Field by field, so `_id` never leaves.
      return docs.map((d) => ({
        id: d.id,
        userId: d.userId,
        type: d.type,
        at: d.at,
        deviceId: d.deviceId,
        platformEnc: d.platformEnc,
        networkEnc: d.networkEnc,
        actor: d.actor,
        expiresAt: d.expiresAt,
      }));
    },
    async purgeExpired(now) {
      return (await events.deleteMany({ expiresAt: { $lte: now } })).deletedCount;
    },
  };
}
