import type Database from 'better-sqlite3';
import type { KeyBackupStore } from '../types.js';
import type { SqliteMailboxWrites } from './mailboxWrites.js';

interface Row {
  user_id: string;
  backup: string;
  updated_at: number;
}

/** One key backup per account (key_backups), written with its key-backup.changed events in one transaction. */
export function sqliteKeyBackups(db: Database.Database, mailbox: SqliteMailboxWrites): KeyBackupStore {
  // Only for a user that exists: a backup racing the account's deletion stores nothing.
  const upsert = db.prepare<{ userId: string; backup: string; updatedAt: number }>(
    `INSERT INTO key_backups (user_id, backup, updated_at)
       SELECT @userId, @backup, @updatedAt WHERE EXISTS (SELECT 1 FROM users WHERE id = @userId)
     ON CONFLICT(user_id) DO UPDATE SET backup = excluded.backup, updated_at = excluded.updated_at`,
  );
  const find = db.prepare<[string], Row>('SELECT user_id, backup, updated_at FROM key_backups WHERE user_id = ?');
  const remove = db.prepare<[string]>('DELETE FROM key_backups WHERE user_id = ?');

  return {
    async put(record, events) {
      return mailbox.withEvents(
        () => upsert.run({ userId: record.userId, backup: record.backup, updatedAt: record.updatedAt.getTime() }).changes > 0,
        (stored) => (stored && events ? events() : null),
      );
    },
    async get(userId) {
      const row = find.get(userId);
      return row ? { userId: row.user_id, backup: row.backup, updatedAt: new Date(row.updated_at) } : null;
    },
    async delete(userId, events) {
      return mailbox.withEvents(
        () => remove.run(userId).changes > 0,
        (removed) => (removed && events ? events() : null),
      );
    },
  };
}
