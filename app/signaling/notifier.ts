/** Why a wait ended. */
export type WakeReason = 'signal' | 'timeout' | 'aborted' | 'shutdown';

export interface Waiter {
  /** Resolves once: a signal arrived, the time ran out, the client went away, or the server stops. */
  readonly woken: Promise<WakeReason>;
  /** Releases the waiter without waking it (the poll answered without waiting). */
  cancel(): void;
}

/**
 * Wakes held long-polls when their mailbox receives a signal. Waiters are registered *before* the
 * mailbox is read, so a signal stored between the read and the wait still wakes the poll.
 * In-process; other instances are reached through the store's arrival feed or a re-check interval.
 */
export class MailboxNotifier {
  private readonly waiters = new Map<string, Set<(reason: WakeReason) => void>>();
  private held = 0;
  private closing = false;

  /** How many polls are waiting right now (the held-polls gauge). */
  get heldPolls(): number {
    return this.held;
  }

  /** True while `userId` holds a poll on this instance (presence: online while polling). */
  isHolding(userId: string): boolean {
    return this.waiters.has(userId);
  }

  /** Registers a waiter for `userId` that wakes after `timeoutMs` at the latest. */
  register(userId: string, timeoutMs: number, abort: AbortSignal): Waiter {
    if (this.closing || abort.aborted) return { woken: Promise.resolve(this.closing ? 'shutdown' : 'aborted'), cancel: () => {} };
    let settle!: (reason: WakeReason) => void;
    const woken = new Promise<WakeReason>((resolve) => {
      let done = false;
      const timer = setTimeout(() => settle('timeout'), timeoutMs);
      const onAbort = () => settle('aborted');
      settle = (reason) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        abort.removeEventListener('abort', onAbort);
        const set = this.waiters.get(userId);
        set?.delete(settle);
        if (set?.size === 0) this.waiters.delete(userId);
        this.held--;
        resolve(reason);
      };
      abort.addEventListener('abort', onAbort, { once: true });
    });
    let set = this.waiters.get(userId);
    if (!set) this.waiters.set(userId, (set = new Set()));
    set.add(settle);
    this.held++;
    return { woken, cancel: () => settle('aborted') };
  }

  /** Wakes every poll held for `userId`. */
  notify(userId: string): void {
    const set = this.waiters.get(userId);
    if (set) for (const settle of [...set]) settle('signal');
  }

  /** Wakes every held poll so each can re-read its mailbox (cross-instance fallback). */
  notifyAll(): void {
    for (const userId of [...this.waiters.keys()]) this.notify(userId);
  }

  /** Shutdown: every held poll answers now (empty), and new polls do not wait. */
  close(): void {
    this.closing = true;
    for (const set of [...this.waiters.values()]) for (const settle of [...set]) settle('shutdown');
  }
}
