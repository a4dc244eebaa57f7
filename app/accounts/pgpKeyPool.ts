import { Worker } from 'node:worker_threads';
import { unavailable } from '../core/errors.js';
import type { PgpAnswer, PgpJob } from './pgpKey.worker.js';
import { NOT_A_KEY } from './pgpPolicy.js';

export interface PgpPoolOptions {
  /** The compiled worker module. */
  workerUrl: URL;
  /** Worker threads checking keys at once. */
  workers: number;
  /** Checks waiting for a worker; past this a check is refused with 503 unavailable. */
  queue: number;
  /** Hard limit on one check; past it the worker is terminated and replaced. */
  timeoutMs: number;
}

/** How long a new worker may take to load openpgp before the check is given up as unavailable. */
const STARTUP_LIMIT_MS = 15_000;
/** Heap for one worker: parsing a 64 KiB key needs a few MB; a runaway parse dies here, not in the server. */
const WORKER_HEAP_MB = 96;
/** Retry-After for a full queue: a few checks' time limits. */
const BUSY_RETRY_SECONDS = 5;

export const TIMED_OUT = 'The OpenPGP key took too long to check; upload a smaller or simpler key.';
/** A worker that died on a key (out of memory, a crash) answers like an unreadable key: nothing about the input. */
const CRASHED = NOT_A_KEY;

interface Waiting {
  job: Omit<PgpJob, 'id'>;
  resolve: (answer: PgpAnswer) => void;
  reject: (err: unknown) => void;
}

/** One worker thread and the job it is on; `ready` settles once openpgp has loaded in it. */
interface Slot {
  worker: Worker;
  ready: Promise<void>;
  busy: boolean;
}

/**
 * A small pool of worker threads for OpenPGP key checks, so their cost never lands on the event loop.
 * Idle workers are unref'd: they keep neither the server nor a test run from exiting.
 */
export class PgpWorkerPool {
  private readonly slots: Array<Slot | null>;
  private readonly waiting: Waiting[] = [];
  private nextId = 1;
  private closed = false;

  constructor(private readonly options: PgpPoolOptions) {
    this.slots = Array.from({ length: Math.max(1, options.workers) }, () => null);
  }

  /** Runs one check; throws 503 unavailable when every worker is busy and the queue is full. */
  run(job: Omit<PgpJob, 'id'>): Promise<PgpAnswer> {
    if (this.closed) return Promise.reject(unavailable());
    const free = this.slots.findIndex((s) => !s?.busy);
    if (free < 0 && this.waiting.length >= this.options.queue) {
      return Promise.reject(unavailable('Too many OpenPGP keys are being checked; try again shortly.', BUSY_RETRY_SECONDS));
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ job, resolve, reject });
      this.dispatch();
    });
  }

  /** Terminates every worker; checks still waiting are refused with 503. */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.reject(unavailable());
    await Promise.all(this.slots.flatMap((s) => (s ? [s.worker.terminate()] : [])));
  }

  private dispatch(): void {
    for (let i = 0; i < this.slots.length && this.waiting.length > 0; i++) {
      if (this.slots[i]?.busy) continue;
      const slot = (this.slots[i] ??= this.spawn(i));
      slot.busy = true;
      void this.runOn(i, slot, this.waiting.shift()!);
    }
  }

  private spawn(index: number): Slot {
    const worker = new Worker(this.options.workerUrl, { resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
    worker.unref();
    const ready = new Promise<void>((resolve, reject) => {
      const limit = setTimeout(() => reject(new Error('OpenPGP worker did not start')), STARTUP_LIMIT_MS);
      worker.once('message', () => {
        clearTimeout(limit);
        resolve();
      });
      worker.once('error', (err) => {
        clearTimeout(limit);
        reject(err);
      });
    });
    ready.catch(() => {}); // observed in runOn; this only keeps an early failure from being "unhandled"
    // A worker that dies (out of memory, a crash) is replaced by the next dispatch.
    worker.once('exit', () => {
      if (this.slots[index]?.worker === worker) this.slots[index] = null;
    });
    return { worker, ready, busy: false };
  }

  private async runOn(index: number, slot: Slot, { job, resolve, reject }: Waiting): Promise<void> {
    const { worker } = slot;
    worker.ref(); // a check in progress keeps the process alive until it is answered
    try {
      await slot.ready;
    } catch {
      this.retire(index, slot);
      reject(unavailable('OpenPGP keys cannot be checked right now; try again shortly.'));
      return;
    }
    const id = this.nextId++;
    const answer = await new Promise<PgpAnswer>((done) => {
      const timer = setTimeout(() => {
        cleanup();
        this.retire(index, slot);
        done({ id, ok: false, message: TIMED_OUT });
      }, this.options.timeoutMs);
      const onMessage = (a: PgpAnswer) => {
        if (a.id !== id) return;
        cleanup();
        done(a);
      };
      const onGone = () => {
        cleanup();
        this.retire(index, slot);
        done({ id, ok: false, message: CRASHED });
      };
      const cleanup = () => {
        clearTimeout(timer);
        worker.off('message', onMessage).off('error', onGone).off('exit', onGone);
      };
      worker.on('message', onMessage).on('error', onGone).on('exit', onGone);
      worker.postMessage({ ...job, id } satisfies PgpJob);
    });
    if (this.slots[index] === slot) {
      slot.busy = false;
      worker.unref();
    }
    resolve(answer);
    this.dispatch();
  }

  /** Drops a worker that timed out or failed: terminate() stops even a tight loop; the next dispatch spawns anew. */
  private retire(index: number, slot: Slot): void {
    if (this.slots[index] === slot) this.slots[index] = null;
    void slot.worker.terminate();
    this.dispatch();
  }
}
