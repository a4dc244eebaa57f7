import type { Config } from '../config.js';
import type { AuthState } from '../http/context.js';
import { AppError, unauthorized, validationFailed } from '../http/errors.js';
import type { RateLimiter } from '../http/rateLimit.js';
import type { Clock } from '../lib/clock.js';
import { newId } from '../lib/ids.js';
import type { SignalRecord, SignalType, Store } from '../store/types.js';
import type { Cursors } from './cursor.js';
import type { MailboxNotifier } from './notifier.js';
import type { SignalMetrics } from './signalMetrics.js';

/** At most this many signals per poll answer; the cursor pages through the rest. */
export const POLL_BATCH = 100;

const notConnected = () => new AppError(403, 'not_connected', 'You can only signal accepted connections.');
const mailboxFull = () =>
  new AppError(429, 'mailbox_full', "The recipient's mailbox is full; try again when they have caught up.", undefined, { 'Retry-After': '5' });

export interface MailboxDeps {
  store: Store;
  clock: Clock;
  cursors: Cursors;
  notifier: MailboxNotifier;
  limiter: RateLimiter;
  metrics: SignalMetrics;
  config: Pick<Config, 'signalTtl' | 'signalMaxBytes' | 'mailboxMax'>;
}

export interface SendInput {
  to: string;
  type: SignalType;
  payload: string;
  sessionId?: string | null;
}

/** Send, poll (short or long), acknowledge and clear: the signal mailboxes. */
export class MailboxService {
  constructor(private readonly d: MailboxDeps) {}

  /** Stores a signal for an accepted connection and wakes their held polls. */
  async send(auth: AuthState, input: SendInput): Promise<{ id: string; expiresAt: Date }> {
    const { store, clock, config, metrics } = this.d;
    try {
      await this.d.limiter.consume('sendPerUser', auth.userId);
    } catch (err) {
      metrics.rejected.inc({ reason: 'rate_limited' });
      throw err;
    }
    if (Buffer.byteLength(input.payload, 'utf8') > config.signalMaxBytes) {
      metrics.rejected.inc({ reason: 'too_large' });
      throw validationFailed([{ field: 'payload', message: `must be at most ${config.signalMaxBytes} bytes` }]);
    }
    const now = clock.now();
    const [sender, recipient] = await Promise.all([store.users.findById(auth.userId), store.users.findByUsername(input.to)]);
    if (!sender) throw unauthorized('The session has ended; sign in again.');
    // Unknown and unconnected recipients get the same answer: the mailbox reveals no accounts.
    const link = recipient && recipient.id !== auth.userId ? await store.connections.find(auth.userId, recipient.id, new Date(now)) : null;
    if (!recipient || link?.state !== 'accepted') {
      metrics.rejected.inc({ reason: 'not_connected' });
      throw notConnected();
    }
    const signal: Omit<SignalRecord, 'seq'> = {
      id: newId(),
      senderId: auth.userId,
      senderUsername: sender.username,
      type: input.type,
      payload: input.payload,
      sessionId: input.sessionId ?? null,
      createdAt: new Date(now),
      expiresAt: new Date(now + config.signalTtl * 1000),
    };
    if ((await store.signals.append(recipient.id, signal, new Date(now), config.mailboxMax)) === null) {
      metrics.rejected.inc({ reason: 'mailbox_full' });
      throw mailboxFull();
    }
    metrics.sent.inc();
    this.d.notifier.notify(recipient.id);
    return { id: signal.id, expiresAt: signal.expiresAt };
  }

  /**
   * Acknowledges up to `after`, then answers the pending signals; when there are none and `wait` is
   * set, holds until one arrives, the wait ends, the client disconnects or the server stops.
   */
  async poll(auth: AuthState, after: string | undefined, waitSeconds: number, abort: AbortSignal): Promise<{ signals: SignalRecord[]; cursor: string }> {
    const { store, notifier, cursors } = this.d;
    const acked = after === undefined ? 0 : cursors.decode(auth.userId, after, 'after');
    if (acked > 0) this.d.metrics.acknowledged.inc(await store.signals.ack(auth.userId, acked));
    const deadline = Date.now() + waitSeconds * 1000;
    for (;;) {
      const remaining = deadline - Date.now();
      // Registered before the read: a signal stored in between still wakes this poll.
      const waiter = remaining > 0 ? notifier.register(auth.userId, remaining, abort) : null;
      const signals = await store.signals.pending(auth.userId, new Date(this.d.clock.now()), POLL_BATCH);
      if (signals.length > 0 || !waiter) {
        waiter?.cancel();
        return this.answer(auth.userId, signals, acked);
      }
      const reason = await waiter.woken;
      if (reason !== 'signal') return this.answer(auth.userId, await store.signals.pending(auth.userId, new Date(this.d.clock.now()), POLL_BATCH), acked);
    }
  }

  /** Removes everything up to the cursor, for clients that acknowledge without polling again. */
  async ack(auth: AuthState, upTo: string): Promise<void> {
    const seq = this.d.cursors.decode(auth.userId, upTo, 'upTo');
    this.d.metrics.acknowledged.inc(await this.d.store.signals.ack(auth.userId, seq));
  }

  /** Drops expired signals (counted as expired); run in the background. */
  async sweepExpired(): Promise<void> {
    this.d.metrics.expired.inc(await this.d.store.signals.purgeExpired(new Date(this.d.clock.now())));
  }

  /** Drops every pending signal of the caller. */
  async clear(auth: AuthState): Promise<void> {
    await this.d.store.signals.clear(auth.userId);
  }

  private answer(userId: string, signals: SignalRecord[], acked: number): { signals: SignalRecord[]; cursor: string } {
    if (signals.length > 0) {
      const now = this.d.clock.now();
      this.d.metrics.delivered.inc(signals.length);
      for (const s of signals) this.d.metrics.deliveryLatency.observe(Math.max(0, now - s.createdAt.getTime()) / 1000);
    }
    // The cursor covers exactly what this answer handed out (or what was acknowledged already), so
    // passing it back can never acknowledge a signal the client has not seen.
    const last = signals.length > 0 ? signals[signals.length - 1]!.seq : acked;
    return { signals, cursor: this.d.cursors.encode(userId, Math.max(last, acked)) };
  }
}
