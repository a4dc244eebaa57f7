import argon2 from 'argon2';
import { unavailable } from '../http/errors.js';
import { QueueFullError, Semaphore } from '../lib/semaphore.js';

export interface Argon2Params {
  memoryCost: number; // KiB
  timeCost: number;
  parallelism: number;
}

/** argon2id at the library's defaults: 64 MiB, 3 passes, 4 lanes (stronger than OWASP's 19 MiB/2/1 floor). */
export const DEFAULT_ARGON2: Argon2Params = { memoryCost: 65536, timeCost: 3, parallelism: 4 };

/**
 * Hashes and verifies passwords with argon2id, at most `concurrency` at once: each hash holds
 * `memoryCost` of memory, so a login flood queues (then gets 503) instead of exhausting RAM.
 */
export class PasswordHasher {
  private readonly gate: Semaphore;
  private dummyHash: Promise<string> | undefined;

  constructor(
    readonly params: Argon2Params = DEFAULT_ARGON2,
    concurrency = 2,
    maxQueue = 256,
  ) {
    this.gate = new Semaphore(concurrency, maxQueue);
  }

  hash(password: string): Promise<string> {
    return this.limited(() => argon2.hash(password, { type: argon2.argon2id, ...this.params }));
  }

  verify(hash: string, password: string): Promise<boolean> {
    return this.limited(async () => {
      try {
        return await argon2.verify(hash, password);
      } catch {
        return false; // a malformed stored hash never matches
      }
    });
  }

  /**
   * Spends the same work as a real verify, for logins naming no account, so the answer's timing
   * does not reveal whether a username or e-mail exists.
   */
  async verifyAgainstDummy(password: string): Promise<false> {
    // Made once, through the same gate as every other hash; a failed attempt (queue full) is retried later.
    this.dummyHash ??= this.hash('signalbox dummy password').catch((err: unknown) => {
      this.dummyHash = undefined;
      throw err;
    });
    await this.verify(await this.dummyHash, password);
    return false;
  }

  /** True when the hash was made with other parameters and should be replaced at the next login. */
  needsRehash(hash: string): boolean {
    try {
      return argon2.needsRehash(hash, { ...this.params });
    } catch {
      return true;
    }
  }

  private async limited<T>(task: () => Promise<T>): Promise<T> {
    try {
      return await this.gate.run(task);
    } catch (err) {
      if (err instanceof QueueFullError) throw unavailable('Too many sign-ins at once; try again shortly.', 2);
      throw err;
    }
  }
}
