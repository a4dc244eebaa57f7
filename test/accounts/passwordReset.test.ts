import { describe, expect, it } from '@jest/globals';
import { makeTestApp } from '../helpers/app.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { useSmtpServer, useTestApp, withUser } from '../helpers/perTest.js';
import { codeIn } from '../helpers/smtp.js';

const smtp = useSmtpServer();
const t = useTestApp(() => ({ env: { SMTP_URL: smtp.url, MAIL_FROM: 'Signalbox <no-reply@signalbox.test>' } }));
const alice = withUser(t, { username: 'alice', email: 'Alice@Example.org', password: 'correct horse battery' });

const forgot = (email: string) => t.http.post('/auth/forgot-password').send({ email });
const reset = (email: string, otp: string, newPassword = 'a brand new secret') => t.http.post('/auth/reset-password').send({ email, otp, newPassword });
const login = (password: string) => t.http.post('/auth/login').send({ username: 'alice', password });

/** Asks for a code and reads it out of the message the SMTP server received. */
async function mailedCode(email = 'alice@example.org'): Promise<string> {
  const before = smtp.received.length;
  expect((await forgot(email)).status).toBe(202);
  const mails = await smtp.waitFor(before + 1);
  return codeIn(mails[before]!);
}

/** A six-digit code that is not `code`. */
const otherThan = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

describe('POST /auth/forgot-password', () => {
  // The envelope carries the local part as registered; the mail stack lower-cases the (case-insensitive) domain.
  it('answers 202 {ok: true} and mails a 6-digit code to the address as registered', async () => {
    const res = await forgot('alice@example.org');
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ ok: true });
    const [mail] = await smtp.waitFor(1);
    expect(mail!.to).toEqual(['Alice@example.org']);
    expect(mail!.from).toBe('no-reply@signalbox.test');
    expect(codeIn(mail!)).toMatch(/^\d{6}$/);
    expect(mail!.raw).toContain('text/html');
  });

  it('answers an unknown address exactly like a known one, and mails nothing', async () => {
    const known = await forgot('alice@example.org');
    const unknown = await forgot('nobody@example.org');
    expect(unknown.status).toBe(known.status);
    expect(unknown.body).toEqual(known.body);
    await t.mailer.idle();
    expect(smtp.received.flatMap((m) => m.to)).toEqual(['Alice@example.org']);
  });

  it('answers 202 even when the mail server refuses every attempt, and logs the failure', async () => {
    smtp.refuseNext(10);
    const res = await forgot('alice@example.org');
    expect(res.status).toBe(202);
    await t.mailer.idle();
    expect(smtp.received).toHaveLength(0);
    expect(t.logs.some((l) => l.msg === 'mail delivery failed; giving up')).toBe(true);
  });

  it('retries a refused delivery and delivers it', async () => {
    smtp.refuseNext(2);
    await forgot('alice@example.org');
    await t.mailer.idle();
    expect(smtp.received).toHaveLength(1);
    expect(t.logs.filter((l) => l.msg === 'mail delivery failed; will retry')).toHaveLength(2);
  });

  it('never writes the code into the logs', async () => {
    const code = await mailedCode();
    expect(JSON.stringify(t.logs)).not.toContain(code);
  });
});

describe('POST /auth/reset-password', () => {
  it('sets the new password with the mailed code, in any case of the address', async () => {
    const code = await mailedCode();
    const res = await reset('ALICE@example.org', code);
    expect(res.status).toBe(204);
    expect((await login('a brand new secret')).status).toBe(200);
    expect((await login('correct horse battery')).status).toBe(401);
  });

  it('ends every session of the account at once', async () => {
    const other = (await login('correct horse battery')).body;
    await reset('alice@example.org', await mailedCode());
    expect((await t.http.get('/users/me').set(bearer(alice))).status).toBe(401);
    expect((await t.http.get('/users/me').set(bearer(other))).status).toBe(401);
    expect((await t.http.post('/auth/refresh').send({ refreshToken: other.refreshToken })).status).toBe(401);
  });

  it('mails a "your password was changed" notice', async () => {
    await reset('alice@example.org', await mailedCode());
    const mails = await smtp.waitFor(2);
    expect(mails[1]!.raw).toContain('Subject: Your Signalbox password was changed');
    expect(mails[1]!.to).toEqual(['Alice@example.org']);
  });

  it('accepts a code once only', async () => {
    const code = await mailedCode();
    expect((await reset('alice@example.org', code)).status).toBe(204);
    const again = await reset('alice@example.org', code, 'yet another secret');
    expect(again.status).toBe(400);
    expect(again.body.error.code).toBe('invalid_otp');
  });

  it('accepts only the newest code', async () => {
    const first = await mailedCode();
    const second = await mailedCode();
    if (first !== second) expect((await reset('alice@example.org', first)).body.error.code).toBe('invalid_otp');
    expect((await reset('alice@example.org', second)).status).toBe(204);
  });

  it('refuses a code after OTP_TTL', async () => {
    const code = await mailedCode();
    t.clock.advance(600);
    const res = await reset('alice@example.org', code);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_otp');
    expect((await login('correct horse battery')).status).toBe(200);
  });

  it('accepts a code just before OTP_TTL', async () => {
    const code = await mailedCode();
    t.clock.advance(599);
    expect((await reset('alice@example.org', code)).status).toBe(204);
  });

  it('burns the code after 5 wrong tries: the right code no longer works', async () => {
    const code = await mailedCode();
    for (let i = 0; i < 5; i++) {
      const res = await reset('alice@example.org', otherThan(code));
      expect(res.body.error.code).toBe('invalid_otp');
    }
    expect((await reset('alice@example.org', code)).body.error.code).toBe('invalid_otp');
    expect((await login('correct horse battery')).status).toBe(200);
  });

  it('still accepts the right code after 4 wrong tries', async () => {
    const code = await mailedCode();
    for (let i = 0; i < 4; i++) await reset('alice@example.org', otherThan(code));
    expect((await reset('alice@example.org', code)).status).toBe(204);
  });

  it('answers an unknown address exactly like a wrong code', async () => {
    const code = await mailedCode();
    const wrong = await reset('alice@example.org', otherThan(code));
    const unknown = await reset('nobody@example.org', code);
    expect(unknown.status).toBe(wrong.status);
    expect(unknown.body).toEqual(wrong.body);
  });

  it('refuses a new password equal to the username, and the code still works for another', async () => {
    await registerUser(t, { username: 'long_username', email: 'long@example.org' });
    const code = await mailedCode('long@example.org');
    const res = await reset('long@example.org', code, 'Long_Username');
    expect(res.status).toBe(400);
    expect(res.body.error.details.fields).toEqual([expect.objectContaining({ field: 'newPassword' })]);
    expect((await reset('long@example.org', code)).status).toBe(204);
  });

  it.each([
    ['a 5-digit code', { email: 'alice@example.org', otp: '12345', newPassword: 'a brand new secret' }],
    ['letters in the code', { email: 'alice@example.org', otp: '12a456', newPassword: 'a brand new secret' }],
    ['a short new password', { email: 'alice@example.org', otp: '123456', newPassword: 'short' }],
    ['no e-mail', { otp: '123456', newPassword: 'a brand new secret' }],
    ['an operator object as the code', { email: 'alice@example.org', otp: { $gt: '' }, newPassword: 'a brand new secret' }],
  ])('answers %s with 400 validation_failed', async (_label, body) => {
    const res = await t.http.post('/auth/reset-password').send(body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
  });
});

describe('the development outbox', () => {
  it('writes the message as an .eml file in DATA_DIR/outbox when SMTP_URL is unset, and logs where', async () => {
    const dev = makeTestApp();
    try {
      await registerUser(dev, { email: 'olga@example.org' });
      expect((await dev.http.post('/auth/forgot-password').send({ email: 'olga@example.org' })).status).toBe(202);
      await dev.mailer.idle();
      const { readdirSync, readFileSync } = await import('node:fs');
      const dir = `${dev.dir}/outbox`;
      const files = readdirSync(dir);
      expect(files).toHaveLength(1);
      expect(files[0]).toMatch(/^\d{4}-\d{2}-\d{2}T[\d-]+Z-[0-9a-f-]{36}\.eml$/);
      const eml = readFileSync(`${dir}/${files[0]}`, 'utf8');
      expect(eml).toMatch(/reset your Signalbox password is \d{6}/);
      expect(dev.logs.some((l) => l.msg === 'mail written to the outbox (SMTP_URL is not set)' && l.file === `${dir}/${files[0]}`)).toBe(true);
    } finally {
      await dev.close();
    }
  });
});
