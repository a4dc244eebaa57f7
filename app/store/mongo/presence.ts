import { MongoServerError, type Collection, type Db } from 'mongodb';
import type { PresenceStore } from '../types.js';

interface PresenceDoc {
  _id: string; // the user id
  lastSeen: Date;
  signedOutAt: Date | null;
}

const isDuplicate = (err: unknown) => err instanceof MongoServerError && err.code === 11000;

export function mongoPresence(db: Db): PresenceStore {
  const presence: Collection<PresenceDoc> = db.collection<PresenceDoc>('presence');

  /** An upsert; two first writes racing to insert the same user retry once as an update. */
  const upsert = async (userId: string, update: Parameters<Collection<PresenceDoc>['updateOne']>[1]) => {
    try {
      await presence.updateOne({ _id: userId }, update, { upsert: true });
    } catch (err) {
      if (!isDuplicate(err)) throw err;
      await presence.updateOne({ _id: userId }, update, { upsert: true });
    }
  };

  return {
    async touch(userId, at) {
      // $max: two instances writing out of order never move lastSeen backwards.
      await upsert(userId, { $max: { lastSeen: at }, $setOnInsert: { signedOutAt: null } });
    },
    async signOut(userId, at) {
      await upsert(userId, { $max: { lastSeen: at }, $set: { signedOutAt: at } });
    },
    async find(userIds) {
      if (userIds.length === 0) return [];
      const docs = await presence.find({ _id: { $in: [...userIds] } }).toArray();
      return docs.map((d) => ({ userId: d._id, lastSeen: d.lastSeen, signedOutAt: d.signedOutAt }));
    },
  };
}
