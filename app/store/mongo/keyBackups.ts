import type { Db } from 'mongodb';
import type { KeyBackupStore } from '../types.js';
import type { MongoMailboxWrites } from './mailboxes.js';

interface KeyBackupDoc {
  _id: string; // the user id: one backup per account
  backup: string;
  updatedAt: Date;
}

/**
 * One key backup per account (`keyBackups`), written with its key-backup.changed events in one
 * transaction. users.delete removes it with the account.
 */
export function mongoKeyBackups(db: Db, mailbox: MongoMailboxWrites): KeyBackupStore {
  const backups = db.collection<KeyBackupDoc>('keyBackups');
  const users = db.collection<{ _id: string; txnSerial?: number }>('users');

  return {
    async put(record, events) {
      return mailbox.withEvents(
        async (session) => {
          // Writing the user document (txnSerial, as setPgpKey does) makes the transaction conflict with the
          // account's deletion: either the user is still there and the backup goes with it later, or nothing is stored.
          const exists = (await users.updateOne({ _id: record.userId }, { $inc: { txnSerial: 1 } }, { session })).matchedCount > 0;
          if (!exists) return false;
          await backups.updateOne(
            { _id: record.userId },
            { $set: { backup: record.backup, updatedAt: record.updatedAt } },
            { upsert: true, session },
          );
          return true;
        },
        (stored) => (stored && events ? events() : null),
      );
    },
    async get(userId) {
      const doc = await backups.findOne({ _id: userId });
      return doc ? { userId, backup: doc.backup, updatedAt: doc.updatedAt } : null;
    },
    async delete(userId, events) {
      return mailbox.withEvents(
        async (session) => (await backups.deleteOne({ _id: userId }, { session })).deletedCount > 0,
        (removed) => (removed && events ? events() : null),
      );
    },
  };
}
