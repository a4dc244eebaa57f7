import { afterEach, describe, expect, it } from '@jest/globals';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { registerUser } from '../helpers/factories.js';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp.js';

// The mail counters on /metrics (what docs/prometheus-alerts.yml alerts on), from real deliveries: to
// the outbox, and to a real SMTP server that refuses to be used without TLS.

let smtp: TestSmtpServer | undefined;
let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  await smtp?.close();
  t = smtp = undefined;
});

const EMAIL = 'alice@example.org';
const sample = (text: string, name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1]);

async function forgotPassword(app: TestApp): Promise<string> {
  await registerUser(app, { email: EMAIL });
  expect((await app.http.post('/auth/forgot-password').send({ email: EMAIL })).status).toBe(202);
  await app.mailer.idle();
  return (await app.http.get('/metrics')).text;
}

describe('mail metrics', () => {
  it('counts a delivered mail in signalbox_mail_sent_total, no failure', async () => {
    t = makeTestApp({ mailRetryDelaysMs: [] });
    const metrics = await forgotPassword(t);
    expect(sample(metrics, 'signalbox_mail_sent_total')).toBeGreaterThanOrEqual(1);
    expect(sample(metrics, 'signalbox_mail_failures_total')).toBe(0);
  });

  it('counts retries and the mail given up when the SMTP server cannot be used', async () => {
    smtp = await startSmtpServer({ startTls: false }); // smtp:// requires STARTTLS: every attempt fails
    t = makeTestApp({ env: { SMTP_URL: `smtp://127.0.0.1:${smtp.port}` }, mailRetryDelaysMs: [0, 0] });
    const metrics = await forgotPassword(t);
    expect(sample(metrics, 'signalbox_mail_failures_total')).toBe(1);
    expect(sample(metrics, 'signalbox_mail_retries_total')).toBe(2);
    expect(sample(metrics, 'signalbox_mail_sent_total')).toBe(0);
  });
});
