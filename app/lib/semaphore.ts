/** Thrown by Semaphore.run when the wait queue is full. */
export class QueueFullError extends Error {}

/** Thrown by Semaphore.run when the caller's key already holds its whole share of the semaphore. */
export class ShareExceededError extends Error {}

/**
 * Runs at most `limit` tasks at once and queues at most `maxQueue` more; past that it refuses,
 * so a flood turns into quick refusals instead of unbounded memory. A task run under a key counts
 * against that key's `perKey` share (running and queued together): one caller past its share is
 * refused at once, so it cannot fill the queue and starve everybody else.
 */
export class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly held = new Map<string, number>();

  constructor(
    private readonly limit: number,
    private readonly maxQueue: number,
    private readonly perKey = Infinity,
  ) {}

  async run<T>(task: () => Promise<T>, key?: string): Promise<T> {
    if (key !== undefined) {
      const mine = this.held.get(key) ?? 0;
      if (mine >= this.perKey) throw new ShareExceededError('share used up');
      this.held.set(key, mine + 1);
    }
    try {
      if (this.active >= this.limit) {
        if (this.waiting.length >= this.maxQueue) throw new QueueFullError('queue full');
        await new Promise<void>((resolve) => this.waiting.push(resolve));
      } else {
        this.active++;
      }
      try {
        return await task();
      } finally {
        const next = this.waiting.shift();
        // Hand the slot straight to the next waiter; only free it when nobody waits.
        if (next) next();
        else this.active--;
      }
    } finally {
      if (key !== undefined) {
        const left = this.held.get(key)! - 1;
        if (left === 0)
          this.held.delete(key); // the map holds only keys with work, so it cannot grow without bound
        else this.held.set(key, left);
      }
    }
  }

  get pending(): number {
    return this.waiting.length;
  }
}
