import type { Logger } from 'pino';
import type { Clock } from '../lib/clock.js';
import type { FieldCipher } from '../lib/fieldCipher.js';
import type { Store } from '../store/types.js';
import type { Delivery, WakeUp } from './deliver.js';
import type { PushMetrics } from './pushMetrics.js';
import { openTarget, type PushTarget } from './targets.js';

/** Waits before the 2nd, 3rd and 4th attempt; then the wake-up is given up (a call is over by then). */
export const RETRY_DELAYS_MS = [2_000, 10_000, 60_000];
/** The longest Retry-After honoured: past it the wake-up is useless anyway. */
const RETRY_AFTER_MAX_MS = 120_000;
/** Requests in flight at once: enough to keep a slow push service from holding up the others. */
const CONCURRENCY = 16;
/** Entries read to decide reason and urgency: a signal or an offer among the first few is enough to know. */
const PEEK = 32;
const SIGNAL_TYPES = new Set(['offer', 'answer', 'ice', 'bye', 'custom']);

export interface SenderDeps {
  store: Store;
  cipher: FieldCipher;
  clock: Clock;
  logger: Logger;
  delivery: Delivery;
  metrics: PushMetrics;
  /** PUSH_QUEUE_MAX: jobs queued, in flight and waiting to retry, together. */
  max: number;
  retryDelaysMs?: readonly number[];
}

interface Job {
  deviceId: string;
  /** Mailbox arrivals this wake-up stands for (coalesced). */
  count: number;
  /** Attempts made so far. */
  attempts: number;
}

/**
 * The bounded queue that sends wake-ups off the request path: a send only adds a job (or, when
 * PUSH_QUEUE_MAX jobs wait, counts it dropped). Each job reads the subscription and the first entries
 * of the mailbox when it runs, so an unsubscribe, a drained mailbox or a replaced endpoint in the
 * meantime is respected. 404/410 (or a gateway's `rejected`) removes the subscription; network errors,
 * 429 and 5xx retry after RETRY_DELAYS_MS (or Retry-After), then give up; other answers give up at once.
 */
export class PushSender {
  private readonly ready: Job[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private inFlight = 0;
  private waiting = 0;
  private stopped = false;
  private idlers: Array<() => void> = [];
  private readonly retryDelaysMs: readonly number[];

  constructor(private readonly d: SenderDeps) {
    this.retryDelaysMs = d.retryDelaysMs ?? RETRY_DELAYS_MS;
  }

  /** Jobs queued, in flight and waiting for a retry. */
  get size(): number {
    return this.ready.length + this.inFlight + this.waiting;
  }

  /** Queues a wake-up for the device; false (counted dropped) when the queue is full or stopping. */
  add(deviceId: string, count: number): boolean {
    if (this.stopped || this.size >= this.d.max) {
      this.d.metrics.wakeups.inc({ kind: 'unknown', outcome: 'dropped' });
      if (!this.stopped) this.d.logger.warn({ max: this.d.max }, 'push queue full: wake-up dropped');
      return false;
    }
    this.ready.push({ deviceId, count, attempts: 0 });
    this.pump();
    return true;
  }

  /** Resolves when nothing is queued, in flight or waiting to retry (tests, bench). */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idlers.push(resolve));
  }

  /** Stops: no new jobs, retries cancelled; resolves when the requests in flight have answered. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.waiting -= this.timers.size;
    this.timers.clear();
    this.ready.length = 0;
    await this.idle();
  }

  private pump(): void {
    while (this.inFlight < CONCURRENCY && this.ready.length > 0) {
      const job = this.ready.shift()!;
      this.inFlight++;
      this.run(job)
        .catch((err: unknown) => this.d.logger.warn({ err }, 'push wake-up failed'))
        .finally(() => {
          this.inFlight--;
          this.pump();
          this.settle();
        });
    }
    this.settle();
  }

  private settle(): void {
    if (this.size > 0) return;
    const idlers = this.idlers;
    this.idlers = [];
    for (const resolve of idlers) resolve();
  }

  private async run(job: Job): Promise<void> {
    const { store, cipher, metrics, logger } = this.d;
    const sub = await store.pushSubscriptions.find(job.deviceId);
    if (!sub) return;
    const now = new Date(this.d.clock.now());
    const waiting = await store.signals.pending(job.deviceId, now, PEEK);
    if (waiting.length === 0) {
      metrics.wakeups.inc({ kind: sub.kind, outcome: 'skipped' });
      return;
    }
    const wake: WakeUp = { type: 'wake', reason: waiting.some((e) => SIGNAL_TYPES.has(e.type)) ? 'signal' : 'event', count: job.count };
    let target: PushTarget;
    try {
      target = openTarget(cipher, sub.deviceId, sub.targetEnc);
    } catch (err) {
      logger.warn({ err, deviceId: sub.deviceId }, 'push subscription does not decrypt (DATA_KEY changed?): removed');
      await store.pushSubscriptions.delete(sub.deviceId, sub.targetEnc);
      metrics.wakeups.inc({ kind: sub.kind, outcome: 'removed' });
      return;
    }
    job.attempts++;
    const attempt = await this.d.delivery.send(target, wake, waiting.some((e) => e.type === 'offer'));
    const log = { deviceId: sub.deviceId, kind: sub.kind, attempt: job.attempts };
    if ('status' in attempt && attempt.status >= 200 && attempt.status < 300) {
      if (target.kind === 'gateway' && attempt.rejectedPushkeys.includes(target.pushkey)) {
        await store.pushSubscriptions.delete(sub.deviceId, sub.targetEnc);
        metrics.wakeups.inc({ kind: sub.kind, outcome: 'removed' });
        logger.info(log, 'push gateway rejected the pushkey: subscription removed');
        return;
      }
      metrics.wakeups.inc({ kind: sub.kind, outcome: 'delivered' });
      return;
    }
    if ('status' in attempt && (attempt.status === 404 || attempt.status === 410)) {
      // The push service says the subscription is gone for good (RFC 8030 8.3).
      await store.pushSubscriptions.delete(sub.deviceId, sub.targetEnc);
      metrics.wakeups.inc({ kind: sub.kind, outcome: 'removed' });
      logger.info({ ...log, status: attempt.status }, 'push subscription gone: removed');
      return;
    }
    const transient = 'error' in attempt ? attempt.error !== 'blocked address' && attempt.error !== 'EPUSHBLOCKED' : attempt.status === 429 || attempt.status >= 500;
    const delay = this.retryDelaysMs[job.attempts - 1];
    if (!transient || delay === undefined || this.stopped) {
      metrics.wakeups.inc({ kind: sub.kind, outcome: 'failed' });
      logger.warn({ ...log, ...('status' in attempt ? { status: attempt.status } : { error: attempt.error }) }, 'push wake-up given up');
      return;
    }
    metrics.retries.inc({ kind: sub.kind });
    const retryAfterMs = 'status' in attempt && attempt.retryAfterSeconds !== null ? Math.min(attempt.retryAfterSeconds * 1000, RETRY_AFTER_MAX_MS) : 0;
    this.waiting++;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.waiting--;
      this.ready.push(job);
      this.pump();
    }, Math.max(delay, retryAfterMs));
    timer.unref();
    this.timers.add(timer);
  }
}
