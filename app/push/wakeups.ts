import type { Logger } from 'pino';

export interface CoalescerDeps {
  /** PUSH_COALESCE_MS: at most one wake-up per device per window. */
  windowMs: number;
  /** True while the device holds a long-poll here: it gets the entry now and needs no wake-up. */
  isHolding: (deviceId: string) => boolean;
  /** Of these devices, the ones with a push subscription (one store read per batch). */
  subscribed: (deviceIds: readonly string[]) => Promise<Set<string>>;
  /** Queues the wake-up of a device for `count` arrivals. */
  wake: (deviceId: string, count: number) => void;
  logger: Logger;
}

interface Window {
  /** Arrivals not yet covered by a wake-up. */
  count: number;
  /** Ends the window; null while the device's first arrival waits for its subscription look-up. */
  timer: NodeJS.Timeout | null;
}

/**
 * Turns mailbox arrivals into wake-ups: a device that holds no poll gets one at once, then at most one
 * more per window, at its end, for whatever arrived during it (when it still holds no poll). On the
 * send's own path this is only map work: the subscription look-up runs on the next turn of the event
 * loop, once for every device that arrivals named meanwhile.
 */
export class WakeCoalescer {
  private readonly windows = new Map<string, Window>();
  private batch = new Set<string>();
  private scheduled = false;
  private stopped = false;

  constructor(private readonly d: CoalescerDeps) {}

  /** Devices with an open window or a look-up pending (tests, metrics). */
  get tracked(): number {
    return this.windows.size;
  }

  /** The store's arrival feed: these devices' mailboxes just received entries. */
  arrived(deviceIds: readonly string[], count = 1): void {
    if (this.stopped) return;
    for (const id of deviceIds) {
      if (this.d.isHolding(id)) continue;
      const open = this.windows.get(id);
      if (open) {
        open.count += count;
        continue;
      }
      this.windows.set(id, { count, timer: null });
      this.batch.add(id);
    }
    if (this.batch.size > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => void this.flush());
    }
  }

  /** No more wake-ups; open windows end without their trailing one. */
  stop(): void {
    this.stopped = true;
    for (const w of this.windows.values()) if (w.timer) clearTimeout(w.timer);
    this.windows.clear();
    this.batch.clear();
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const ids = [...this.batch];
    this.batch = new Set();
    let subscribed: Set<string>;
    try {
      subscribed = await this.d.subscribed(ids);
    } catch (err) {
      this.d.logger.warn({ err }, 'push subscriptions could not be read: wake-ups skipped');
      subscribed = new Set();
    }
    for (const id of ids) {
      const w = this.windows.get(id);
      if (!w) continue; // stopped meanwhile
      if (!subscribed.has(id) || this.d.isHolding(id)) {
        this.windows.delete(id);
        continue;
      }
      const count = w.count;
      w.count = 0;
      this.d.wake(id, count);
      w.timer = setTimeout(() => this.windowEnded(id), this.d.windowMs);
      w.timer.unref();
    }
  }

  private windowEnded(id: string): void {
    const w = this.windows.get(id);
    if (!w) return;
    this.windows.delete(id);
    // Whatever arrived during the window, when the device still holds no poll, is one more wake-up
    // (which opens the next window); a device that is polling by now reads it itself.
    if (w.count > 0) this.arrived([id], w.count);
  }
}
