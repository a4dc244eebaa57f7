import type { Logger } from 'pino';
import type { SessionStore, SignalStore } from '../store/types.js';
import type { MailboxNotifier } from './notifier.js';

/**
 * Without the store's arrival feed (MongoDB's change stream, PostgreSQL's LISTEN), held polls on every
 * instance re-read their mailboxes this often: a signal sent through another instance then waits up to a
 * second (and each held poll costs one read per second), instead of arriving at once.
 */
export const RECHECK_INTERVAL_MS = 1000;

/**
 * Wakes this instance's held polls of exactly the devices whose mailboxes a write through this store
 * object just filled: a signal sent here, and the server events that connections and accounts have
 * the store write with their changes. Every mailbox write reports here, whoever made it, so no write
 * path has to remember to wake anyone. Returns a function that stops listening.
 */
export function wakeOnArrival(signals: SignalStore, notifier: MailboxNotifier): () => void {
  return signals.onArrival((deviceIds) => notifier.notify(deviceIds));
}

/**
 * Wakes this instance's held polls for entries written through other instances: from the store's
 * arrival feed (MongoDB change stream, one device id per arrival) when it works, else by re-checking
 * on an interval until it works again. A store used by one instance only (SQLite) needs neither: `wakeOnArrival` sees
 * every write.
 */
export function startCrossInstanceWakeups(signals: SignalStore, notifier: MailboxNotifier, logger: Logger): () => Promise<void> {
  if (!signals.watchArrivals) return async () => {};
  let recheck: NodeJS.Timeout | undefined;
  const fallBack = (err: unknown) => {
    if (recheck) return;
    // Said for every store with an arrival feed (MongoDB's change stream, PostgreSQL's LISTEN): an outage or a
    // restart of the database lands here too, not only a MongoDB without a replica set.
    logger.warn({ err, intervalMs: RECHECK_INTERVAL_MS }, 'cross-instance arrival feed down: held polls re-check on an interval until it is back');
    recheck = setInterval(() => notifier.notifyAll(), RECHECK_INTERVAL_MS);
    recheck.unref();
  };
  // The stream is back: arrivals are announced again, so the interval's reads stop; one last re-check
  // covers what arrived between the interval's last run and the new stream.
  const recovered = () => {
    if (!recheck) return;
    clearInterval(recheck);
    recheck = undefined;
    logger.info('cross-instance arrival feed back: held polls wake on arrival');
    notifier.notifyAll();
  };
  const stopWatching = signals.watchArrivals((deviceId) => notifier.notify([deviceId]), fallBack, recovered);
  return async () => {
    clearInterval(recheck);
    await stopWatching();
  };
}

/**
 * Ends this instance's held polls of sessions that ended through another instance or process, as soon as
 * the store announces it (PostgreSQL), instead of at the next periodic session check (sessionChecks.ts),
 * which still covers the time the feed is down. Returns a function that stops watching.
 */
export function watchEndedSessions(sessions: SessionStore, notifier: MailboxNotifier, logger: Logger): () => Promise<void> {
  if (!sessions.watchEnded) return async () => {};
  let warned = false;
  return sessions.watchEnded(
    (sessionIds) => notifier.endSessions({ sessionIds }),
    (err) => {
      if (warned) return;
      warned = true;
      logger.warn({ err }, 'no feed of ended sessions: held polls of sessions ended elsewhere end at the next session check');
    },
  );
}
