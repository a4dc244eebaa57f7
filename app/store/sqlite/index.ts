import type BetterSqlite3 from 'better-sqlite3';
import Database from './driver.js';
import { mkdirSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { Arrivals } from '../arrivals.js';
import { guardUnavailable } from '../guard.js';
import { StoreUnavailableError, type Store, type WriteFailure } from '../types.js';
import { sqliteConnections } from './connections.js';
import { groupCommit } from './groupCommit.js';
import { sqliteKeyBackups } from './keyBackups.js';
import { sqliteMailboxWrites } from './mailboxWrites.js';
import { migrate } from './migrations.js';
import { sqlitePresence } from './presence.js';
import { sqlitePushSubscriptions } from './pushSubscriptions.js';
import { sqliteRateLimits } from './rateLimits.js';
import { sqliteResetCodes } from './resetCodes.js';
import { sqliteSignals } from './signals.js';
import { sqliteTwoFactor } from './twoFactor.js';
import { sqliteSessions } from './sessions.js';
import { isStorageFailure, writeFailureOf } from './storageErrors.js';
import { sqliteUsers } from './users.js';

/** How hard a commit is pushed to the disk (SQLITE_SYNCHRONOUS); docs/operations.md explains the choice. */
export type SqliteSynchronous = 'normal' | 'full';

/**
 * WAL lets readers run beside the writer. With `normal` a commit is in the WAL file (the OS has it) when
 * it returns, so a crash of the process loses nothing, and the WAL is fsynced at each checkpoint: a power
 * cut may lose the commits since the last one, never corrupt the file. `full` also fsyncs the WAL at every
 * commit, so an acknowledged write survives a power cut too, at the price of one flush per commit group.
 */
export function applyDurability(db: BetterSqlite3.Database, synchronous: SqliteSynchronous): void {
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
}

/** Opens (creating and migrating as needed) the embedded SQLite store at `file`. */
export function openSqliteStore(file: string, options: { synchronous?: SqliteSynchronous } = {}): Store {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const db = new Database(file);
  // A signaling server favours latency, so NORMAL unless the operator asks for FULL.
  applyDurability(db, options.synchronous ?? 'normal');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);

  // A closed handle (shutdown), a locked file, a full disk, a read-only or failing file system: the
  // store cannot serve this now, so answer 503 (retry later), not 500. SQLite has rolled the write back.
  const isUnavailable = (err: unknown) => !db.open || isStorageFailure(err);
  const probeWrite = writeProbe(db, dirname(file));

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
    keyBackups: guardUnavailable(sqliteKeyBackups(db, mailbox), isUnavailable),
    async ping() {
      if (!db.open) throw new StoreUnavailableError('database is closed');
      db.prepare('SELECT 1').get();
    },
    async probeWrite() {
      if (!db.open) throw new StoreUnavailableError('database is closed');
      return probeWrite();
    },
    async close() {
      if (db.open) db.close();
    },
  };
}

/**
 * Below this much free space on the database's file system the store reports `disk_full` even though
 * the probe's one-row write committed: a write into WAL frames the file already holds needs no new
 * blocks, so a tiny write can succeed on a full disk while a send (a new signal body, mailbox rows and
 * index pages) fails. 1 MiB holds a few dozen of the largest sends (16 KiB payloads) and their pages.
 */
export const DISK_FREE_FLOOR_BYTES = 1024 * 1024;

/** The write probe of GET /health: update the one row of health_probe in a transaction, then check free space. */
function writeProbe(db: BetterSqlite3.Database, dir: string): () => WriteFailure | null {
  const touch = db.prepare<[number]>('UPDATE health_probe SET probed_at = ? WHERE id = 1');
  const probe = db.transaction((at: number) => touch.run(at));
  return () => {
    try {
      probe.immediate(Date.now());
    } catch (err) {
      const failure = writeFailureOf(err);
      if (failure) return failure;
      throw err;
    }
    const fs = statfsSync(dir);
    // bavail, not bfree: the blocks an unprivileged server may use (ext4 keeps 5 % for root).
    return fs.bavail * fs.bsize < DISK_FREE_FLOOR_BYTES ? 'disk_full' : null;
  };
}
