import type { Db } from 'mongodb';
import type { KeyBackupStore } from '../types.js';
import type { MongoMailboxWrites } from './mailboxes.js';

interface KeyBackupDoc {
  _id: string; // the user id: one backup per account
  backup: string;
  updatedAt: Date;
}

export function mongoKeyBackups(db: Db, mailbox: MongoMailboxWrites): KeyBackupStore {
  const backups = db.collection<KeyBackupDoc>('keyBackups');
  const users = db.collection<{ _id: string; txnSerial?: number }>('users');

  return {
    async put(record, events) {
      // key-backup.changed lands with the backup. Bumping the user's txnSerial is the existence check
      // and makes the transaction conflict with a deletion of the user (users.delete removes the user
      // first, then the backup): either this committed first and the backup goes, or it runs again and
      // finds no user.
      return mailbox.withEvents(
        async (session) => {
          if ((await users.updateOne({ _id: record.userId }, { $inc: { txnSerial: 1 } }, { session })).matchedCount === 0) return false;
          await backups.replaceOne({ _id: record.userId }, { backup: record.backup, updatedAt: record.updatedAt }, { upsert: true, session });
          return true;
        },
        (ok) => (ok && events ? events() : null),
      );
    },
    async get(userId) {
      const doc = await backups.findOne({ _id: userId });
      return doc ? { userId, backup: doc.backup, updatedAt: doc.updatedAt } : null;
    },
    async delete(userId, events) {
      return mailbox.withEvents(
        async (session) => (await backups.deleteOne({ _id: userId }, { session })).deletedCount > 0,
        (ok) => (ok && events ? events() : null),
      );
    },
  };
}
