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
  await db.collection<ResetCodeDoc>('resetCodes').createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0 }, undefined);
}

export function mongoResetCodes(db: Db): ResetCodeStore {
  const codes = db.collection<ResetCodeDoc>('resetCodes');

  return {
    async put(code) {
      await codes.replaceOne({ _id: code.userId }, { codeHash: code.codeHash, tries: 0, createdAt: code.createdAt, expiresAt: code.expiresAt }, { upsert: true });
    },
    async redeem(userId, codeHash, now, maxTries) {
      // Claim a try before comparing: the conditional $inc lets exactly maxTries guesses through, however
      // many arrive at once (comparing first let every one of N parallel guesses be checked).
      const claimed = await codes.findOneAndUpdate(
        { _id: userId, tries: { $lt: maxTries }, expiresAt: { $gt: now } },
        { $inc: { tries: 1 } },
        { returnDocument: 'after' },
      );
      if (!claimed) {
        // None, expired, or out of tries: a leftover of the last two goes now rather than at purge.
        await codes.deleteOne({ _id: userId, $or: [{ expiresAt: { $lte: now } }, { tries: { $gte: maxTries } }] });
        return false;
      }
      if (claimed.codeHash === codeHash) {
        // The delete is the redemption: of two right guesses at once only one deletes the code, and a
        // newer code put meanwhile (another hash) is not this one to take.
        return (await codes.deleteOne({ _id: userId, codeHash })).deletedCount > 0;
      }
      if (claimed.tries >= maxTries) await codes.deleteOne({ _id: userId, codeHash: claimed.codeHash });
      return false;
    },
    async purgeExpired(now) {
      return (await codes.deleteMany({ expiresAt: { $lte: now } })).deletedCount;
    },
  };
}
