import { beforeEach, describe, expect, it } from '@jest/globals';
import { CountingHasher } from '../helpers/countingHasher.js';
import { bearer, turnOnTwoFactor } from '../helpers/factories.js';
import { useTestApp, withUser } from '../helpers/perTest.js';
import { statusCounts } from '../helpers/responses.js';
import { totpAt } from '../helpers/totp.js';

// A signed-in user's password re-checks (change-password, DELETE /users/me, 2FA enable and disable)
// share RATE_PASSWORD_CHECK_USER: a stolen access token must not become an unlimited password oracle.

let hasher: CountingHasher;
const t = useTestApp(() => {
  // A roomy hash-queue share, so a burst meets the limit under test and not the queue's.
  hasher = new CountingHasher(1000);
  return { hasher, env: { RATE_PASSWORD_CHECK_USER: '10/900' } };
});
const alice = withUser(t, { username: 'alice', password: 'correct horse battery' });
beforeEach(() => {
  hasher.verifications = 0;
});

const changePassword = (currentPassword: string) => t.http.post('/auth/change-password').set(bearer(alice)).send({ currentPassword, newPassword: 'a brand new secret' });
const deleteMe = (password: string) => t.http.delete('/users/me').set(bearer(alice)).send({ password });
const burst = <T>(n: number, send: (i: number) => Promise<T>) => Promise.all(Array.from({ length: n }, (_, i) => send(i)));

/** Sets up and enables 2FA for alice; returns the secret, one 30-second step after the enabling code. */
async function enableTwoFactor(): Promise<string> {
  return (await turnOnTwoFactor(t, alice, 'correct horse battery')).secret;
}

describe('POST /auth/change-password', () => {
  it('checks at most the limit of 30 wrong current passwords sent at once, refusing the rest with 429', async () => {
    const results = await burst(30, (i) => changePassword(`wrong guess ${i}`));
    expect(statusCounts(results)).toEqual({ 403: 10, 429: 20 });
    expect(results.find((r) => r.status === 403)!.body.error.code).toBe('invalid_password');
    expect(hasher.verifications).toBe(10);
  });

  it('refuses even the right current password past the limit, until the window ends', async () => {
    for (let i = 0; i < 10; i++) await changePassword('wrong guess');
    expect((await changePassword('correct horse battery')).status).toBe(429);
    t.clock.advance(900);
    // The access token has expired too (ACCESS_TOKEN_TTL 900): sign in again first.
    alice.accessToken = (await t.http.post('/auth/login').send({ username: 'alice', password: 'correct horse battery' })).body.accessToken;
    expect((await changePassword('correct horse battery')).status).toBe(204);
  });

  it('does not count a right current password', async () => {
    for (let i = 0; i < 9; i++) await changePassword('wrong guess');
    expect((await changePassword('correct horse battery')).status).toBe(204);
    const again = await t.http.post('/auth/change-password').set(bearer(alice)).send({ currentPassword: 'a brand new secret', newPassword: 'correct horse battery' });
    expect(again.status).toBe(204);
  });
});

describe('DELETE /users/me', () => {
  it('checks at most the limit of 30 wrong passwords sent at once, refusing the rest with 429', async () => {
    const results = await burst(30, (i) => deleteMe(`wrong guess ${i}`));
    expect(statusCounts(results)).toEqual({ 403: 10, 429: 20 });
    expect(results.find((r) => r.status === 403)!.body.error.code).toBe('invalid_password');
    expect(hasher.verifications).toBe(10);
  });

  it('shares the limit with change-password', async () => {
    for (let i = 0; i < 10; i++) await changePassword('wrong guess');
    expect((await deleteMe('correct horse battery')).status).toBe(429);
    expect((await t.http.get('/users/me').set(bearer(alice))).status).toBe(200);
  });
});

describe('POST /auth/2fa/disable', () => {
  it('checks at most the limit of 30 wrong passwords sent at once, refusing the rest with 429', async () => {
    const secret = await enableTwoFactor();
    hasher.verifications = 0;
    const code = totpAt(secret, t.clock.now());
    const results = await burst(30, (i) =>
      t.http
        .post('/auth/2fa/disable')
        .set(bearer(alice))
        .send({ password: `wrong guess ${i}`, code }),
    );
    expect(statusCounts(results)).toEqual({ 403: 10, 429: 20 });
    expect(results.find((r) => r.status === 403)!.body.error.code).toBe('invalid_password');
    expect(hasher.verifications).toBe(10);
  });
});

describe('POST /auth/2fa/enable', () => {
  it('accepts at most the limit of wrong codes sent at once, then refuses even the right code', async () => {
    const { secret } = (await t.http.post('/auth/2fa/setup').set(bearer(alice)).send({ password: 'correct horse battery' })).body;
    const right = totpAt(secret, t.clock.now());
    // Codes far from the current one: none of them can be valid in the ±1 step window.
    const wrongs = Array.from({ length: 30 }, (_, i) => String((Number(right) + 100_000 + i) % 1_000_000).padStart(6, '0'));
    const results = await burst(30, (i) => t.http.post('/auth/2fa/enable').set(bearer(alice)).send({ password: 'correct horse battery', code: wrongs[i] }));
    expect(statusCounts(results)).toEqual({ 400: 10, 429: 20 });
    expect(results.find((r) => r.status === 400)!.body.error.code).toBe('invalid_totp');
    expect((await t.http.post('/auth/2fa/enable').set(bearer(alice)).send({ password: 'correct horse battery', code: right })).status).toBe(429);
  });
});
