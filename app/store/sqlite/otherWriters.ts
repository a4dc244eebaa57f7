import type Database from 'better-sqlite3';
import { subscribe } from 'node:diagnostics_channel';

/**
 * For in-memory facts about the database that this connection keeps true by seeing its own writes:
 * SQLite's `PRAGMA data_version` changes when *another* connection commits to the file (the admin CLI,
 * a second store opened on it), never for this connection's own commits. Each watcher answers "has
 * another connection written since I last asked?", so its owner drops its memo before believing it.
 *
 * Reading the pragma runs a statement (~3 µs; two per empty poll were 9 % of it, bench/README.md), so one
 * reading serves every check until it may be stale. A reading answers for any request that arrived
 * before it was taken: a commit that finished before the client sent its request finished before the
 * server read those bytes, so before any reading made while serving them. Hence a reading goes stale
 * when the next request arrives (Node's `http.server.request.start` channel, published before the
 * request is handed to any code) and at the end of the event-loop turn it was taken in (for work that
 * no request starts: timers such as the held polls' session re-check).
 */
let generation = 0;
let endOfTurnPending = false;
const nextGeneration = () => {
  generation += 1;
};
subscribe('http.server.request.start', nextGeneration);

interface Reading {
  version: number;
  generation: number;
}

const readings = new WeakMap<Database.Database, { read: () => number }>();

/** One cached reading of `data_version` per connection, shared by its watchers. */
function dataVersionOf(db: Database.Database): () => number {
  let reader = readings.get(db);
  if (!reader) {
    const pragma = db.prepare<[], number>('PRAGMA data_version').pluck();
    const last: Reading = { version: 0, generation: generation - 1 };
    reader = {
      read() {
        if (last.generation !== generation) {
          last.version = pragma.get()!;
          last.generation = generation;
          if (!endOfTurnPending) {
            endOfTurnPending = true;
            setImmediate(() => {
              endOfTurnPending = false;
              nextGeneration();
            });
          }
        }
        return last.version;
      },
    };
    readings.set(db, reader);
  }
  return reader.read;
}

export function otherWritersWatch(db: Database.Database): () => boolean {
  const read = dataVersionOf(db);
  let seen = read();
  return () => {
    const now = read();
    if (now === seen) return false;
    seen = now;
    return true;
  };
}
