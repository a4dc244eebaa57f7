import { afterEach, describe, expect, it } from '@jest/globals';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { CountingHasher } from '../helpers/countingHasher.js';
import { bearer, registerUser } from '../helpers/factories.js';

/**
 * The real hasher with the production queue (2 at once, 256 queued, a share of 8 per caller), whose
 * argon2 work waits until `open()`: the queue fills while nothing finishes, so the test sees exactly
 * who got a place, without depending on how fast argon2 runs.
 */
class HeldHasher extends CountingHasher {
  /** Password checks asked for, whether they then ran, queued or were refused. */
  asked = 0;
  private release!: () => void;
  private readonly held = new Promise<void>((resolve) => (this.release = resolve));

  override verify(...args: Parameters<CountingHasher['verify']>): Promise<boolean> {
    this.asked++;
    return super.verify(...args);
  }

  open(): void {
    this.release();
  }

  protected override async verifyNow(hash: string, password: string): Promise<boolean> {
    await this.held;
    return super.verifyNow(hash, password);
  }
}

let t: TestApp;
afterEach(() => t?.close());

/** Resolves once `n` password checks have been asked of the hasher (run, queued or refused). */
async function asked(hasher: HeldHasher, n: number): Promise<void> {
  while (hasher.asked < n) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('the argon2 queue', () => {
  it('keeps answering another user while one account floods password checks', async () => {
    const hasher = new HeldHasher();
    t = makeTestApp({ hasher });
    const alice = await registerUser(t, { username: 'alice', password: 'correct horse battery' });
    await registerUser(t, { username: 'bob_b', password: 'bob password here' });
    const flood = Array.from({ length: 300 }, (_, i) =>
      t.http.post('/auth/change-password').set(bearer(alice)).send({ currentPassword: `wrong guess ${i}`, newPassword: 'a brand new secret' }),
    );
    const floodDone = Promise.all(flood);
    await asked(hasher, 300);
    const bob = t.http.post('/auth/login').send({ username: 'bob_b', password: 'bob password here' }).then((r) => r);
    await asked(hasher, 301);
    hasher.open();
    const results = await floodDone;
    expect((await bob).status).toBe(200);
    const refused = results.filter((r) => r.status === 429);
    expect(refused).toHaveLength(292);
    expect(refused[0]!.body.error.code).toBe('rate_limited');
    expect(results.filter((r) => r.status === 401)).toHaveLength(8);
  }, 30_000);
});
