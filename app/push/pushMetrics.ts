import { Counter, Gauge, type Registry } from 'prom-client';
import { labelled } from '../lib/labelledCounter.js';
import type { PushKind } from '../store/types.js';

/**
 * What became of a wake-up: `delivered` (2xx), `removed` (404/410 or a gateway's rejection: the
 * subscription is gone), `failed` (given up after the retries, or refused for good), `dropped` (the queue
 * was full), `skipped` (the mailbox was empty by the time it was due), `coalesced` (merged into a wake-up
 * already waiting for the same device).
 */
export type PushOutcome = 'delivered' | 'removed' | 'failed' | 'dropped' | 'skipped' | 'coalesced';

/** A wake-up's kind; `unknown` when it is counted before its subscription is read (coalesced, dropped). */
export type WakeupKind = PushKind | 'unknown';

/** An attempt's error that waiting will not change: the wake-up is not retried, and it is counted under this name. */
export type PermanentPushError = 'blocked' | 'http_not_allowed' | 'too_large' | 'not_configured';

/** What one push request came to: the answer's status class, a permanent error, `timeout` (PUSH_TIMEOUT_MS), or another network error. */
export type AttemptResult = `${number}xx` | PermanentPushError | 'timeout' | 'network';

/** Push counters in the app's registry, beside the HTTP and signal ones. */
export function createPushMetrics(registry: Registry, queued: () => number, parked: () => number = () => 0) {
  const registers = [registry];
  return {
    wakeups: labelled<{ kind: WakeupKind; outcome: PushOutcome }>(
      new Counter({
        name: 'signalbox_push_wakeups_total',
        help: 'Push wake-ups by kind and outcome: delivered, removed (404/410, gateway rejected), failed (after retries), dropped (queue full), skipped (nothing waiting any more), coalesced (merged into one already queued; kind unknown).',
        labelNames: ['kind', 'outcome'] as const,
        registers,
      }),
    ),
    attempts: labelled<{ kind: PushKind; result: AttemptResult }>(
      new Counter({
        name: 'signalbox_push_attempts_total',
        help: 'Push requests by kind and result: 2xx, 4xx, 5xx, timeout (PUSH_TIMEOUT_MS), too_large (answer past 64 KiB, connection cut), blocked, http_not_allowed, network.',
        labelNames: ['kind', 'result'] as const,
        registers,
      }),
    ),
    parked: new Gauge({
      name: 'signalbox_push_parked',
      help: 'Wake-ups waiting because their account (PUSH_INFLIGHT_PER_ACCOUNT) or push origin (PUSH_INFLIGHT_PER_ORIGIN) has as many requests in flight as allowed.',
      registers,
      collect() {
        this.set(parked());
      },
    }),
    retries: labelled<{ kind: PushKind }>(
      new Counter({
        name: 'signalbox_push_retries_total',
        help: 'Push attempts retried after a network error, 429 or 5xx.',
        labelNames: ['kind'] as const,
        registers,
      }),
    ),
    queued: new Gauge({
      name: 'signalbox_push_queued',
      help: 'Wake-ups waiting to be sent, in flight or waiting for a retry (at most PUSH_QUEUE_MAX).',
      registers,
      collect() {
        this.set(queued());
      },
    }),
  };
}
export type PushMetrics = ReturnType<typeof createPushMetrics>;
