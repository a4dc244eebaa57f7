import type { Db } from 'mongodb';
import type { ResetCodeStore } from '../types.js';

interface ResetCodeDoc {
  _id: string; // the user id: one code per user, so a new code replaces the old one
  codeHash: string;
  tries: number;
  createdAt: Date;
  expiresAt: Date;
}

export async function mongoResetCodesIndexes(db: Db): Promise<void> {
  await db.collection<ResetCodeDoc>('resetCodes').createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0 });
}

export function mongoResetCodes(db: Db): ResetCodeStore {
  const codes = db.collection<ResetCodeDoc>('resetCodes');

  return {
    async put(code) {
      await codes.replaceOne(
        { _id: code.userId },
        { codeHash: code.codeHash, tries: 0, createdAt: code.createdAt, expiresAt: code.expiresAt },
        { upsert: true },
      );
    },
    async redeem(userId, codeHash, now, maxTries) {
      // The matching delete is the whole redemption: of two concurrent uses only one deletes it.
      const used = await codes.findOneAndDelete({ _id: userId, codeHash, expiresAt: { $gt: now } });
      if (used) return true;
      // Count the wrong try atomically, then burn the code once it reached maxTries.
      const after = await codes.findOneAndUpdate({ _id: userId }, { $inc: { tries: 1 } }, { returnDocument: 'after' });
      if (after && (after.tries >= maxTries || after.expiresAt <= now)) await codes.deleteOne({ _id: userId, tries: after.tries });
      return false;
    },
    async purgeExpired(now) {
      return (await codes.deleteMany({ expiresAt: { $lte: now } })).deletedCount;
    },
  };
}
