/**
 * The time that held polls wait on and that periodic checks run by: real time in production. Injected
 * (createApp's `scheduler`) so tests drive a poll's timeout or the next session check instead of sleeping
 * through it (docs/architecture.md, "The path of GET /signaling/poll"). Separate from Clock, which dates
 * records and which tests move by hours and days without wanting every held poll to time out.
 */
export interface Scheduler {
  /** Milliseconds since the epoch, for deadlines. */
  now(): number;
  /**
   * Calls `fn` every `ms` until the returned stop is called. `unref`: this timer alone does not keep the
   * process alive (background checks); without it, it does (a held poll's timeout).
   */
  every(ms: number, fn: () => void, options?: { unref?: boolean }): () => void;
}

export const systemScheduler: Scheduler = {
  now: () => Date.now(),
  every(ms, fn, options = {}) {
    const timer = setInterval(fn, ms);
    if (options.unref) timer.unref();
    return () => clearInterval(timer);
  },
};
