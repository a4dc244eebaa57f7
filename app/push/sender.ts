import type { Logger } from 'pino';
import type { Clock } from '../lib/clock.js';
import type { FieldCipher } from '../lib/fieldCipher.js';
import type { Store } from '../store/types.js';
import type { Attempt, Delivery, WakeUp } from './deliver.js';
import type { AttemptResult, PermanentPushError, PushMetrics } from './pushMetrics.js';
import { openTarget, targetOrigin, type PushTarget, type ServiceOrigins } from './targets.js';

/** Waits before the 2nd, 3rd and 4th attempt; then the wake-up is given up (a call is over by then). */
export const RETRY_DELAYS_MS = [2_000, 10_000, 60_000];
/** The longest Retry-After honoured: past it the wake-up is useless anyway. */
const RETRY_AFTER_MAX_MS = 120_000;
/** The defaults of PUSH_INFLIGHT_MAX, PUSH_INFLIGHT_PER_ACCOUNT and PUSH_INFLIGHT_PER_ORIGIN. */
export const INFLIGHT_DEFAULTS = { total: 16, perAccount: 4, perOrigin: 8 };
/** Entries read to decide reason and urgency: a signal or an offer among the first few is enough to know. */
const PEEK = 32;
const SIGNAL_TYPES = new Set(['offer', 'answer', 'ice', 'bye', 'custom']);
/** Attempt errors not worth a retry. */
const PERMANENT_ERRORS: ReadonlySet<string> = new Set<PermanentPushError>(['blocked', 'http_not_allowed', 'too_large', 'not_configured']);
const isPermanent = (error: string): error is PermanentPushError => PERMANENT_ERRORS.has(error);

/** An attempt for signalbox_push_attempts_total: the answer's status class, or why there was none. */
function resultOf(attempt: Attempt): AttemptResult {
  if ('status' in attempt) return `${Math.floor(attempt.status / 100)}xx`;
  if (attempt.error === 'timeout') return 'timeout';
  return isPermanent(attempt.error) ? attempt.error : 'network';
}

export interface SenderDeps {
  store: Store;
  cipher: FieldCipher;
  clock: Clock;
  logger: Logger;
  delivery: Delivery;
  metrics: PushMetrics;
  /** PUSH_QUEUE_MAX: jobs queued, in flight and waiting to retry, together. */
  max: number;
  /** PUSH_INFLIGHT_MAX, PUSH_INFLIGHT_PER_ACCOUNT, PUSH_INFLIGHT_PER_ORIGIN. */
  inflight?: { total: number; perAccount: number; perOrigin: number };
  retryDelaysMs?: readonly number[];
  /** The configured APNs and FCM hosts, for PUSH_INFLIGHT_PER_ORIGIN (null: Apple's and Google's). */
  serviceOrigins?: ServiceOrigins | null;
}

interface Job {
  deviceId: string;
  /** Mailbox arrivals this wake-up stands for (coalesced). */
  count: number;
  /** Attempts made so far. */
  attempts: number;
}

/** Whom a request is counted against: the device's account and the push origin (scheme, host, port) it goes to. */
interface Slot {
  account: string;
  origin: string;
}

/**
 * The bounded queue that sends wake-ups off the request path: a send only adds a job (or, when
 * PUSH_QUEUE_MAX jobs wait, counts it dropped). Each job reads the subscription and the first entries
 * of the mailbox when it runs, so an unsubscribe, a drained mailbox or a replaced endpoint in the
 * meantime is respected. An answer that says the device is gone (404/410, a gateway's `rejected`, APNs'
 * and FCM's dead-token answers) removes the subscription; network errors, 429, 5xx and refused provider
 * or access tokens retry after RETRY_DELAYS_MS (or Retry-After), then give up; other answers give up at once.
 *
 * Fairness (docs/security.md, "One slow push endpoint stalled push for everyone"): at most
 * PUSH_INFLIGHT_MAX requests are in flight, of which at most PUSH_INFLIGHT_PER_ACCOUNT for one account and
 * PUSH_INFLIGHT_PER_ORIGIN to one push origin. A job whose account or origin is at its bound is parked
 * without holding a slot, and runs again (reading its subscription and mailbox anew) when one of that
 * account's or origin's requests ends; the jobs behind it go on meanwhile. A wake-up for a device that
 * already has one queued or parked is merged into it (its count added): one device, one job waiting.
 */
export class PushSender {
  private readonly ready: Job[] = [];
  /** Jobs whose account or origin was at its bound, with the slot they wait for. */
  private readonly parked: Array<{ job: Job; slot: Slot }> = [];
  /** Jobs not yet started (ready or parked), by device: where a new wake-up for that device is merged. */
  private readonly pending = new Map<string, Job>();
  private readonly perAccount = new Map<string, number>();
  private readonly perOrigin = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private inFlight = 0;
  private waiting = 0;
  private stopped = false;
  private idlers: Array<() => void> = [];
  private readonly retryDelaysMs: readonly number[];
  private readonly bounds: { total: number; perAccount: number; perOrigin: number };

  constructor(private readonly d: SenderDeps) {
    this.retryDelaysMs = d.retryDelaysMs ?? RETRY_DELAYS_MS;
    this.bounds = d.inflight ?? INFLIGHT_DEFAULTS;
  }

  /** Jobs queued, parked, in flight and waiting for a retry. */
  get size(): number {
    return this.ready.length + this.parked.length + this.inFlight + this.waiting;
  }

  /** Jobs parked because their account or origin had as many requests in flight as allowed (tests, metrics). */
  get parkedCount(): number {
    return this.parked.length;
  }

  /** Queues a wake-up for the device; false (counted dropped) when the queue is full or stopping. */
  add(deviceId: string, count: number): boolean {
    const queued = this.stopped ? undefined : this.pending.get(deviceId);
    if (queued) {
      queued.count += count;
      this.d.metrics.wakeups.inc({ kind: 'unknown', outcome: 'coalesced' });
      return true;
    }
    if (this.stopped || this.size >= this.d.max) {
      this.d.metrics.wakeups.inc({ kind: 'unknown', outcome: 'dropped' });
      if (!this.stopped) this.d.logger.warn({ max: this.d.max }, 'push queue full: wake-up dropped');
      return false;
    }
    const job = { deviceId, count, attempts: 0 };
    this.pending.set(deviceId, job);
    this.ready.push(job);
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
    this.parked.length = 0;
    this.pending.clear();
    await this.idle();
  }

  private pump(): void {
    while (this.inFlight < this.bounds.total && this.ready.length > 0) {
      const job = this.ready.shift()!;
      if (this.pending.get(job.deviceId) === job) this.pending.delete(job.deviceId);
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

  /** Takes one of the slot's account and origin places, if both have one free. */
  private acquire(slot: Slot): boolean {
    const account = this.perAccount.get(slot.account) ?? 0;
    const origin = this.perOrigin.get(slot.origin) ?? 0;
    if (account >= this.bounds.perAccount || origin >= this.bounds.perOrigin) return false;
    this.perAccount.set(slot.account, account + 1);
    this.perOrigin.set(slot.origin, origin + 1);
    return true;
  }

  /**
   * Gives the places back, and puts the jobs parked on this account or origin that now fit back in
   * front of the queue, in their order (as many as there is room for; they check again when they run).
   */
  private release(slot: Slot): void {
    const decrement = (map: Map<string, number>, key: string) => {
      const n = (map.get(key) ?? 1) - 1;
      if (n === 0) map.delete(key);
      else map.set(key, n);
    };
    decrement(this.perAccount, slot.account);
    decrement(this.perOrigin, slot.origin);
    if (this.stopped) return;
    const accounts = new Map<string, number>();
    const origins = new Map<string, number>();
    const woken: Job[] = [];
    for (let i = 0; i < this.parked.length;) {
      const p = this.parked[i]!.slot;
      const a = (this.perAccount.get(p.account) ?? 0) + (accounts.get(p.account) ?? 0);
      const o = (this.perOrigin.get(p.origin) ?? 0) + (origins.get(p.origin) ?? 0);
      if ((p.account === slot.account || p.origin === slot.origin) && a < this.bounds.perAccount && o < this.bounds.perOrigin) {
        accounts.set(p.account, (accounts.get(p.account) ?? 0) + 1);
        origins.set(p.origin, (origins.get(p.origin) ?? 0) + 1);
        woken.push(this.parked.splice(i, 1)[0]!.job);
      } else i++;
    }
    // Still in `pending`: a wake-up for the device meanwhile merges into it. pump() runs when this run settles.
    this.ready.unshift(...woken);
  }

  /** Keeps the job aside until a request of its account or origin ends; a later wake-up for its device merges into it. */
  private park(job: Job, slot: Slot): void {
    if (this.stopped) return;
    const merged = this.pending.get(job.deviceId);
    if (merged) {
      // A wake-up for this device was queued while this one ran: that one stands for both.
      merged.count += job.count;
      return;
    }
    this.pending.set(job.deviceId, job);
    this.parked.push({ job, slot });
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
    const urgent = waiting.some((e) => e.type === 'offer');
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
    if (target.kind === 'apns' && target.voip && !urgent) {
      // iOS ends an app that gets a VoIP push without reporting a call to CallKit, and stops its VoIP
      // pushes after a few: a VoIP subscription is woken for an offer only; the rest waits for the
      // app's next poll (docs/push.md, "iOS").
      metrics.wakeups.inc({ kind: sub.kind, outcome: 'skipped' });
      return;
    }
    const slot: Slot = { account: sub.userId, origin: targetOrigin(target, this.d.serviceOrigins ?? null) };
    if (!this.acquire(slot)) {
      this.park(job, slot);
      return;
    }
    job.attempts++;
    let attempt: Attempt;
    try {
      attempt = await this.d.delivery.send(target, wake, urgent);
    } finally {
      this.release(slot);
    }
    metrics.attempts.inc({ kind: sub.kind, result: resultOf(attempt) });
    const log = { deviceId: sub.deviceId, kind: sub.kind, attempt: job.attempts };
    if ('status' in attempt && attempt.gone) {
      // The push service says the subscription is gone for good (RFC 8030 8.3, a gateway's `rejected`,
      // APNs Unregistered/BadDeviceToken, FCM UNREGISTERED).
      await store.pushSubscriptions.delete(sub.deviceId, sub.targetEnc);
      metrics.wakeups.inc({ kind: sub.kind, outcome: 'removed' });
      logger.info({ ...log, status: attempt.status }, 'push subscription gone: removed');
      return;
    }
    if ('status' in attempt && attempt.status >= 200 && attempt.status < 300) {
      metrics.wakeups.inc({ kind: sub.kind, outcome: 'delivered' });
      return;
    }
    // Refused addresses and schemes will not change by waiting; an answer past 64 KiB would only be read again.
    const transient = 'error' in attempt ? !isPermanent(attempt.error) : attempt.retry;
    const delay = this.retryDelaysMs[job.attempts - 1];
    if (!transient || delay === undefined || this.stopped) {
      metrics.wakeups.inc({ kind: sub.kind, outcome: 'failed' });
      logger.warn({ ...log, ...('status' in attempt ? { status: attempt.status } : { error: attempt.error }) }, 'push wake-up given up');
      return;
    }
    metrics.retries.inc({ kind: sub.kind });
    const retryAfterMs = 'status' in attempt && attempt.retryAfterSeconds !== null ? Math.min(attempt.retryAfterSeconds * 1000, RETRY_AFTER_MAX_MS) : 0;
    this.waiting++;
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        this.waiting--;
        this.ready.push(job);
        this.pump();
      },
      Math.max(delay, retryAfterMs),
    );
    timer.unref();
    this.timers.add(timer);
  }
}
