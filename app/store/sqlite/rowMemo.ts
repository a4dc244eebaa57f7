import type Database from 'better-sqlite3';
import { otherWritersWatch } from './otherWriters.js';

/**
 * Rows a point read found, remembered by key for the next read of the same key: a send reads its sender,
 * its recipient (by username) and their connection every time (bench/README.md, "Third round"). Sound on
 * the same terms as the session memo (sessions.ts, docs/architecture.md):
 * - the owner forgets a row in the very statement that changes it: a TEMP trigger of this connection
 *   (AFTER UPDATE, AFTER DELETE, which ON DELETE CASCADE fires too) calls `forget` for its keys, whichever
 *   module's statement it is;
 * - another connection's commit (the admin CLI, a second server on the file) changes `data_version`, and
 *   then everything is dropped before the next answer;
 * - only rows found are remembered, never an absence, so a row inserted later is always read.
 * A change rolled back has made the memo forget already: one read more, nothing else. The remembered
 * reads are the adapters' async point reads, which no transaction of this connection runs inside it, so
 * nothing uncommitted is ever remembered.
 */
export interface RowMemo<T> {
  get(key: string): T | undefined;
  /** Remembers `value` (frozen: one object answers many callers, none may change it for the others) and returns it. */
  remember(key: string, value: T): T;
  forget(key: string): void;
}

export function rowMemo<T extends object>(db: Database.Database, max: number): RowMemo<T> {
  const remembered = new Map<string, T>();
  const othersWrote = otherWritersWatch(db);
  return {
    get(key) {
      if (othersWrote()) {
        remembered.clear();
        return undefined;
      }
      return remembered.get(key);
    },
    remember(key, value) {
      // Past `max` the memo starts over: a key not in it is simply read.
      if (remembered.size >= max) remembered.clear();
      const frozen = Object.freeze(value);
      remembered.set(key, frozen);
      return frozen;
    },
    forget(key) {
      remembered.delete(key);
    },
  };
}
