import type { Config } from '../config/parse.js';
import type { Caller } from '../core/caller.js';
import { mailboxFull, notConnected, notFound, rateLimited, unauthorized, unavailable, validationFailed } from '../core/errors.js';
import type { RateLimiter } from '../core/rateLimiter.js';
import type { Clock } from '../lib/clock.js';
import { newTimeOrderedId } from '../lib/ids.js';
import type { Scheduler } from '../lib/scheduler.js';
import { StoreUnavailableError, type MailboxEntry, type SessionRecord, type SignalRecord, type SignalType, type Store } from '../store/types.js';
import type { Cursors } from './cursor.js';
import type { ClientWatch, MailboxNotifier } from './notifier.js';
import { sessionIsLive } from './sessionChecks.js';
import type { SignalMetrics } from './signalMetrics.js';

/** At most this many entries (signals and events) per poll answer; the cursor pages through the rest. */
export const POLL_BATCH = 100;

/**
 * A refused poll retries after this long: long enough that a client at a cap does not spin, short
 * against SIGNAL_TTL (300 s) so what is waiting for it does not expire meanwhile.
 */
export const POLL_RETRY_AFTER_SECONDS = 5;

const tooManyPolls = () => rateLimited('POLLS_PER_USER', POLL_RETRY_AFTER_SECONDS, 'This account holds as many long-polls as it may (POLLS_PER_USER); try again later.');
/** What a held poll of an ended session answers; the same words as the authenticate middleware's. */
const sessionEnded = () => unauthorized('The session has ended; sign in again.');
const serverFullOfPolls = () => unavailable('The server holds as many long-polls as it can (POLLS_MAX); try again shortly.', POLL_RETRY_AFTER_SECONDS);

export interface MailboxDeps {
  store: Store;
  clock: Clock;
  /** The time a held poll's `wait` runs out by: the notifier's. */
  scheduler: Scheduler;
  cursors: Cursors;
  /** Held polls only; their wake-ups come from the store's arrival feed (wakeups.ts), not from `send`. */
  notifier: MailboxNotifier;
  limiter: RateLimiter;
  metrics: SignalMetrics;
  config: Pick<Config, 'signalTtl' | 'signalMaxBytes' | 'mailboxMax' | 'mailboxPerSender' | 'presenceWindow'>;
}

export interface SendInput {
  to: string;
  toDevice?: string;
  type: SignalType;
  payload: string;
  sessionId?: string | null;
  idempotencyKey?: string;
}

/** What a send answers: the signal's id and expiry, how many devices stored it, and how many of those can get it soon. */
export interface SendAnswer {
  id: string;
  expiresAt: Date;
  devices: number;
  /**
   * How many of the target devices polled within PRESENCE_WINDOW (or hold a poll now) or have a push
   * subscription: 0 tells a caller at once that nobody can pick up (docs/api.md).
   */
  reachable: number;
}

/** Send, poll (short or long), acknowledge and clear: the per-device mailboxes of signals and server events. */
export class MailboxService {
  constructor(private readonly d: MailboxDeps) {}

  /**
   * Stores a signal, in one write, for every device of an accepted connection (or only `toDevice`), or
   * for the caller's own other devices when `to` is the caller. The sending device never receives it.
   * A repeated `idempotencyKey` answers the first send and stores nothing. Held polls of the devices
   * that stored it wake through the store's arrival feed.
   */
  async send(auth: Caller, input: SendInput): Promise<SendAnswer> {
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
    // To oneself needs no connection: it reaches one's own other devices (the store skips the sender's).
    const toSelf = recipient?.id === auth.userId;
    // Unknown and unconnected recipients get the same answer: the mailbox reveals no accounts.
    const link = recipient && !toSelf ? await store.connections.find(auth.userId, recipient.id, new Date(now)) : null;
    if (!recipient || (!toSelf && link?.state !== 'accepted')) {
      metrics.rejected.inc({ reason: 'not_connected' });
      throw notConnected();
    }
    const signal: MailboxEntry = {
      id: newTimeOrderedId(now),
      senderId: auth.userId,
      senderUsername: sender.username,
      senderDeviceId: auth.sessionId,
      type: input.type,
      payload: input.payload,
      sessionId: input.sessionId ?? null,
      createdAt: new Date(now),
      expiresAt: new Date(now + config.signalTtl * 1000),
    };
    const [result, reachable] = await Promise.all([
      store.signals.send({
        signal,
        toUserId: recipient.id,
        ...(input.toDevice === undefined ? {} : { toDevice: input.toDevice }),
        ...(input.idempotencyKey === undefined ? {} : { idempotencyKey: input.idempotencyKey }),
        now: new Date(now),
        // Per device: one full mailbox (a phone left off) does not stop delivery to the others.
        limits: { max: config.mailboxMax, perSender: config.mailboxPerSender },
      }),
      this.reachable(recipient.id, input.toDevice, auth.sessionId, now),
    ]);
    switch (result.outcome) {
      case 'stored':
        metrics.sent.inc();
        return { id: signal.id, expiresAt: signal.expiresAt, devices: result.devices.length, reachable: Math.min(reachable, result.devices.length) };
      case 'repeat':
        // A retry whose first answer was lost: that answer again, counted once already.
        return { id: result.id, expiresAt: result.expiresAt, devices: result.devices, reachable: Math.min(reachable, result.devices) };
      case 'no_device':
        // Only for a connection (or oneself): naming a device of anyone else tells nothing of them.
        metrics.rejected.inc({ reason: 'no_device' });
        throw notFound(`That device is not a device of @${recipient.username}.`);
      case 'refused':
        // The same answer for both: a sender learns only that these mailboxes take no more from them now.
        metrics.rejected.inc({ reason: result.reason });
        throw mailboxFull();
    }
  }

  /**
   * How many of the recipient's live devices (only `toDevice` when given; never the sending device)
   * can get a signal soon: one holding a poll here or seen within PRESENCE_WINDOW (every authenticated
   * request, a poll included, refreshes its lastSeen), or one with a push subscription to wake it.
   */
  private async reachable(recipientId: string, toDevice: string | undefined, senderDevice: string, now: number): Promise<number> {
    const { store, notifier, config } = this.d;
    const targets =
      toDevice === undefined
        ? (await store.sessions.listByUser(recipientId, new Date(now))).filter((s) => s.id !== senderDevice)
        : await this.liveDevice(recipientId, toDevice, senderDevice, now);
    const windowMs = config.presenceWindow * 1000;
    const asleep = targets.filter((s) => !notifier.isHoldingSession(s.id) && (s.lastSeen === null || now - s.lastSeen.getTime() >= windowMs));
    if (asleep.length === 0) return targets.length;
    const subscribed = new Set((await store.pushSubscriptions.findMany(asleep.map((s) => s.id))).map((p) => p.deviceId));
    return targets.length - asleep.length + subscribed.size;
  }

  /**
   * `toDevice` as the one target `reachable` counts, when it is a live device of the recipient other than
   * the sending one: the same rule as `listByUser` (the user's, not expired at `now`), but one session
   * looked up (remembered on SQLite) instead of all of a recipient's, who may have many.
   */
  private async liveDevice(recipientId: string, toDevice: string, senderDevice: string, now: number): Promise<SessionRecord[]> {
    if (toDevice === senderDevice) return [];
    const session = await this.d.store.sessions.findById(toDevice);
    return session && session.userId === recipientId && session.expiresAt.getTime() > now ? [session] : [];
  }

  /**
   * The caller's device (session) mailbox: acknowledges up to `after` (when the store cannot write, the
   * poll still answers, see `tryAck`), then answers the pending
   * signals and server events; when there are none and `wait` is set, holds until one arrives, the wait ends, the client disconnects, a newer poll of the same
   * device replaces this one (answered empty) or the server stops. Past POLLS_PER_USER held polls
   * the poll is refused (429), past POLLS_MAX (503); a poll that would not wait is never refused.
   * A held poll whose session ends answers 401 at once (`endSessions`); and a poll that waited looks
   * its session up in the store before it answers, so nothing reaches a session that ended however
   * it ended (another process, another instance, a wake-up racing the logout).
   */
  async poll(auth: Caller, after: string | undefined, waitSeconds: number, client: ClientWatch): Promise<{ signals: SignalRecord[]; cursor: string }> {
    const { store, notifier, cursors, metrics } = this.d;
    const device = auth.sessionId;
    const acked = after === undefined ? 0 : cursors.decode(device, after, 'query.after');
    const ackStored = acked > 0 ? await this.tryAck(device, acked) : true;
    const deadline = this.d.scheduler.now() + waitSeconds * 1000;
    const pending = ackStored ? () => store.signals.pending(device, new Date(this.d.clock.now()), POLL_BATCH) : () => this.pendingAfter(device, acked);
    // Read once before taking a slot: a poll with something to deliver answers without holding,
    // so the caps never stand between a client and its pending signals.
    const first = await pending();
    if (first.length > 0 || waitSeconds === 0) return this.answer(device, first, acked);

    // Only a poll that waits watches for its client leaving: a short poll needs no listener at all.
    const taken = notifier.hold(auth.userId, auth.sessionId, client.start());
    if ('refused' in taken) {
      metrics.pollsRefused.inc({ reason: taken.refused });
      throw taken.refused === 'user_cap' ? tooManyPolls() : serverFullOfPolls();
    }
    if (taken.replaced) metrics.pollsRefused.inc({ reason: 'replaced' });
    const { hold } = taken;
    let waited = false;
    // What a poll that waited answers: the hold is released first, so the session lookup before that
    // answer (answerLive) takes no poll slot.
    let afterWait: SignalRecord[];
    try {
      for (;;) {
        // Armed before the read: a signal stored between the read and the wait still wakes this poll.
        hold.arm();
        const signals = await pending();
        const remaining = deadline - this.d.scheduler.now();
        if (signals.length > 0 || remaining <= 0) {
          if (!waited) return this.answer(device, signals, acked);
          afterWait = signals;
          break;
        }
        const reason = await hold.wait(remaining);
        waited = true;
        if (reason === 'ended') throw sessionEnded();
        // The device polls again elsewhere (a new connection after a network change): this request
        // answers at once with nothing, so a signal is handed to the poll the device is listening on.
        if (reason === 'replaced') return this.answer(device, [], acked);
        if (reason !== 'signal') {
          afterWait = await pending();
          break;
        }
      }
    } finally {
      hold.release();
    }
    return this.answerLive(auth, afterWait, acked);
  }

  /**
   * The acknowledgement a poll carries (`after=`), when the store can take it: false when the store
   * cannot write now (a full disk, a read-only file system), so the poll still answers what it can read
   * instead of failing. Nothing is lost: the entries stay stored, the answer skips them (`pendingAfter`)
   * and its cursor still covers them, so the client's next poll carries the acknowledgement again.
   */
  private async tryAck(device: string, upTo: number): Promise<boolean> {
    try {
      this.d.metrics.acknowledged.inc(await this.d.store.signals.ack(device, upTo));
      return true;
    } catch (err) {
      if (err instanceof StoreUnavailableError) return false;
      throw err;
    }
  }

  /**
   * The device's pending entries above `acked`, for a poll whose acknowledgement the store could not take:
   * the entries up to `acked` are still stored but the client has them already. They number at most
   * what earlier answers handed out, about MAILBOX_MAX (sends past it are refused, and a store that
   * cannot write stores nothing new), so reading that many more than a batch finds the batch after them.
   */
  private async pendingAfter(device: string, acked: number): Promise<SignalRecord[]> {
    const rows = await this.d.store.signals.pending(device, new Date(this.d.clock.now()), POLL_BATCH + this.d.config.mailboxMax);
    return rows.filter((s) => s.seq > acked).slice(0, POLL_BATCH);
  }

  /** Removes everything up to the cursor from the caller's device mailbox, for clients that acknowledge without polling again. */
  async ack(auth: Caller, upTo: string): Promise<void> {
    const seq = this.d.cursors.decode(auth.sessionId, upTo, 'upTo');
    this.d.metrics.acknowledged.inc(await this.d.store.signals.ack(auth.sessionId, seq));
  }

  /** Drops expired signals (counted as expired); run in the background. */
  async sweepExpired(): Promise<void> {
    this.d.metrics.expired.inc(await this.d.store.signals.purgeExpired(new Date(this.d.clock.now())));
  }

  /** Drops every pending entry of the caller's device; the user's other devices keep theirs. */
  async clear(auth: Caller): Promise<void> {
    await this.d.store.signals.clear(auth.sessionId);
  }

  /**
   * `answer`, for a poll that waited: its session is looked up first (after the mailbox was read) and
   * a session that ended meanwhile gets 401, never the signals.
   */
  private async answerLive(auth: Caller, signals: SignalRecord[], acked: number): Promise<{ signals: SignalRecord[]; cursor: string }> {
    const session = await this.d.store.sessions.findById(auth.sessionId);
    if (!sessionIsLive(session, auth.userId, this.d.clock.now())) throw sessionEnded();
    return this.answer(auth.sessionId, signals, acked);
  }

  private answer(deviceId: string, signals: SignalRecord[], acked: number): { signals: SignalRecord[]; cursor: string } {
    if (signals.length > 0) {
      const now = this.d.clock.now();
      this.d.metrics.delivered.inc(signals.length);
      for (const s of signals) this.d.metrics.deliveryLatency.observe(Math.max(0, now - s.createdAt.getTime()) / 1000);
    }
    // The cursor covers exactly what this answer handed out (or what was acknowledged already), so
    // passing it back can never acknowledge a signal the client has not seen.
    const last = signals.length > 0 ? signals[signals.length - 1]!.seq : acked;
    return { signals, cursor: this.d.cursors.encode(deviceId, Math.max(last, acked)) };
  }
}
