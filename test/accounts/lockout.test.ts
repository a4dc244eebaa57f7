import { afterEach, describe, expect, it } from '@jest/globals';
import type { Env } from '../../app/config/environment.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { CountingHasher } from '../helpers/countingHasher.js';
import { registerUser, turnOnTwoFactor } from '../helpers/factories.js';
import { statusCounts } from '../helpers/responses.js';
import { totpAt } from '../helpers/totp.js';

// Failed-login limits keyed on (account, client network) with a looser per-account ceiling:
// counted before the password is checked, so parallel guesses cannot exceed them, and a stranger
// guessing from one network cannot lock the owner out everywhere.

let t: TestApp;
let hasher: CountingHasher;
// eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the setup failed before creating it
afterEach(() => t?.close());

const PASSWORD = 'correct horse battery';

async function start(env: Env): Promise<void> {
  // A roomy hash-queue share, so a burst from one network meets the limit under test and not the queue's.
  hasher = new CountingHasher(1000);
  // TRUST_PROXY: each test picks its client's address with X-Forwarded-For.
  t = makeTestApp({ hasher, env: { TRUST_PROXY: 'true', ...env } });
  await registerUser(t, { username: 'alice', email: 'alice@example.org', password: PASSWORD });
  hasher.verifications = 0;
}

const login = (username: string, password: string, ip = '203.0.113.1', totp?: string) =>
  t.http
    .post('/auth/login')
    .set('X-Forwarded-For', ip)
    .send({ username, password, ...(totp === undefined ? {} : { totp }) });

describe('failed logins per account from one client network', () => {
  it('checks at most the limit of 60 wrong passwords sent at once, refusing the rest with 429', async () => {
    await start({ RATE_LOGIN_ACCOUNT_IP: '10/900' });
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => login('alice', `wrong guess ${i}`)));
    expect(statusCounts(results)).toEqual({ 401: 10, 429: 50 });
    expect(hasher.verifications).toBe(10);
  });

  it('checks at most the limit of 40 wrong TOTP codes sent at once with the right password', async () => {
    await start({ RATE_LOGIN_ACCOUNT_IP: '10/900' });
    const { secret } = await turnOnTwoFactor(t, (await login('alice', PASSWORD)).body, PASSWORD);
    const right = totpAt(secret, t.clock.now());
    const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, '0');
    hasher.verifications = 0;
    const results = await Promise.all(Array.from({ length: 40 }, () => login('alice', PASSWORD, '203.0.113.1', wrong)));
    expect(statusCounts(results)).toEqual({ 400: 10, 429: 30 });
    expect(results.find((r) => r.status === 400)!.body.error.code).toBe('invalid_totp');
    expect(hasher.verifications).toBe(10);
    expect((await login('alice', PASSWORD, '203.0.113.1', right)).status).toBe(429);
  });

  it('does not count a login that only lacks its TOTP code', async () => {
    await start({ RATE_LOGIN_ACCOUNT_IP: '3/900' });
    const { secret } = await turnOnTwoFactor(t, (await login('alice', PASSWORD)).body, PASSWORD);
    for (let i = 0; i < 5; i++) expect((await login('alice', PASSWORD)).body.error.code).toBe('totp_required');
    expect((await login('alice', PASSWORD, '203.0.113.1', totpAt(secret, t.clock.now()))).status).toBe(200);
  });

  it('counts the account however it is named: failures by username lock out the e-mail address too', async () => {
    await start({ RATE_LOGIN_ACCOUNT_IP: '3/900' });
    await login('alice', 'wrong guess');
    await login('@Alice', 'wrong guess');
    await login('ALICE@example.org', 'wrong guess');
    expect((await login('alice@example.org', PASSWORD)).status).toBe(429);
    expect((await login('alice', PASSWORD)).status).toBe(429);
  });

  it('keeps the owner in from another network while the guessing network waits, with the right password too', async () => {
    await start({ RATE_LOGIN_ACCOUNT_IP: '10/900' });
    for (let i = 0; i < 10; i++) expect((await login('alice', `wrong guess ${i}`, '198.51.100.66')).status).toBe(401);
    const refused = await login('alice', PASSWORD, '198.51.100.66');
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('900');
    expect((await login('alice', PASSWORD, '203.0.113.1')).status).toBe(200);
  });

  it('counts a whole IPv6 /56 as one network by default', async () => {
    await start({ RATE_LOGIN_ACCOUNT_IP: '3/900' });
    for (let i = 1; i <= 3; i++) expect((await login('alice', 'wrong guess', `2001:db8:1:${i}::1`)).status).toBe(401);
    expect((await login('alice', 'wrong guess', '2001:db8:1:ff:ffff:ffff:ffff:ffff')).status).toBe(429);
    expect((await login('alice', 'wrong guess', '2001:db8:1:100::1')).status).toBe(401);
  });

  it('counts an IPv4-mapped IPv6 address as its IPv4 address', async () => {
    await start({ RATE_LOGIN_ACCOUNT_IP: '2/900' });
    await login('alice', 'wrong guess', '192.0.2.9');
    await login('alice', 'wrong guess', '::ffff:192.0.2.9');
    expect((await login('alice', PASSWORD, '192.0.2.9')).status).toBe(429);
  });

  it('does not count a successful login', async () => {
    await start({ RATE_LOGIN_ACCOUNT_IP: '3/900' });
    await login('alice', 'wrong guess');
    await login('alice', 'wrong guess');
    for (let i = 0; i < 5; i++) expect((await login('alice', PASSWORD)).status).toBe(200);
    expect((await login('alice', 'wrong guess')).status).toBe(401);
  });
});

describe('failed logins per account from all networks (the ceiling)', () => {
  it('refuses every network once failures from many networks reach the ceiling', async () => {
    await start({ RATE_LOGIN_ACCOUNT_IP: '10/900', RATE_LOGIN_USERNAME: '20/3600' });
    for (let i = 0; i < 20; i++) expect((await login('alice', 'wrong guess', `198.51.100.${i % 2}`)).status).toBe(401);
    const refused = await login('alice', PASSWORD, '203.0.113.1');
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('3600');
  });

  it('checks at most the ceiling of wrong passwords sent at once from many networks', async () => {
    await start({ RATE_LOGIN_ACCOUNT_IP: '10/900', RATE_LOGIN_USERNAME: '20/3600' });
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => login('alice', 'wrong guess', `198.51.100.${i}`)));
    expect(statusCounts(results)).toEqual({ 401: 20, 429: 40 });
    expect(hasher.verifications).toBe(20);
  });

  it('does not let attempts refused on one network use up the ceiling', async () => {
    await start({ RATE_LOGIN_ACCOUNT_IP: '10/900', RATE_LOGIN_USERNAME: '20/3600' });
    for (let i = 0; i < 50; i++) await login('alice', 'wrong guess', '198.51.100.66');
    expect((await login('alice', PASSWORD, '203.0.113.1')).status).toBe(200);
  });

  it('lets the account in again once the window has passed', async () => {
    await start({ RATE_LOGIN_ACCOUNT_IP: '10/900', RATE_LOGIN_USERNAME: '20/3600' });
    for (let i = 0; i < 20; i++) await login('alice', 'wrong guess', `198.51.100.${i % 2}`);
    t.clock.advance(3600);
    expect((await login('alice', PASSWORD, '198.51.100.1')).status).toBe(200);
  });
});

describe('networks the account signed in from', () => {
  const fillCeiling = async () => {
    for (let i = 0; i < 20; i++) expect((await login('alice', 'wrong guess', `198.51.100.${i % 2}`)).status).toBe(401);
  };

  it('count the network an account was registered from, so an owner who never signed in is let in past the ceiling', async () => {
    await start({ RATE_LOGIN_ACCOUNT_IP: '10/900', RATE_LOGIN_USERNAME: '20/3600' });
    const home = '203.0.113.50';
    const registered = await t.http.post('/auth/register').set('X-Forwarded-For', home).send({ username: 'bob', email: 'bob@example.org', password: PASSWORD });
    expect(registered.status).toBe(201);
    for (let i = 0; i < 20; i++) expect((await login('bob', 'wrong guess', `198.51.100.${i % 2}`)).status).toBe(401);
    expect((await login('bob', PASSWORD, '203.0.113.99')).status).toBe(429);
    expect((await login('bob', PASSWORD, home)).status).toBe(200);
  });

  it('let the owner in past a ceiling that strangers filled from other networks', async () => {
    await start({ RATE_LOGIN_ACCOUNT_IP: '10/900', RATE_LOGIN_USERNAME: '20/3600' });
    expect((await login('alice', PASSWORD, '2001:db8:7:7::1')).status).toBe(200);
    await fillCeiling();
    expect((await login('alice', PASSWORD, '2001:db8:7:7::2')).status).toBe(200);
    expect((await login('alice', PASSWORD, '203.0.113.99')).status).toBe(429);
  });

  it('still hold a known network to its own strict limit', async () => {
    await start({ RATE_LOGIN_ACCOUNT_IP: '10/900', RATE_LOGIN_USERNAME: '20/3600' });
    expect((await login('alice', PASSWORD, '203.0.113.1')).status).toBe(200);
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => login('alice', `wrong guess ${i}`, '203.0.113.1')));
    expect(statusCounts(results)).toEqual({ 401: 10, 429: 20 });
    expect(hasher.verifications).toBe(11);
  });

  it('are forgotten SESSION_MAX_AGE after the last sign-in there', async () => {
    await start({ RATE_LOGIN_ACCOUNT_IP: '10/900', RATE_LOGIN_USERNAME: '20/3600', SESSION_MAX_AGE: '86400' });
    expect((await login('alice', PASSWORD, '203.0.113.1')).status).toBe(200);
    t.clock.advance(86400);
    await fillCeiling();
    expect((await login('alice', PASSWORD, '203.0.113.1')).status).toBe(429);
  });
});

describe('wrong TOTP codes per account (RATE_LOGIN_TOTP)', () => {
  /** Alice turns on 2FA from her home network; returns a right and a wrong code for the next step. */
  async function withTwoFactor(): Promise<{ right: () => string; wrong: string }> {
    const { secret } = await turnOnTwoFactor(t, (await login('alice', PASSWORD, '198.51.100.7')).body, PASSWORD);
    const right = totpAt(secret, t.clock.now());
    return { right: () => totpAt(secret, t.clock.now()), wrong: String((Number(right) + 1) % 1_000_000).padStart(6, '0') };
  }

  it('stops checking codes once someone with the password has guessed the limit from new networks, answering as for a wrong code', async () => {
    await start({ RATE_LOGIN_TOTP: '3/86400' });
    const codes = await withTwoFactor();
    for (let i = 1; i <= 3; i++) {
      const wrong = await login('alice', PASSWORD, `203.0.113.${i}`, codes.wrong);
      expect([wrong.status, wrong.body.error.code]).toEqual([400, 'invalid_totp']);
    }
    const past = await login('alice', PASSWORD, '203.0.113.99', codes.right());
    expect(past.status).toBe(400);
    expect(past.body.error.code).toBe('invalid_totp');
    // A wrong password past the code limit is still the plain wrong-password answer.
    const wrongPassword = await login('alice', 'wrong guess', '203.0.113.98', codes.right());
    expect([wrongPassword.status, wrongPassword.body.error.code]).toEqual([401, 'invalid_credentials']);
  });

  it('still lets the owner in with the right code from a network the account signed in from', async () => {
    await start({ RATE_LOGIN_TOTP: '3/86400' });
    const codes = await withTwoFactor();
    for (let i = 1; i <= 3; i++) await login('alice', PASSWORD, `203.0.113.${i}`, codes.wrong);
    expect((await login('alice', PASSWORD, '198.51.100.7', codes.right())).status).toBe(200);
  });

  it('does not count a right code', async () => {
    await start({ RATE_LOGIN_TOTP: '1/86400' });
    const codes = await withTwoFactor();
    expect((await login('alice', PASSWORD, '203.0.113.1', codes.right())).status).toBe(200);
    t.clock.advance(30);
    expect((await login('alice', PASSWORD, '203.0.113.2', codes.right())).status).toBe(200);
  });
});
