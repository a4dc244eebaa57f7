import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * What became of a wake-up: `delivered` (2xx), `removed` (404/410 or a gateway's rejection: the
 * subscription is gone), `failed` (given up after the retries, or refused for good), `dropped` (the queue
 * was full), `skipped` (the mailbox was empty by the time it was due).
 */
export type PushOutcome = 'delivered' | 'removed' | 'failed' | 'dropped' | 'skipped';

/** Push counters in the app's registry, beside the HTTP and signal ones. */
export function createPushMetrics(registry: Registry, queued: () => number) {
  const registers = [registry];
  return {
    wakeups: new Counter({
      name: 'signalbox_push_wakeups_total',
      help: 'Push wake-ups by outcome: delivered, removed (404/410, gateway rejected), failed (after retries), dropped (queue full), skipped (nothing waiting any more).',
      labelNames: ['kind', 'outcome'] as const,
      registers,
    }),
    retries: new Counter({ name: 'signalbox_push_retries_total', help: 'Push attempts retried after a network error, 429 or 5xx.', labelNames: ['kind'] as const, registers }),
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
