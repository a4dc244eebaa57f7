import type pg from 'pg';
import type { RateCount, RateLimitStore } from '../types.js';

const toCount = (row: { count: number; reset_at: Date }): RateCount => ({ count: row.count, resetAt: row.reset_at });

export function pgRateLimits(pool: pg.Pool): RateLimitStore {
  return {
    async hit(key, now, windowMs, cost = 1) {
      // One upsert, so two concurrent hits (from any instance) never both read the old count. A negative
      // cost (a refund) never takes a count below zero. A window ending exactly now has ended.
      const { rows } = await pool.query<{ count: number; reset_at: Date }>(
        `INSERT INTO rate_limits (key, count, reset_at) VALUES ($1, GREATEST($2::bigint, 0), $3)
         ON CONFLICT (key) DO UPDATE SET
           count    = CASE WHEN rate_limits.reset_at <= $4 THEN excluded.count ELSE GREATEST(rate_limits.count + $2::bigint, 0) END,
           reset_at = CASE WHEN rate_limits.reset_at <= $4 THEN excluded.reset_at ELSE rate_limits.reset_at END
         RETURNING count, reset_at`,
        [key, cost, new Date(now.getTime() + windowMs), now],
      );
      return toCount(rows[0]!);
    },
    async peek(key, now) {
      const { rows } = await pool.query<{ count: number; reset_at: Date }>('SELECT count, reset_at FROM rate_limits WHERE key = $1 AND reset_at > $2', [key, now]);
      return rows[0] ? toCount(rows[0]) : null;
    },
    async reset(key) {
      await pool.query('DELETE FROM rate_limits WHERE key = $1', [key]);
    },
    async purgeExpired(now) {
      return (await pool.query('DELETE FROM rate_limits WHERE reset_at <= $1', [now])).rowCount ?? 0;
    },
  };
}
