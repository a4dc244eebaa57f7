import { systemScheduler, type Scheduler } from '../lib/scheduler.js';

/**
 * Why a wait ended. `replaced`: a newer poll of the same session (device) took this one's place.
 * `ended`: the session itself ended (logout, password change or reset, account deletion or disable).
 */
export type WakeReason = 'signal' | 'timeout' | 'aborted' | 'shutdown' | 'replaced' | 'ended';

/**
 * Sessions that just ended: these ids, or every session of `userId` except `except` (a password
 * change keeps the session that made it). One shape for every way a session ends.
 */
export type EndedSessions = { readonly sessionIds: readonly string[] } | { readonly userId: string; readonly except?: string };

/** A held poll's user and session, for checking in the store that the session still exists. */
export interface HeldSession {
  readonly userId: string;
  readonly sessionId: string;
}

/** Why a poll may not hold: its user holds `perUser` polls already, or this process holds `total`. */
export type PollRefusal = 'user_cap' | 'total_cap';

/** How many long-polls may be held at once (POLLS_PER_USER, POLLS_MAX). */
export interface PollCaps {
  perUser: number;
  total: number;
}

/**
 * One held long-poll's place in the notifier, taken once per request and kept across its waits, so
 * waking up and re-reading the mailbox never lets another poll take the slot in between.
 */
export interface Hold {
  /** Call before each mailbox read: a signal arriving after this wakes the next `wait` at once. */
  arm(): void;
  /**
   * Resolves once: a signal arrived since `arm`, the time ran out, the client went away, a newer
   * poll of the same session replaced this one, its session ended, or the server stops.
   */
  wait(timeoutMs: number): Promise<WakeReason>;
  /** Gives the slot back; call exactly when the poll answers. */
  release(): void;
}

export type HoldResult = { hold: Hold; replaced: boolean } | { refused: PollRefusal };

/**
 * The client end of a held poll: whether it has gone away, and the held poll to tell when it does. Lighter
 * than an AbortController (an EventTarget per request) for what a poll needs of it; the poll is told
 * through its hold object rather than a closure, one allocation fewer per held poll (bench/README.md).
 */
export interface ClientGone {
  aborted: boolean;
  /** At most one; null removes it. */
  holder: { clientLeft(): void } | null;
}

/** Starts watching a poll's client, when the poll is about to wait (a short poll watches nothing). */
export interface ClientWatch {
  start(): ClientGone;
}

/**
 * Held polls' timeouts are kept in buckets this many ms wide, with one timer for all of them (bench/README.md:
 * a Timeout object, a closure and a promise per wait were a share of every held poll's memory). A wait
 * ends at most one tick after its time, never before.
 */
export const WAIT_TICK_MS = 50;

interface Entry {
  readonly userId: string;
  readonly sessionId: string;
  /** Set by an arrival since the last `arm`: the next wait returns at once. */
  signalled: boolean;
  /** Why the hold ended for good (replaced, aborted, shutdown, released); null while it holds. */
  ended: WakeReason | null;
  /** Resolves the wait in progress, if any. */
  resolve: ((reason: WakeReason) => void) | null;
  /** The timer-wheel tick the wait in progress times out at (0: none). */
  tick: number;
  readonly gone: ClientGone;
}

/** A hold that ends before it begins (server stopping or client already gone): nothing is counted. */
const finished = (reason: WakeReason): Hold => ({ arm: () => {}, wait: async () => reason, release: () => {} });

/** One hold's handle: the entry's methods, without a closure per poll. */
class HeldPoll implements Hold {
  constructor(
    private readonly notifier: MailboxNotifier,
    private readonly entry: Entry,
  ) {}
  arm(): void {
    this.entry.signalled = false;
  }
  wait(timeoutMs: number): Promise<WakeReason> {
    return this.notifier.waitFor(this.entry, timeoutMs);
  }
  release(): void {
    this.notifier.endEntry(this.entry, 'aborted');
  }
  /** `ClientGone.holder`: the client went away. */
  clientLeft(): void {
    this.notifier.endEntry(this.entry, 'aborted');
  }
}

/**
 * Wakes held long-polls when their device's mailbox receives a signal or a server event, and bounds
 * how many are held: one per session (a device's new poll replaces its older one), `perUser` per user,
 * `total` in this process. A poll arms its hold *before* reading the mailbox, so an entry stored
 * between the read and the wait still wakes it. In-process; other instances are reached through the
 * store's arrival feed or a re-check interval.
 */
export class MailboxNotifier {
  private readonly byUser = new Map<string, Set<Entry>>();
  private readonly bySession = new Map<string, Entry>();
  private held = 0;
  private closing = false;
  /** Waits by the tick they time out at; one interval timer runs while any wait is in progress. */
  private readonly wheel = new Map<number, Set<Entry>>();
  private lastTick = 0;
  private stopTicker: (() => void) | null = null;

  /** `scheduler`: the time the waits run out by (real time unless a test drives it). */
  constructor(
    private readonly caps: PollCaps,
    private readonly scheduler: Scheduler = systemScheduler,
  ) {}

  /** How many polls are held right now (the held-polls gauge). */
  get heldPolls(): number {
    return this.held;
  }

  /** True while the device (session) holds a poll on this instance. */
  isHoldingSession(sessionId: string): boolean {
    return this.bySession.has(sessionId);
  }

  /** True while `userId` holds a poll on this instance (presence: online while polling). */
  isHolding(userId: string): boolean {
    return this.byUser.has(userId);
  }

  /**
   * Takes a slot for a poll of `sessionId` that is about to wait. An older poll of the same session
   * ends first (`replaced`), so a device never holds more than one; past the per-user or total cap
   * the poll is refused instead, and nothing about the held polls changes.
   */
  hold(userId: string, sessionId: string, gone: ClientGone): HoldResult {
    if (this.closing) return { hold: finished('shutdown'), replaced: false };
    if (gone.aborted) return { hold: finished('aborted'), replaced: false };
    const older = this.bySession.get(sessionId);
    if (older) this.end(older, 'replaced');
    else {
      // Only a poll that adds to the count can exceed a cap; a replacement keeps both counts as they were.
      if ((this.byUser.get(userId)?.size ?? 0) >= this.caps.perUser) return { refused: 'user_cap' };
      if (this.held >= this.caps.total) return { refused: 'total_cap' };
    }
    const entry: Entry = { userId, sessionId, signalled: false, ended: null, resolve: null, tick: 0, gone };
    let set = this.byUser.get(userId);
    if (!set) this.byUser.set(userId, (set = new Set()));
    set.add(entry);
    this.bySession.set(sessionId, entry);
    this.held++;
    const hold = new HeldPoll(this, entry);
    gone.holder = hold;
    return { hold, replaced: older !== undefined };
  }

  /** Wakes the poll held by each of these devices (sessions), if any: their mailboxes just received something. */
  notify(deviceIds: Iterable<string>): void {
    for (const id of deviceIds) {
      const entry = this.bySession.get(id);
      if (!entry) continue;
      entry.signalled = true;
      this.wake(entry, 'signal');
    }
  }

  /**
   * Ends the held polls of sessions that ended (`ended`): each answers at once (401 in the poll), and
   * the sessions hold nothing here afterwards. Sessions with no held poll on this instance are skipped.
   */
  endSessions(ended: EndedSessions): void {
    if ('sessionIds' in ended) {
      for (const id of ended.sessionIds) {
        const entry = this.bySession.get(id);
        if (entry) this.end(entry, 'ended');
      }
      return;
    }
    const set = this.byUser.get(ended.userId);
    if (!set) return;
    for (const entry of [...set]) if (entry.sessionId !== ended.except) this.end(entry, 'ended');
  }

  /** The user and session of every held poll, for the periodic check that their sessions still exist. */
  heldSessions(): HeldSession[] {
    return [...this.bySession.values()].map(({ userId, sessionId }) => ({ userId, sessionId }));
  }

  /** Wakes every held poll so each can re-read its mailbox (cross-instance fallback). */
  notifyAll(): void {
    this.notify([...this.bySession.keys()]);
  }

  /** Shutdown: every held poll answers now (empty), and new polls do not wait. */
  close(): void {
    this.closing = true;
    for (const set of [...this.byUser.values()]) for (const entry of [...set]) this.end(entry, 'shutdown');
  }

  /** `Hold.wait`: resolves at once when the hold ended or was signalled since `arm`, else on the next wake. */
  waitFor(entry: Entry, timeoutMs: number): Promise<WakeReason> {
    if (entry.ended) return Promise.resolve(entry.ended);
    if (entry.signalled) return Promise.resolve('signal');
    return new Promise<WakeReason>((resolve) => {
      entry.resolve = resolve;
      const now = this.scheduler.now();
      if (!this.stopTicker) {
        this.lastTick = Math.floor(now / WAIT_TICK_MS);
        this.stopTicker = this.scheduler.every(WAIT_TICK_MS, () => this.expire());
      }
      // Never a tick already passed, which the wheel would not visit again.
      const tick = Math.max(Math.ceil((now + timeoutMs) / WAIT_TICK_MS), this.lastTick + 1);
      entry.tick = tick;
      let bucket = this.wheel.get(tick);
      if (!bucket) this.wheel.set(tick, (bucket = new Set()));
      bucket.add(entry);
    });
  }

  /** `Hold.release`. */
  endEntry(entry: Entry, reason: WakeReason): void {
    this.end(entry, reason);
  }

  /** Ends every wait whose tick has come; stops the timer when none is left. */
  private expire(): void {
    const now = Math.floor(this.scheduler.now() / WAIT_TICK_MS);
    for (let tick = this.lastTick + 1; tick <= now; tick++) {
      const bucket = this.wheel.get(tick);
      if (!bucket) continue;
      this.wheel.delete(tick);
      for (const entry of bucket) {
        entry.tick = 0;
        this.wake(entry, 'timeout');
      }
    }
    this.lastTick = now;
    if (this.wheel.size === 0 && this.stopTicker) {
      this.stopTicker();
      this.stopTicker = null;
    }
  }

  /** Resolves the wait in progress, if any, and takes it off the wheel. */
  private wake(entry: Entry, reason: WakeReason): void {
    const resolve = entry.resolve;
    if (!resolve) return;
    entry.resolve = null;
    if (entry.tick !== 0) {
      const bucket = this.wheel.get(entry.tick);
      bucket?.delete(entry);
      if (bucket?.size === 0) this.wheel.delete(entry.tick);
      entry.tick = 0;
    }
    resolve(reason);
  }

  private end(entry: Entry, reason: WakeReason): void {
    if (entry.ended) return;
    entry.ended = reason;
    const set = this.byUser.get(entry.userId);
    set?.delete(entry);
    if (set?.size === 0) this.byUser.delete(entry.userId);
    if (this.bySession.get(entry.sessionId) === entry) this.bySession.delete(entry.sessionId);
    this.held--;
    entry.gone.holder = null;
    this.wake(entry, reason);
  }
}
