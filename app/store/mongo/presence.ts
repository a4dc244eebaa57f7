import { MongoServerError, type Collection, type Db, type UpdateFilter } from 'mongodb';
import type { PresenceStore } from '../types.js';

interface PresenceDoc {
  _id: string; // the user id
  lastSeen: Date;
  signedOutAt: Date | null;
}

const isDuplicate = (err: unknown) => err instanceof MongoServerError && err.code === 11000;

export function mongoPresence(db: Db): PresenceStore {
  const presence: Collection<PresenceDoc> = db.collection<PresenceDoc>('presence');
  const users = db.collection<{ _id: string }>('users');

  /** An upsert; two first writes racing to insert the same user retry once as an update. */
  const upsert = async (userId: string, update: UpdateFilter<PresenceDoc>) => {
    try {
      await presence.updateOne({ _id: userId }, update, { upsert: true });
    } catch (err) {
      if (!isDuplicate(err)) throw err;
      await presence.updateOne({ _id: userId }, update, { upsert: true });
    }
  };

  /**
   * Updates the user's record, creating it only for a user that exists: an upsert alone made one for
   * any id, such as an account deleted between authentication and here, and nothing ever removed it.
   * The user is checked after the insert (as sessions.create does) and users.delete removes the user
   * before its presence, so whichever of the two runs second removes the record.
   */
  const write = async (userId: string, update: UpdateFilter<PresenceDoc>) => {
    if ((await presence.updateOne({ _id: userId }, update)).matchedCount > 0) return;
    await upsert(userId, update);
    if ((await users.countDocuments({ _id: userId }, { limit: 1 })) === 0) await presence.deleteOne({ _id: userId });
  };

  return {
    async touch(userId, at) {
      // $max: two instances writing out of order never move lastSeen backwards.
      await write(userId, { $max: { lastSeen: at }, $setOnInsert: { signedOutAt: null } });
    },
    async signOut(userId, at) {
      await write(userId, { $max: { lastSeen: at }, $set: { signedOutAt: at } });
    },
    async find(userIds) {
      if (userIds.length === 0) return [];
      const docs = await presence.find({ _id: { $in: [...userIds] } }).toArray();
      return docs.map((d) => ({ userId: d._id, lastSeen: d.lastSeen, signedOutAt: d.signedOutAt }));
    },
  };
}
