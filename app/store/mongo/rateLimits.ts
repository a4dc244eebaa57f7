import { MongoServerError, type Db } from 'mongodb';
import type { RateLimitStore } from '../types.js';

interface RateDoc {
  _id: string;
  count: number;
  resetAt: Date;
}

export async function mongoRateLimitsIndexes(db: Db): Promise<void> {
  // MongoDB drops ended windows itself; reads still compare resetAt with now.
  await db.collection<RateDoc>('rateLimits').createIndex({ resetAt: 1 }, { expireAfterSeconds: 0 }, undefined);
}

export function mongoRateLimits(db: Db): RateLimitStore {
  const limits = db.collection<RateDoc>('rateLimits');

  const upsert = (key: string, now: Date, windowMs: number, cost: number) => {
    const live = { $gt: ['$resetAt', now] }; // false for a new document: a missing field sorts before any date
    // One pipeline update, so two concurrent hits can never both read the old count. A negative cost
    // (a refund) never takes a count below zero, so a refund arriving after its window ended gives no extra tries.
    return limits.findOneAndUpdate(
      { _id: key },
      [
        {
          $set: {
            count: { $cond: [live, { $max: [0, { $add: ['$count', cost] }] }, Math.max(cost, 0)] },
            resetAt: { $cond: [live, '$resetAt', new Date(now.getTime() + windowMs)] },
          },
        },
      ],
      { upsert: true, returnDocument: 'after' },
    );
  };

  return {
    async hit(key, now, windowMs, cost = 1) {
      let doc: RateDoc | null;
      try {
        doc = await upsert(key, now, windowMs, cost);
      } catch (err) {
        // Two first hits raced to insert the same key; the loser updates the winner's document.
        if (!(err instanceof MongoServerError && err.code === 11000)) throw err;
        doc = await upsert(key, now, windowMs, cost);
      }
      return { count: doc!.count, resetAt: doc!.resetAt };
    },
    async peek(key, now) {
      const doc = await limits.findOne({ _id: key, resetAt: { $gt: now } });
      return doc ? { count: doc.count, resetAt: doc.resetAt } : null;
    },
    async reset(key) {
      await limits.deleteOne({ _id: key });
    },
    async purgeExpired(now) {
      return (await limits.deleteMany({ resetAt: { $lte: now } })).deletedCount;
    },
  };
}
