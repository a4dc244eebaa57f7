import type { Logger } from 'pino';
import type { Caller } from '../core/caller.js';

/**
 * How often a failing lastSeen write is logged: a store that cannot write fails one every few requests,
 * and one line per interval (with how many were not logged) says as much as thousands would.
 */
export const LAST_SEEN_FAILURE_LOG_INTERVAL_MS = 30_000;

/**
 * Makes the lastSeen record of every authenticated request (the user's presence, the device's lastSeen)
 * best effort: when it cannot be written (a full disk, a read-only file system, a store outage) the
 * request goes on and is answered as if it had been. A poll must still hand out what is stored, and
 * presence only ever shows someone online for a while longer or shorter, never something wrong.
 * Failures are logged at warn, at most once per LAST_SEEN_FAILURE_LOG_INTERVAL_MS.
 *
 * `record` answers undefined when nothing was due (both writes are throttled to one per 30 s), and so
 * does the hook: most requests then wait on no promise at all (the empty short poll's CPU, bench/README.md).
 */
export function bestEffortLastSeen(
  record: (caller: Caller) => Promise<void> | undefined,
  logger: Pick<Logger, 'warn'>,
  now: () => number = Date.now,
): (caller: Caller) => Promise<void> | undefined {
  let loggedAt: number | undefined;
  let unlogged = 0;
  const failed = (err: unknown): void => {
    const t = now();
    if (loggedAt !== undefined && t >= loggedAt && t - loggedAt < LAST_SEEN_FAILURE_LOG_INTERVAL_MS) {
      unlogged++;
      return;
    }
    logger.warn({ err, failuresNotLogged: unlogged }, 'lastSeen not recorded (the request goes on)');
    loggedAt = t;
    unlogged = 0;
  };
  return (caller) => {
    let writing: Promise<void> | undefined;
    try {
      writing = record(caller);
    } catch (err) {
      failed(err);
      return undefined;
    }
    return writing?.then(undefined, failed);
  };
}
