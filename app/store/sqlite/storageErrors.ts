import type { WriteFailure } from '../types.js';

/**
 * SQLite's answers that mean "the storage under the database cannot serve this now" rather than "this
 * request is wrong": the client should retry later (503 with Retry-After), not be told of a bug (500).
 * SQLite rolls back the failed statement or transaction, so nothing stored is lost or half-written.
 * Extended codes (SQLITE_IOERR_WRITE, SQLITE_READONLY_DBMOVED, ...) share their primary code's prefix.
 */
const STORAGE_FAILURES: ReadonlyArray<readonly [prefix: string, failure: WriteFailure | null]> = [
  // The disk or its quota is full (ENOSPC, EDQUOT). Reads still work.
  ['SQLITE_FULL', 'disk_full'],
  // The file, its directory or its file system became read-only (a remount after disk errors, chattr +i).
  ['SQLITE_READONLY', 'read_only'],
  // The disk failed a read, write or fsync; the file could not be (re)opened (the directory went away).
  ['SQLITE_IOERR', 'io_error'],
  ['SQLITE_CANTOPEN', 'io_error'],
  // Another process (the backup script, an admin's sqlite3 shell) holds the write lock past busy_timeout.
  ['SQLITE_BUSY', null],
];

const codeOf = (err: unknown): string => String((err as { code?: unknown } | null | undefined)?.code);

/** True for an error of the storage (full, read-only, I/O, locked): answered 503 unavailable. */
export function isStorageFailure(err: unknown): boolean {
  const code = codeOf(err);
  return STORAGE_FAILURES.some(([prefix]) => code.startsWith(prefix));
}

/** What /health reports for a failed write probe: the storage failure it was, or null for anything else. */
export function writeFailureOf(err: unknown): WriteFailure | null {
  const code = codeOf(err);
  const found = STORAGE_FAILURES.find(([prefix]) => code.startsWith(prefix));
  return found ? (found[1] ?? 'write_failed') : null;
}
