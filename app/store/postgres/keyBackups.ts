import type pg from 'pg';
import type { KeyBackupStore } from '../types.js';
import type { PgMailboxWrites } from './mailbox.js';

export function pgKeyBackups(pool: pg.Pool, mailbox: PgMailboxWrites): KeyBackupStore {
  return {
    async put(r, events) {
      // key-backup.changed lands with the backup, in one transaction; only for a user that exists.
      return mailbox.withEvents(
        async (q) =>
          ((
            await q.query(
              `INSERT INTO key_backups (user_id, backup, updated_at) SELECT $1, $2, $3::timestamptz FROM users WHERE id = $1
               ON CONFLICT (user_id) DO UPDATE SET backup = excluded.backup, updated_at = excluded.updated_at`,
              [r.userId, r.backup, r.updatedAt],
            )
          ).rowCount ?? 0) > 0,
        (ok) => (ok && events ? events() : null),
      );
    },
    async get(userId) {
      const { rows } = await pool.query<{ user_id: string; backup: string; updated_at: Date }>('SELECT * FROM key_backups WHERE user_id = $1', [userId]);
      return rows[0] ? { userId: rows[0].user_id, backup: rows[0].backup, updatedAt: rows[0].updated_at } : null;
    },
    async delete(userId, events) {
      return mailbox.withEvents(
        async (q) => ((await q.query('DELETE FROM key_backups WHERE user_id = $1', [userId])).rowCount ?? 0) > 0,
        (ok) => (ok && events ? events() : null),
      );
    },
  };
}
