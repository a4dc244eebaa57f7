import type pg from 'pg';
import type { ResetCodeStore } from '../types.js';
import { transaction } from './db.js';

export function pgResetCodes(pool: pg.Pool): ResetCodeStore {
  return {
    async put(c) {
      await pool.query(
        `INSERT INTO reset_codes (user_id, code_hash, tries, created_at, expires_at) VALUES ($1, $2, 0, $3, $4)
         ON CONFLICT (user_id) DO UPDATE SET code_hash = excluded.code_hash, tries = 0, created_at = excluded.created_at, expires_at = excluded.expires_at`,
        [c.userId, c.codeHash, c.createdAt, c.expiresAt],
      );
    },
    async redeem(userId, codeHash, now, maxTries) {
      // The code's row lock: two guesses at once (on any instances) cannot both see the same count of tries.
      return transaction(pool, async (q) => {
        const { rows } = await q.query<{ code_hash: string; tries: number; expires_at: Date }>(
          'SELECT code_hash, tries, expires_at FROM reset_codes WHERE user_id = $1 FOR UPDATE',
          [userId],
        );
        const row = rows[0];
        if (!row) return false;
        const remove = () => q.query('DELETE FROM reset_codes WHERE user_id = $1', [userId]);
        if (row.expires_at <= now) {
          await remove();
          return false;
        }
        if (row.code_hash === codeHash) {
          await remove();
          return true;
        }
        if (row.tries + 1 >= maxTries) await remove();
        else await q.query('UPDATE reset_codes SET tries = tries + 1 WHERE user_id = $1', [userId]);
        return false;
      });
    },
    async purgeExpired(now) {
      return (await pool.query('DELETE FROM reset_codes WHERE expires_at <= $1', [now])).rowCount ?? 0;
    },
  };
}
