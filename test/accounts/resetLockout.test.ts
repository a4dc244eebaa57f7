import { afterEach, describe, expect, it } from '@jest/globals';
import type { Env } from '../../app/config/environment.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { registerUser } from '../helpers/factories.js';
import { useSmtpServer } from '../helpers/perTest.js';
import { statusCounts } from '../helpers/responses.js';
import { codeIn } from '../helpers/smtp.js';

// Reset requests and tries are limited per address from one client network (strict) and per
// address from everywhere (a looser ceiling): a stranger cannot flood the inbox or guess codes,
// and cannot use up the owner's own requests from another network either.

const smtp = useSmtpServer();
let t: TestApp;
// eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the setup failed before creating it
afterEach(() => t?.close());

const STRANGER = '198.51.100.66';
const OWNER = '203.0.113.1';

async function start(env: Env): Promise<void> {
  t = makeTestApp({ env: { SMTP_URL: smtp.url, TRUST_PROXY: 'true', ...env } });
  await registerUser(t, { username: 'alice', email: 'alice@example.org', password: 'correct horse battery' });
}

const forgot = (ip: string) => t.http.post('/auth/forgot-password').set('X-Forwarded-For', ip).send({ email: 'alice@example.org' });
const reset = (ip: string, otp: string) =>
  t.http.post('/auth/reset-password').set('X-Forwarded-For', ip).send({ email: 'alice@example.org', otp, newPassword: 'a brand new secret' });

describe('POST /auth/forgot-password limits', () => {
  it('stops a stranger at the per-network limit and still mails the owner a code from another network', async () => {
    await start({ RATE_FORGOT_EMAIL_IP: '3/3600', RATE_FORGOT_EMAIL: '10/3600' });
    for (let i = 0; i < 3; i++) expect((await forgot(STRANGER)).status).toBe(202);
    expect((await forgot(STRANGER)).status).toBe(429);
    expect((await forgot(OWNER)).status).toBe(202);
    expect(await smtp.waitFor(4)).toHaveLength(4);
  });

  it('refuses every network once requests from many networks reach the per-address ceiling', async () => {
    await start({ RATE_FORGOT_EMAIL_IP: '3/3600', RATE_FORGOT_EMAIL: '10/3600' });
    for (let i = 0; i < 10; i++) expect((await forgot(`198.51.100.${i % 4}`)).status).toBe(202);
    expect((await forgot(OWNER)).status).toBe(429);
  });

  it('does not let requests refused on one network use up the ceiling', async () => {
    await start({ RATE_FORGOT_EMAIL_IP: '3/3600', RATE_FORGOT_EMAIL: '10/3600' });
    for (let i = 0; i < 20; i++) await forgot(STRANGER);
    expect((await forgot(OWNER)).status).toBe(202);
  });

  it('lets the owner ask from a network they signed in from, past a ceiling that strangers filled', async () => {
    await start({ RATE_FORGOT_EMAIL_IP: '3/3600', RATE_FORGOT_EMAIL: '10/3600' });
    const signIn = await t.http.post('/auth/login').set('X-Forwarded-For', OWNER).send({ username: 'alice', password: 'correct horse battery' });
    expect(signIn.status).toBe(200);
    for (let i = 0; i < 10; i++) await forgot(`198.51.100.${i % 4}`);
    expect((await forgot('203.0.113.99')).status).toBe(429);
    expect((await forgot(OWNER)).status).toBe(202);
  });
});

describe('POST /auth/reset-password limits', () => {
  it('checks at most the per-network limit of 30 wrong codes sent at once', async () => {
    await start({ RATE_RESET_EMAIL_IP: '10/3600', RATE_RESET_EMAIL: '30/3600' });
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => reset(STRANGER, String(100_000 + i))));
    expect(statusCounts(results)).toEqual({ 400: 10, 429: 20 });
  });

  it('lets the owner reset from another network after a stranger used up their own network', async () => {
    await start({ RATE_RESET_EMAIL_IP: '10/3600', RATE_RESET_EMAIL: '30/3600' });
    for (let i = 0; i < 10; i++) expect((await reset(STRANGER, String(100_000 + i))).status).toBe(400);
    expect((await reset(STRANGER, '123456')).status).toBe(429);
    expect((await forgot(OWNER)).status).toBe(202);
    const [mail] = await smtp.waitFor(1);
    expect((await reset(OWNER, codeIn(mail!))).status).toBe(204);
  });

  it('refuses every network once tries from many networks reach the per-address ceiling', async () => {
    await start({ RATE_RESET_EMAIL_IP: '10/3600', RATE_RESET_EMAIL: '30/3600' });
    for (let i = 0; i < 30; i++) expect((await reset(`198.51.100.${i % 3}`, String(100_000 + i))).status).toBe(400);
    expect((await reset(OWNER, '123456')).status).toBe(429);
  });
});
