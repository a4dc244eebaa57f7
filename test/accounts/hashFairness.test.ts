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
  /** Hashes and password checks asked for since `hold()`, whether they then ran, queued or were refused. */
  asked = 0;
  private held: Promise<void> | null = null;
  private release: () => void = () => {};

  /** From now on argon2 work waits until `open()` (setup before this runs normally). */
  hold(): void {
    this.asked = 0;
    this.held = new Promise<void>((resolve) => (this.release = resolve));
  }

  open(): void {
    this.release();
  }

  override verify(...args: Parameters<CountingHasher['verify']>): Promise<boolean> {
    this.asked++;
    return super.verify(...args);
  }

  override hash(...args: Parameters<CountingHasher['hash']>): Promise<string> {
    this.asked++;
    return super.hash(...args);
  }

  protected override async verifyNow(hash: string, password: string): Promise<boolean> {
    await this.held;
    return super.verifyNow(hash, password);
  }

  protected override async hashNow(password: string): Promise<string> {
    await this.held;
    return super.hashNow(password);
  }
}

let t: TestApp;
// eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the setup failed before creating it
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
    hasher.hold();
    const flood = Array.from({ length: 300 }, (_, i) =>
      t.http
        .post('/auth/change-password')
        .set(bearer(alice))
        .send({ currentPassword: `wrong guess ${i}`, newPassword: 'a brand new secret' }),
    );
    const floodDone = Promise.all(flood);
    await asked(hasher, 300);
    const bob = t.http
      .post('/auth/login')
      .send({ username: 'bob_b', password: 'bob password here' })
      .then((r) => r);
    await asked(hasher, 301);
    hasher.open();
    const results = await floodDone;
    expect((await bob).status).toBe(200);
    const refused = results.filter((r) => r.status === 429);
    expect(refused).toHaveLength(292);
    expect(refused[0]!.body.error.code).toBe('rate_limited');
    expect(results.filter((r) => r.status === 403)).toHaveLength(8);
  }, 30_000);

  it('gives one network only its share of registrations at once, and another network still registers', async () => {
    const hasher = new HeldHasher();
    t = makeTestApp({ hasher, env: { TRUST_PROXY: 'true' } });
    hasher.hold();
    const register = (name: string, ip: string) =>
      t.http
        .post('/auth/register')
        .set('X-Forwarded-For', ip)
        .send({ username: name, email: `${name}@example.org`, password: 'correct horse battery' });
    const flood = Promise.all(Array.from({ length: 20 }, (_, i) => register(`flood_${i}`, '203.0.113.5')));
    await asked(hasher, 20);
    const other = register('someone_else', '198.51.100.9').then((r) => r);
    await asked(hasher, 21);
    hasher.open();
    const results = await flood;
    expect((await other).status).toBe(201);
    expect(results.filter((r) => r.status === 201)).toHaveLength(8);
    expect(results.filter((r) => r.status === 429)).toHaveLength(12);
  }, 30_000);
});
