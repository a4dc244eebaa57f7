import type Database from 'better-sqlite3';
import type { PresenceStore } from '../types.js';
import type { GroupCommit } from './groupCommit.js';

interface Row {
  user_id: string;
  last_seen: number;
  signed_out_at: number | null;
}

export function sqlitePresence(db: Database.Database, commits: GroupCommit): PresenceStore {
  // max(): two instances writing out of order never move lastSeen backwards.
  const touch = db.prepare<[string, number]>(
    `INSERT INTO presence (user_id, last_seen, signed_out_at) VALUES (?, ?, NULL)
     ON CONFLICT(user_id) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)`,
  );
  // Signing out is itself a sign of life, so a user without a row gets one seen at that moment.
  const signOut = db.prepare<{ user: string; at: number }>(
    `INSERT INTO presence (user_id, last_seen, signed_out_at) VALUES (@user, @at, @at)
     ON CONFLICT(user_id) DO UPDATE SET signed_out_at = excluded.signed_out_at, last_seen = max(last_seen, excluded.last_seen)`,
  );
  // json_each takes the whole id list as one parameter, so the statement is prepared once.
  const find = db.prepare<[string], Row>('SELECT * FROM presence WHERE user_id IN (SELECT value FROM json_each(?))');

  // The account was deleted between authentication and here: nothing to record.
  const ignoringGoneUser = (write: () => unknown) => {
    try {
      write();
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_CONSTRAINT_FOREIGNKEY') throw err;
    }
  };

  return {
    // In the group commit, like the device's lastSeen: one commit for all the users seen in a turn.
    touch(userId, at) {
      const write = () => ignoringGoneUser(() => touch.run(userId, at.getTime()));
      return commits.enqueue(write, write);
    },
    async signOut(userId, at) {
      ignoringGoneUser(() => signOut.run({ user: userId, at: at.getTime() }));
    },
    async find(userIds) {
      if (userIds.length === 0) return [];
      return find.all(JSON.stringify(userIds)).map((r) => ({
        userId: r.user_id,
        lastSeen: new Date(r.last_seen),
        signedOutAt: r.signed_out_at === null ? null : new Date(r.signed_out_at),
      }));
    },
  };
}
