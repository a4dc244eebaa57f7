import { afterEach, describe, expect, it } from '@jest/globals';
import type { Env } from '../../app/config/environment.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { registerUser, type TestUser } from '../helpers/factories.js';
import { useSmtpServer } from '../helpers/perTest.js';
import { codeIn } from '../helpers/smtp.js';

// Reset tries are also limited per client network across all addresses (RATE_RESET_IP): the
// per-address limits alone let one network guess codes for every address it knows at once.

const smtp = useSmtpServer();
let t: TestApp;
let users: TestUser[];
// eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the setup failed before creating it
afterEach(() => t?.close());

// Per-address limits roomy enough that only the per-network one can refuse in these tests.
const ROOMY_PER_ADDRESS: Env = { RATE_RESET_EMAIL_IP: '10/3600', RATE_RESET_EMAIL: '30/3600' };

async function start(env: Env): Promise<void> {
  t = makeTestApp({ env: { SMTP_URL: smtp.url, TRUST_PROXY: 'true', ...ROOMY_PER_ADDRESS, ...env } });
  users = [];
  for (let i = 0; i < 6; i++) users.push(await registerUser(t));
}

const reset = (ip: string, email: string, otp: string) =>
  t.http.post('/auth/reset-password').set('X-Forwarded-For', ip).send({ email, otp, newPassword: 'a brand new secret' });

describe('POST /auth/reset-password per-network limit', () => {
  it('refuses a network that guessed codes for many addresses, each well under its own limit', async () => {
    await start({ RATE_RESET_IP: '5/3600' });
    for (let i = 0; i < 5; i++) expect((await reset('198.51.100.7', users[i]!.email, '000000')).status).toBe(400);
    const refused = await reset('198.51.100.7', users[5]!.email, '000000');
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBeDefined();
    expect((await reset('203.0.113.8', users[5]!.email, '000000')).status).toBe(400);
  });

  it('counts every /64 of one IPv6 /56 as the same network by default', async () => {
    await start({ RATE_RESET_IP: '5/3600' });
    for (let i = 0; i < 5; i++) expect((await reset(`2001:db8:5:${i + 1}::9`, users[i]!.email, '000000')).status).toBe(400);
    expect((await reset('2001:db8:5:ff::1', users[5]!.email, '000000')).status).toBe(429);
    expect((await reset('2001:db8:5:100::1', users[5]!.email, '000000')).status).toBe(400);
  });

  it('does not count a right code', async () => {
    await start({ RATE_RESET_IP: '2/3600' });
    expect((await reset('198.51.100.7', users[0]!.email, '000000')).status).toBe(400);
    await t.http.post('/auth/forgot-password').set('X-Forwarded-For', '198.51.100.7').send({ email: users[1]!.email });
    const [mail] = await smtp.waitFor(1);
    expect((await reset('198.51.100.7', users[1]!.email, codeIn(mail!))).status).toBe(204);
    expect((await reset('198.51.100.7', users[2]!.email, '000000')).status).toBe(400);
    expect((await reset('198.51.100.7', users[3]!.email, '000000')).status).toBe(429);
  });
});
