import type pg from 'pg';
import type { PresenceStore } from '../types.js';
import { isForeignKeyViolation } from './errors.js';

export function pgPresence(pool: pg.Pool): PresenceStore {
  // The account was deleted between authentication and here: nothing to record.
  const ignoringGoneUser = async (write: Promise<unknown>) => {
    try {
      await write;
    } catch (err) {
      if (!isForeignKeyViolation(err)) throw err;
    }
  };
  return {
    async touch(userId, at) {
      // GREATEST: two instances writing out of order never move lastSeen backwards.
      await ignoringGoneUser(
        pool.query(
          `INSERT INTO presence (user_id, last_seen, signed_out_at) VALUES ($1, $2, NULL)
           ON CONFLICT (user_id) DO UPDATE SET last_seen = GREATEST(presence.last_seen, excluded.last_seen)`,
          [userId, at],
        ),
      );
    },
    async signOut(userId, at) {
      // Signing out is itself a sign of life, so a user without a row gets one seen at that moment.
      await ignoringGoneUser(
        pool.query(
          `INSERT INTO presence (user_id, last_seen, signed_out_at) VALUES ($1, $2, $2)
           ON CONFLICT (user_id) DO UPDATE SET signed_out_at = excluded.signed_out_at, last_seen = GREATEST(presence.last_seen, excluded.last_seen)`,
          [userId, at],
        ),
      );
    },
    async find(userIds) {
      if (userIds.length === 0) return [];
      const { rows } = await pool.query<{ user_id: string; last_seen: Date; signed_out_at: Date | null }>('SELECT * FROM presence WHERE user_id = ANY($1::text[])', [
        [...userIds],
      ]);
      return rows.map((r) => ({ userId: r.user_id, lastSeen: r.last_seen, signedOutAt: r.signed_out_at }));
    },
  };
}
