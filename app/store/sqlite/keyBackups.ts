import type Database from 'better-sqlite3';
import type { KeyBackupStore } from '../types.js';
import type { SqliteMailboxWrites } from './mailboxWrites.js';

interface Row {
  user_id: string;
  backup: string;
  updated_at: number;
}

export function sqliteKeyBackups(db: Database.Database, mailbox: SqliteMailboxWrites): KeyBackupStore {
  // Only for a user that exists (the SELECT yields no row otherwise), so no foreign-key error to catch.
  const upsert = db.prepare<[string, string, number, string]>(
    `INSERT INTO key_backups (user_id, backup, updated_at) SELECT ?, ?, ? FROM users WHERE id = ?
     ON CONFLICT(user_id) DO UPDATE SET backup = excluded.backup, updated_at = excluded.updated_at`,
  );
  const get = db.prepare<[string], Row>('SELECT * FROM key_backups WHERE user_id = ?');
  const remove = db.prepare<[string]>('DELETE FROM key_backups WHERE user_id = ?');

  return {
    async put(record, events) {
      // key-backup.changed lands with the backup, in one transaction.
      return mailbox.withEvents(
        () => upsert.run(record.userId, record.backup, record.updatedAt.getTime(), record.userId).changes > 0,
        (ok) => (ok && events ? events() : null),
      );
    },
    async get(userId) {
      const row = get.get(userId);
      return row ? { userId: row.user_id, backup: row.backup, updatedAt: new Date(row.updated_at) } : null;
    },
    async delete(userId, events) {
      return mailbox.withEvents(
        () => remove.run(userId).changes > 0,
        (ok) => (ok && events ? events() : null),
      );
    },
  };
}
