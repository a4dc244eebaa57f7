import { MongoServerError, type Db } from 'mongodb';
import type { TwoFactorStore } from '../types.js';

interface TwoFactorDoc {
  _id: string; // the user id: one factor per user
  secretEnc: string;
  enabled: boolean;
  lastStep: number | null;
  /** Keyed hashes of the unspent recovery codes; each is $pull-ed when spent. */
  recoveryHashes?: string[];
}

export function mongoTwoFactor(db: Db): TwoFactorStore {
  const factors = db.collection<TwoFactorDoc>('twoFactor');
  const users = db.collection<{ _id: string }>('users');

  return {
    async get(userId) {
      const doc = await factors.findOne({ _id: userId });
      return doc ? { userId, secretEnc: doc.secretEnc, enabled: doc.enabled, lastStep: doc.lastStep } : null;
    },
    async setPending(userId, secretEnc) {
      let created: boolean;
      try {
        // Matches only a missing or pending factor; for an enabled one the upsert's insert hits the _id.
        created = (await factors.updateOne({ _id: userId, enabled: false }, { $set: { secretEnc, lastStep: null } }, { upsert: true })).upsertedCount > 0;
      } catch (err) {
        if (err instanceof MongoServerError && err.code === 11000) return false;
        throw err;
      }
      // A factor only for a user that exists (an upsert alone made one for any id). Checked after the
      // insert, and users.delete removes the user before its factor: whichever runs second removes it.
      if (created && (await users.countDocuments({ _id: userId }, { limit: 1 })) === 0) {
        await factors.deleteOne({ _id: userId, enabled: false });
        return false;
      }
      return true;
    },
    async enable(userId, step, recoveryHashes) {
      // One document: the factor goes on with its codes in one atomic update.
      const set = { enabled: true, lastStep: step, recoveryHashes: [...recoveryHashes] };
      return (await factors.updateOne({ _id: userId, enabled: false }, { $set: set })).modifiedCount > 0;
    },
    async useStep(userId, step) {
      const filter = { _id: userId, enabled: true, $or: [{ lastStep: null }, { lastStep: { $lt: step } }] };
      return (await factors.updateOne(filter, { $set: { lastStep: step } })).modifiedCount > 0;
    },
    async useRecoveryCode(userId, codeHash) {
      // The filter matches only while the hash is still in the array: of two uses, one pulls it.
      const filter = { _id: userId, enabled: true, recoveryHashes: codeHash };
      return (await factors.updateOne(filter, { $pull: { recoveryHashes: codeHash } })).modifiedCount > 0;
    },
    async countRecoveryCodes(userId) {
      const doc = await factors.findOne({ _id: userId, enabled: true }, { projection: { recoveryHashes: 1 } });
      return doc?.recoveryHashes?.length ?? 0;
    },
    async delete(userId) {
      return (await factors.deleteOne({ _id: userId })).deletedCount > 0;
    },
  };
}
