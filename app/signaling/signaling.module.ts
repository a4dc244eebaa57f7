import type { Registry } from 'prom-client';
import type { Platform } from '../core/platform.js';
import type { LeanRoute } from '../http/lean.js';
import type { Feature } from '../http/router.js';
import { systemScheduler, type Scheduler } from '../lib/scheduler.js';
import { Cursors } from './cursor.js';
import { IceServerService } from './iceServers.js';
import { iceServerRoutes } from './iceServers.routes.js';
import { leanPollRoute, leanSendRoute, mailboxRoutes } from './mailbox.routes.js';
import { MailboxService } from './mailbox.service.js';
import { MailboxNotifier, type EndedSessions } from './notifier.js';
import { resolvePollsMax } from './pollLimits.js';
import { startSessionChecks } from './sessionChecks.js';
import { createSignalMetrics } from './signalMetrics.js';
import { startCrossInstanceWakeups, wakeOnArrival, watchEndedSessions } from './wakeups.js';

/** Signals expire after SIGNAL_TTL (minutes); sweeping every minute keeps mailboxes small. */
const SIGNAL_SWEEP_INTERVAL_MS = 60_000;

export interface SignalingModuleDeps extends Pick<Platform, 'config' | 'store' | 'clock' | 'cipher' | 'limiter' | 'logger'> {
  /** The app's metrics registry: signal counters sit beside the HTTP ones. */
  registry: Registry;
  /** What held polls' waits and the session check run by; real time by default. */
  scheduler?: Scheduler;
}

export interface SignalingFeature extends Feature {
  /** True while `userId` holds a long-poll on this instance (presence: online while polling). */
  isHolding: (userId: string) => boolean;
  /** True while the device (session) holds a long-poll on this instance (push: such a device needs no wake-up). */
  isHoldingDevice: (sessionId: string) => boolean;
  /** Sessions ended in this process: their held polls answer 401 at once (accounts tells this). */
  sessionsEnded: (ended: EndedSessions) => void;
  /** `GET /signaling/poll` and `POST /signaling/send` answered outside Koa (http/lean.ts); the Koa routes in `routes` stay for the rest. */
  leanRoutes: Array<LeanRoute<unknown>>;
}

/**
 * The mailboxes (send, poll, ack, clear) and ICE servers. From the start every mailbox write through
 * this store (signals, and the server events other features have it write) wakes the held polls of
 * its devices. Started, it sweeps expired entries, wakes held polls for writes through other
 * instances and ends held polls whose session was ended elsewhere (admin CLI, other instances: within
 * SESSION_CHECK_INTERVAL_MS); stopped, every held poll answers now.
 */
export function createSignaling(d: SignalingModuleDeps): SignalingFeature {
  const { config, store, clock, logger } = d;
  const scheduler = d.scheduler ?? systemScheduler;
  const notifier = new MailboxNotifier({ perUser: config.pollsPerUser, total: resolvePollsMax(config.pollsMax).max }, scheduler);
  const metrics = createSignalMetrics(d.registry, () => notifier.heldPolls);
  const mailboxes = new MailboxService({ store, clock, scheduler, cursors: new Cursors(d.cipher), limiter: d.limiter, notifier, metrics, config });
  // Not background work but part of answering polls at all, so not left to start(): the app and its
  // store live and end together, so the listener needs no removing.
  wakeOnArrival(store.signals, notifier);
  return {
    routes: [...mailboxRoutes(mailboxes), ...iceServerRoutes(new IceServerService({ config, clock, limiter: d.limiter }))],
    start() {
      const sweep = setInterval(() => {
        mailboxes.sweepExpired().catch((err: unknown) => logger.warn({ err }, 'signal sweep failed'));
      }, SIGNAL_SWEEP_INTERVAL_MS);
      sweep.unref();
      const stopWakeups = startCrossInstanceWakeups(store.signals, notifier, logger);
      const stopSessionChecks = startSessionChecks(store.sessions, clock, notifier, logger, scheduler);
      const stopEndedSessions = watchEndedSessions(store.sessions, notifier, logger);
      return async () => {
        clearInterval(sweep);
        stopSessionChecks();
        await stopEndedSessions();
        await stopWakeups();
      };
    },
    stop: () => notifier.close(),
    isHolding: (userId) => notifier.isHolding(userId),
    leanRoutes: [leanPollRoute(mailboxes), leanSendRoute(mailboxes)],
    isHoldingDevice: (sessionId) => notifier.isHoldingSession(sessionId),
    sessionsEnded: (ended) => notifier.endSessions(ended),
  };
}
