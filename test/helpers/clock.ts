import type { Clock } from '../../app/lib/clock.js';
import type { Scheduler } from '../../app/lib/scheduler.js';

/** A clock that moves only when told, for expiry tests without sleeping. */
export class ManualClock implements Clock {
  constructor(private ms: number) {}
  now(): number {
    return this.ms;
  }
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

interface ManualTimer {
  readonly ms: number;
  due: number;
  readonly fn: () => void;
}

/**
 * A Scheduler whose time moves only by `advance`, firing each interval as often as it came due on the way:
 * a held poll's timeout or the next session check without sleeping through them. Starts at the test apps'
 * clock time, a whole second, so a wait of whole seconds ends exactly on a tick of the notifier's wheel.
 */
export class ManualScheduler implements Scheduler {
  private ms = Date.parse('2026-06-01T12:00:00Z');
  private readonly timers = new Set<ManualTimer>();

  now(): number {
    return this.ms;
  }

  every(ms: number, fn: () => void): () => void {
    const timer: ManualTimer = { ms, due: this.ms + ms, fn };
    this.timers.add(timer);
    return () => this.timers.delete(timer);
  }

  /**
   * Moves time `ms` forward, firing due timers in time order; after each firing the event loop turns once,
   * so what the timer started (a store read, an answer being written) runs before time moves on.
   */
  async advance(ms: number): Promise<void> {
    const end = this.ms + ms;
    for (;;) {
      let next: ManualTimer | undefined;
      for (const timer of this.timers) if (timer.due <= end && (!next || timer.due < next.due)) next = timer;
      if (!next) break;
      this.ms = next.due;
      next.due += next.ms;
      next.fn();
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.ms = end;
  }
}
