import type { Logger } from 'pino';
import type { Clock } from '../lib/clock.js';
import type { Scheduler } from '../lib/scheduler.js';
import type { SessionRecord, SessionStore } from '../store/types.js';
import type { MailboxNotifier } from './notifier.js';

/**
 * How often the sessions of held polls are looked up in the store. Sessions ended in this process
 * end their polls at once (`MailboxNotifier.endSessions`), and so do sessions ended elsewhere when the
 * store announces them (`SessionStore.watchEnded`: PostgreSQL, MongoDB); this bounds the rest: the admin
 * CLI on SQLite (its own process) and any time such a feed is down. Each held poll costs one session lookup per
 * interval, a fifth of what a cross-instance re-check costs it (wakeups.ts).
 */
export const SESSION_CHECK_INTERVAL_MS = 5000;

/** Lookups in flight at once during a check, so thousands of held polls do not flood the store. */
const CHECK_CONCURRENCY = 64;

/** The authenticate middleware's test: the session exists, is the user's, and has not expired. */
export function sessionIsLive(session: SessionRecord | null, userId: string, now: number): boolean {
  return session !== null && session.userId === userId && session.expiresAt.getTime() > now;
}

/** Ends the held polls whose session no longer exists in the store; returns how many. */
export async function endVanishedSessions(sessions: SessionStore, clock: Clock, notifier: MailboxNotifier): Promise<number> {
  const held = notifier.heldSessions();
  const gone: string[] = [];
  for (let i = 0; i < held.length; i += CHECK_CONCURRENCY) {
    const batch = held.slice(i, i + CHECK_CONCURRENCY);
    const found = await Promise.all(batch.map((h) => sessions.findById(h.sessionId)));
    const now = clock.now();
    batch.forEach((h, j) => {
      if (!sessionIsLive(found[j]!, h.userId, now)) gone.push(h.sessionId);
    });
  }
  if (gone.length > 0) notifier.endSessions({ sessionIds: gone });
  return gone.length;
}

/** Checks the sessions of held polls every SESSION_CHECK_INTERVAL_MS of `scheduler` (one check at a time); returns its stop. */
export function startSessionChecks(sessions: SessionStore, clock: Clock, notifier: MailboxNotifier, logger: Logger, scheduler: Scheduler): () => void {
  let running = false;
  return scheduler.every(
    SESSION_CHECK_INTERVAL_MS,
    () => {
      if (running || notifier.heldPolls === 0) return;
      running = true;
      endVanishedSessions(sessions, clock, notifier)
        .catch((err: unknown) => logger.warn({ err }, 'held-poll session check failed'))
        .finally(() => {
          running = false;
        });
    },
    { unref: true },
  );
}
