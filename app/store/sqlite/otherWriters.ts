import type Database from 'better-sqlite3';

/**
 * For in-memory facts about the database that this connection keeps true by seeing its own writes:
 * SQLite's `PRAGMA data_version` changes when *another* connection commits to the file (the admin CLI,
 * a second store opened on it), never for this connection's own commits. Each watcher answers "has
 * another connection written since I last asked?", so its owner drops its memo before believing it.
 * The pragma is a counter read without I/O (about a microsecond).
 */
export function otherWritersWatch(db: Database.Database): () => boolean {
  const dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
  let seen = dataVersion.get()!;
  return () => {
    const now = dataVersion.get()!;
    if (now === seen) return false;
    seen = now;
    return true;
  };
}
