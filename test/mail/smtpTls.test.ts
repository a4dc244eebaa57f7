import { afterEach, describe, expect, it } from '@jest/globals';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { registerUser } from '../helpers/factories.js';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp.js';

const EMAIL = 'alice@example.org';
let smtp: TestSmtpServer | undefined;
let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  await smtp?.close();
  t = smtp = undefined;
});

/** A fresh app mailing through `smtpUrl`, with one registered user who then asks for a reset code. */
async function forgotThrough(smtpUrl: string): Promise<TestApp> {
  t = makeTestApp({ env: { SMTP_URL: smtpUrl }, mailRetryDelaysMs: [] });
  await registerUser(t, { email: EMAIL });
  expect((await t.http.post('/auth/forgot-password').send({ email: EMAIL })).status).toBe(202);
  await t.mailer.idle();
  return t;
}

describe('SMTP_URL and TLS', () => {
  it('over smtp:// sends nothing to a server that does not offer STARTTLS', async () => {
    smtp = await startSmtpServer({ startTls: false });
    const app = await forgotThrough(`smtp://127.0.0.1:${smtp.port}`);
    expect(smtp.received).toHaveLength(0);
    expect(app.logs.some((l) => l.msg === 'mail delivery failed; giving up')).toBe(true);
  });

  it('over smtp:// ignores a ?requireTLS=false in the URL: only the scheme opts out', async () => {
    smtp = await startSmtpServer({ startTls: false });
    await forgotThrough(`smtp://127.0.0.1:${smtp.port}?requireTLS=false&ignoreTLS=true`);
    expect(smtp.received).toHaveLength(0);
  });

  it('over smtp:// delivers through STARTTLS when the server offers it', async () => {
    smtp = await startSmtpServer({ startTls: true });
    await forgotThrough(smtp.url);
    expect(smtp.received).toEqual([expect.objectContaining({ to: [EMAIL], secure: true })]);
  });

  it('over smtp+insecure:// delivers in plain text to a server without STARTTLS', async () => {
    smtp = await startSmtpServer({ startTls: false });
    await forgotThrough(`smtp+insecure://127.0.0.1:${smtp.port}`);
    expect(smtp.received).toEqual([expect.objectContaining({ to: [EMAIL], secure: false })]);
  });
});
