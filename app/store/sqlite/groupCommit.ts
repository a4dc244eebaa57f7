import type Database from 'better-sqlite3';
import type { Arrivals } from '../arrivals.js';

/**
 * Group commit: the writes that arrive within one turn of the event loop (sends, acknowledgements,
 * lastSeen touches) share one IMMEDIATE transaction, one WAL commit instead of one each, and every
 * one's promise settles only after that commit, so a 202 is as durable as before (WAL,
 * synchronous=NORMAL: nothing acknowledged is lost if the process dies). One that throws (none should:
 * refusals are results) rolls the whole group back, and then each runs again in a transaction of its
 * own (`alone`), so it fails alone. No savepoint each: their statement journal cost more than the
 * commits saved. The devices a write filled (`woken`) are announced on `arrivals` in the same
 * synchronous call as the commit, before any read can run, and the writers' promises settle after the
 * polls those arrivals woke have answered, in the same turn.
 */
export interface GroupCommit {
  enqueue<R>(run: () => R, alone: () => R, woken?: (r: R) => readonly string[]): Promise<R>;
}

type Job = { run: () => unknown; alone: () => unknown; resolve: (r: unknown) => void; reject: (err: unknown) => void; woken?: (r: unknown) => readonly string[] };
type Outcome = { result: unknown } | { error: unknown };

export function groupCommit(db: Database.Database, arrivals: Arrivals): GroupCommit {
  let queue: Job[] = [];
  const runAll = db.transaction((batch: Job[]): Outcome[] => batch.map((job) => ({ result: job.run() })));
  const oneByOne = (batch: Job[]): Outcome[] =>
    batch.map((job) => {
      try {
        return { result: job.alone() };
      } catch (error) {
        return { error };
      }
    });
  const flush = () => {
    const batch = queue;
    queue = [];
    let outcomes: Outcome[];
    try {
      outcomes = batch.length === 1 ? oneByOne(batch) : runAll.immediate(batch);
    } catch (err) {
      // A locked or closed database fails every job alike: no point in trying each (and waiting out
      // the busy timeout each time).
      const code = String((err as { code?: unknown }).code);
      if (!db.open || code.startsWith('SQLITE_BUSY')) {
        for (const job of batch) job.reject(err);
        return;
      }
      outcomes = oneByOne(batch);
    }
    const woken: string[] = [];
    outcomes.forEach((o, i) => {
      const w = batch[i]!.woken;
      if ('result' in o && w) woken.push(...w(o.result));
    });
    arrivals.emit(woken);
    // The writers hear of the commit only once the polls woken above have answered, so building and
    // writing the senders' 202s is not on a signal's way to its recipient (bench/README.md, "Delivery").
    // A woken poll's way to its answer is a chain of promises (the store is synchronous), and Node runs
    // every queued promise job before the next process.nextTick callback: a tick queued from a promise job
    // runs after all of them, still in this turn. (A setImmediate would wait a whole turn of the event
    // loop, which under load is milliseconds of other sockets' work before each 202.) Nothing is less
    // durable: everything is committed already.
    queueMicrotask(() => {
      process.nextTick(() => {
        outcomes.forEach((o, i) => ('result' in o ? batch[i]!.resolve(o.result) : batch[i]!.reject(o.error)));
      });
    });
  };
  return {
    enqueue: <R>(run: () => R, alone: () => R, woken?: (r: R) => readonly string[]): Promise<R> =>
      new Promise<R>((resolve, reject) => {
        queue.push({ run, alone, resolve: resolve as (r: unknown) => void, reject, woken: woken as Job['woken'] });
        if (queue.length === 1) setImmediate(flush);
      }),
  };
}
