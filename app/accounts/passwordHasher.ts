import argon2 from 'argon2';
import { rateLimited, unavailable } from '../core/errors.js';
import { QueueFullError, Semaphore, ShareExceededError } from '../lib/semaphore.js';

export interface Argon2Params {
  memoryCost: number; // KiB
  timeCost: number;
  parallelism: number;
}

/** argon2id at the library's defaults: 64 MiB, 3 passes, 4 lanes (stronger than OWASP's 19 MiB/2/1 floor). */
export const DEFAULT_ARGON2: Argon2Params = { memoryCost: 65536, timeCost: 3, parallelism: 4 };

/**
 * Hashes running or queued for one caller (a user id, or a client network for anonymous routes).
 * With 2 running at a time this is about four hashes' time of waiting for whoever comes next, and
 * still room for a household or office behind one address signing in at the same moment.
 */
export const HASHES_PER_CALLER = 8;

/** Hashes running at once: each holds `memoryCost` (64 MiB), so two bound the memory a flood can take. */
export const HASHES_AT_ONCE = 2;

/** Hashes waiting for a turn; past it the next gets 503 at once rather than a wait no client would sit out. */
export const HASHES_WAITING_MAX = 256;

/**
 * Hashes and verifies passwords with argon2id, at most `concurrency` at once: each hash holds
 * `memoryCost` of memory, so a login flood queues (then gets 503) instead of exhausting RAM.
 * Each caller may hold at most `perCaller` of the running and queued hashes; past that it gets
 * 429 at once, so one account or network hammering password checks cannot fill the queue for others.
 */
export class PasswordHasher {
  private readonly gate: Semaphore;
  private dummyHash: Promise<string> | undefined;

  constructor(
    readonly params: Argon2Params = DEFAULT_ARGON2,
    concurrency = HASHES_AT_ONCE,
    maxQueue = HASHES_WAITING_MAX,
    perCaller = HASHES_PER_CALLER,
  ) {
    this.gate = new Semaphore(concurrency, maxQueue, perCaller);
  }

  /** Hashes a new password; `caller` is whom the work counts against (see the class doc). */
  hash(password: string, caller?: string): Promise<string> {
    return this.limited(() => this.hashNow(password), caller);
  }

  /** True when `password` matches `hash`; `caller` is whom the work counts against. */
  verify(hash: string, password: string, caller?: string): Promise<boolean> {
    return this.limited(() => this.verifyNow(hash, password), caller);
  }

  /**
   * Spends the same work as a real verify, for logins naming no account, so the answer's timing
   * does not reveal whether a username or e-mail exists.
   */
  async verifyAgainstDummy(password: string, caller?: string): Promise<false> {
    // Made once, through the same gate as every other hash; a failed attempt (queue full) is retried later.
    this.dummyHash ??= this.hash('signalbox dummy password').catch((err: unknown) => {
      this.dummyHash = undefined;
      throw err;
    });
    await this.verify(await this.dummyHash, password, caller);
    return false;
  }

  /** The argon2 work of one verification, run once a slot is free. */
  /** The argon2 hash itself, once the queue gave this caller a place. */
  protected hashNow(password: string): Promise<string> {
    return argon2.hash(password, { type: argon2.argon2id, ...this.params });
  }

  protected async verifyNow(hash: string, password: string): Promise<boolean> {
    try {
      return await argon2.verify(hash, password);
    } catch {
      return false; // a malformed stored hash never matches
    }
  }

  /** True when the hash was made with other parameters and should be replaced at the next login. */
  needsRehash(hash: string): boolean {
    try {
      return argon2.needsRehash(hash, { ...this.params });
    } catch {
      return true;
    }
  }

  private async limited<T>(task: () => Promise<T>, caller: string | undefined): Promise<T> {
    try {
      return await this.gate.run(task, caller);
    } catch (err) {
      if (err instanceof ShareExceededError) throw rateLimited('HASHES_PER_CALLER', 2, 'Too many password checks at once from you; try again shortly.');
      if (err instanceof QueueFullError) throw unavailable('Too many sign-ins at once; try again shortly.', 2);
      throw err;
    }
  }
}
