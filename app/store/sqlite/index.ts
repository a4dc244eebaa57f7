import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Arrivals } from '../arrivals.js';
import { guardUnavailable } from '../guard.js';
import { StoreUnavailableError, type Store } from '../types.js';
import { sqliteConnections } from './connections.js';
import { groupCommit } from './groupCommit.js';
import { sqliteMailboxWrites } from './mailboxWrites.js';
import { migrate } from './migrations.js';
import { sqlitePresence } from './presence.js';
import { sqlitePushSubscriptions } from './pushSubscriptions.js';
import { sqliteRateLimits } from './rateLimits.js';
import { sqliteResetCodes } from './resetCodes.js';
import { sqliteSignals } from './signals.js';
import { sqliteTwoFactor } from './twoFactor.js';
import { sqliteSessions } from './sessions.js';
import { sqliteUsers } from './users.js';

/** Opens (creating and migrating as needed) the embedded SQLite store at `file`. */
export function openSqliteStore(file: string): Store {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const db = new Database(file);
  // WAL lets readers run beside the writer; NORMAL sync is crash-safe in WAL mode (a power cut may
  // lose the last transactions, never corrupt the file), and a signaling server favours latency.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);

  // A closed handle (shutdown) or a locked/unreadable file means "not there": answer 503, not 500.
  const isUnavailable = (err: unknown) =>
    !db.open || ['SQLITE_BUSY', 'SQLITE_CANTOPEN', 'SQLITE_IOERR'].some((c) => String((err as { code?: string }).code).startsWith(c));

  // Sends and the changes that cause server events write mailboxes the same way, and wake polls through one feed.
  const arrivals = new Arrivals();
  const mailbox = sqliteMailboxWrites(db, arrivals);
  // Sends, acknowledgements and lastSeen touches of one event-loop turn share one commit.
  const commits = groupCommit(db, arrivals);

  return {
    kind: 'sqlite',
    users: guardUnavailable(sqliteUsers(db, mailbox), isUnavailable),
    sessions: guardUnavailable(sqliteSessions(db, commits), isUnavailable),
    rateLimits: guardUnavailable(sqliteRateLimits(db), isUnavailable),
    resetCodes: guardUnavailable(sqliteResetCodes(db), isUnavailable),
    twoFactor: guardUnavailable(sqliteTwoFactor(db), isUnavailable),
    signals: guardUnavailable(sqliteSignals(db, mailbox, arrivals, commits), isUnavailable),
    connections: guardUnavailable(sqliteConnections(db, mailbox), isUnavailable),
    presence: guardUnavailable(sqlitePresence(db, commits), isUnavailable),
    pushSubscriptions: guardUnavailable(sqlitePushSubscriptions(db), isUnavailable),
    async ping() {
      if (!db.open) throw new StoreUnavailableError('database is closed');
      db.prepare('SELECT 1').get();
    },
    async close() {
      if (db.open) db.close();
    },
  };
}
