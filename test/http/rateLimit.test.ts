import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import type { Env } from '../../app/config/environment.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { registerUser } from '../helpers/factories.js';

let t: TestApp;
// eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the setup failed before creating it
afterEach(() => t?.close());

const start = (env: Env) => {
  t = makeTestApp({ env });
  return t;
};
const login = (username: string, password: string, ip?: string) => {
  const req = t.http.post('/auth/login');
  return (ip ? req.set('X-Forwarded-For', ip) : req).send({ username, password });
};
// Not the network the tests register from: that one is the account's own, where the ceiling does not apply.
const STRANGER = '198.51.100.9';
const expect429 = (res: { status: number; body: { error: { code: string } }; headers: Record<string, string> }, retryAfter: number) => {
  expect(res.status).toBe(429);
  expect(res.body.error.code).toBe('rate_limited');
  expect(res.headers['retry-after']).toBe(String(retryAfter));
};

describe('failed logins per account from everywhere (RATE_LOGIN_USERNAME, the ceiling)', () => {
  it('refuses even the right password with 429 after 10 failures, telling when to retry', async () => {
    start({ RATE_LOGIN_USERNAME: '10/900', TRUST_PROXY: 'true' });
    await registerUser(t, { username: 'alice', password: 'correct horse battery' });
    for (let i = 0; i < 10; i++) expect((await login('alice', `wrong guess ${i}`, STRANGER)).status).toBe(401);
    t.clock.advance(100);
    expect429(await login('alice', 'correct horse battery', STRANGER), 800);
  });

  it('lets the right password in again once the window has passed', async () => {
    start({ RATE_LOGIN_USERNAME: '3/900' });
    await registerUser(t, { username: 'alice', password: 'correct horse battery' });
    for (let i = 0; i < 3; i++) await login('alice', 'wrong guess');
    t.clock.advance(900);
    expect((await login('alice', 'correct horse battery')).status).toBe(200);
  });

  it('counts alice, @Alice and ALICE as one account name', async () => {
    start({ RATE_LOGIN_USERNAME: '3/900', TRUST_PROXY: 'true' });
    await registerUser(t, { username: 'alice', password: 'correct horse battery' });
    await login('alice', 'wrong guess', STRANGER);
    await login('@Alice', 'wrong guess', STRANGER);
    await login('ALICE', 'wrong guess', STRANGER);
    expect((await login('alice', 'correct horse battery', STRANGER)).status).toBe(429);
  });

  it('does not count successful logins', async () => {
    start({ RATE_LOGIN_USERNAME: '3/900' });
    await registerUser(t, { username: 'alice', password: 'correct horse battery' });
    for (let i = 0; i < 5; i++) expect((await login('alice', 'correct horse battery')).status).toBe(200);
  });

  it('limits unknown names the same way, so the limit reveals nothing', async () => {
    start({ RATE_LOGIN_USERNAME: '3/900' });
    for (let i = 0; i < 3; i++) expect((await login('nobody_here', 'wrong guess')).status).toBe(401);
    expect((await login('nobody_here', 'wrong guess')).status).toBe(429);
  });

  it('leaves other accounts alone', async () => {
    start({ RATE_LOGIN_USERNAME: '3/900' });
    await registerUser(t, { username: 'bob_b', password: 'correct horse battery' });
    for (let i = 0; i < 3; i++) await login('alice', 'wrong guess');
    expect((await login('bob_b', 'correct horse battery')).status).toBe(200);
  });
});

describe('logins per client IP', () => {
  it('answers 429 past the limit for every name from that address', async () => {
    start({ RATE_LOGIN_IP: '3/60' });
    for (let i = 0; i < 3; i++) expect((await login(`name_${i}`, 'wrong guess')).status).toBe(401);
    expect429(await login('name_9', 'wrong guess'), 60);
  });

  it('tells clients apart by X-Forwarded-For behind a trusted proxy', async () => {
    start({ RATE_LOGIN_IP: '2/60', TRUST_PROXY: 'true' });
    for (let i = 0; i < 2; i++) await login('someone', 'wrong guess', '203.0.113.7');
    expect((await login('someone', 'wrong guess', '203.0.113.7')).status).toBe(429);
    expect((await login('someone', 'wrong guess', '203.0.113.8')).status).toBe(401);
  });

  it('ignores X-Forwarded-For without TRUST_PROXY, so a client cannot pick a fresh address', async () => {
    start({ RATE_LOGIN_IP: '2/60' });
    await login('someone', 'wrong guess', '203.0.113.1');
    await login('someone', 'wrong guess', '203.0.113.2');
    expect((await login('someone', 'wrong guess', '203.0.113.3')).status).toBe(429);
  });
});

describe('registration limits', () => {
  const register = (n: number, email = `person${n}@example.org`) =>
    t.http.post('/auth/register').send({ username: `person_${n}`, email, password: 'correct horse battery' });

  it('answers 429 past the per-IP limit', async () => {
    start({ RATE_REGISTER_IP: '2/3600' });
    expect((await register(1)).status).toBe(201);
    expect((await register(2)).status).toBe(201);
    expect429(await register(3), 3600);
  });

  it('answers 429 past the per-address limit, whatever the case of the address', async () => {
    start({ RATE_REGISTER_EMAIL: '2/3600' });
    await register(1, 'same@example.org');
    await register(2, 'SAME@example.org');
    expect((await register(3, 'Same@Example.org')).status).toBe(429);
    expect((await register(4, 'other@example.org')).status).toBe(201);
  });
});

describe('password reset limits', () => {
  it('answers forgot-password with 429 past the per-address limit, for known and unknown addresses alike', async () => {
    start({ RATE_FORGOT_EMAIL: '2/3600', TRUST_PROXY: 'true' });
    await registerUser(t, { email: 'known@example.org' });
    const forgot = (email: string) => t.http.post('/auth/forgot-password').set('X-Forwarded-For', STRANGER).send({ email });
    for (const email of ['known@example.org', 'unknown@example.org']) {
      for (let i = 0; i < 2; i++) expect((await forgot(email)).status).toBe(202);
      expect((await forgot(email)).status).toBe(429);
    }
  });

  it('answers forgot-password with 429 past the per-IP limit', async () => {
    start({ RATE_FORGOT_IP: '2/3600' });
    for (let i = 0; i < 2; i++) await t.http.post('/auth/forgot-password').send({ email: `a${i}@example.org` });
    expect((await t.http.post('/auth/forgot-password').send({ email: 'a9@example.org' })).status).toBe(429);
  });

  it('answers reset-password with 429 past the per-address limit', async () => {
    start({ RATE_RESET_EMAIL: '2/3600' });
    const body = { email: 'x@example.org', otp: '123456', newPassword: 'a brand new secret' };
    for (let i = 0; i < 2; i++) expect((await t.http.post('/auth/reset-password').send(body)).status).toBe(400);
    expect((await t.http.post('/auth/reset-password').send(body)).status).toBe(429);
  });
});

describe('limit storage', () => {
  it('stores no address, name or IP in readable form', async () => {
    start({
      RATE_LOGIN_IP: '50/60',
      RATE_LOGIN_ACCOUNT_IP: '10/900',
      RATE_LOGIN_USERNAME: '10/900',
      RATE_FORGOT_EMAIL_IP: '3/3600',
      RATE_FORGOT_EMAIL: '3/3600',
      RATE_RESET_EMAIL_IP: '3/3600',
    });
    await registerUser(t, { username: 'secret_owner', email: 'private.owner@example.org', password: 'correct horse battery' });
    await login('secret_name', 'wrong guess');
    await login('secret_owner', 'correct horse battery'); // remembers the owner's network
    await t.http.post('/auth/forgot-password').send({ email: 'private.person@example.org' });
    await t.http.post('/auth/reset-password').send({ email: 'private.person@example.org', otp: '123456', newPassword: 'a brand new secret' });
    const bytes = Buffer.concat(
      readdirSync(t.dir)
        .filter((f) => f.startsWith('signalbox.db'))
        .map((f) => readFileSync(join(t.dir, f))),
    );
    expect(bytes.includes('secret_name')).toBe(false);
    expect(bytes.includes('private.person')).toBe(false);
    expect(bytes.includes('127.0.0.1')).toBe(false);
  });
});
