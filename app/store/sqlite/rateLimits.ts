import type Database from 'better-sqlite3';
import type { RateCount, RateLimitStore } from '../types.js';

interface Row {
  count: number;
  reset_at: number;
}

const toCount = (row: Row): RateCount => ({ count: row.count, resetAt: new Date(row.reset_at) });

export function sqliteRateLimits(db: Database.Database): RateLimitStore {
  // One upsert, so two concurrent hits can never both read the old count. A negative cost (a refund)
  // never takes a count below zero, so a refund arriving after its window ended gives no extra tries.
  const hit = db.prepare<{ key: string; cost: number; resetAt: number; now: number }, Row>(
    `INSERT INTO rate_limits (key, count, reset_at) VALUES (:key, max(:cost, 0), :resetAt)
     ON CONFLICT(key) DO UPDATE SET
       count    = CASE WHEN reset_at <= :now THEN excluded.count ELSE max(count + :cost, 0) END,
       reset_at = CASE WHEN reset_at <= :now THEN excluded.reset_at ELSE reset_at END
     RETURNING count, reset_at`,
  );
  const peek = db.prepare<[string, number], Row>('SELECT count, reset_at FROM rate_limits WHERE key = ? AND reset_at > ?');
  const reset = db.prepare<[string]>('DELETE FROM rate_limits WHERE key = ?');
  const purge = db.prepare<[number]>('DELETE FROM rate_limits WHERE reset_at <= ?');

  return {
    async hit(key, now, windowMs, cost = 1) {
      const t = now.getTime();
      // A window ending exactly now has ended.
      return toCount(hit.get({ key, cost, resetAt: t + windowMs, now: t })!);
    },
    async peek(key, now) {
      const row = peek.get(key, now.getTime());
      return row ? toCount(row) : null;
    },
    async reset(key) {
      reset.run(key);
    },
    async purgeExpired(now) {
      return purge.run(now.getTime()).changes;
    },
  };
}
