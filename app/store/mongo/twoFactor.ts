import { MongoServerError, type Db } from 'mongodb';
import type { TwoFactorStore } from '../types.js';

interface TwoFactorDoc {
  _id: string; // the user id: one factor per user
  secretEnc: string;
  enabled: boolean;
  lastStep: number | null;
}

export function mongoTwoFactor(db: Db): TwoFactorStore {
  const factors = db.collection<TwoFactorDoc>('twoFactor');

  return {
    async get(userId) {
      const doc = await factors.findOne({ _id: userId });
      return doc ? { userId, secretEnc: doc.secretEnc, enabled: doc.enabled, lastStep: doc.lastStep } : null;
    },
    async setPending(userId, secretEnc) {
      try {
        // Matches only a missing or pending factor; for an enabled one the upsert's insert hits the _id.
        await factors.updateOne({ _id: userId, enabled: false }, { $set: { secretEnc, lastStep: null } }, { upsert: true });
        return true;
      } catch (err) {
        if (err instanceof MongoServerError && err.code === 11000) return false;
        throw err;
      }
    },
    async enable(userId, step) {
      return (await factors.updateOne({ _id: userId, enabled: false }, { $set: { enabled: true, lastStep: step } })).modifiedCount > 0;
    },
    async useStep(userId, step) {
      const filter = { _id: userId, enabled: true, $or: [{ lastStep: null }, { lastStep: { $lt: step } }] };
      return (await factors.updateOne(filter, { $set: { lastStep: step } })).modifiedCount > 0;
    },
    async delete(userId) {
      return (await factors.deleteOne({ _id: userId })).deletedCount > 0;
    },
  };
}
