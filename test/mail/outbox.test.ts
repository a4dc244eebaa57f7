import { beforeEach, describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { useSmtpServer, useTestApp, withUser } from '../helpers/perTest.js';
import { codeIn } from '../helpers/smtp.js';

const EMAIL = 'Olga.Private@example.org';

/** The header block of a raw message, with folded lines joined. */
const headersOf = (raw: string) => raw.split(/\r?\n\r?\n/)[0]!.replace(/\r?\n[ \t]+/g, ' ');

describe('the development outbox (SMTP_URL unset)', () => {
  const t = useTestApp();
  withUser(t, { email: EMAIL });
  beforeEach(async () => {
    expect((await t.http.post('/auth/forgot-password').send({ email: EMAIL })).status).toBe(202);
    await t.mailer.idle();
  });

  const outbox = () => readdirSync(join(t.dir, 'outbox'));

  it('names the file after the message id, not the address', () => {
    const [file] = outbox();
    expect(file).toMatch(/^[\d-]+T[\d-]+Z-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.eml$/);
    expect(file!.toLowerCase()).not.toContain('olga');
  });

  it('logs the message id and never the address', () => {
    const line = t.logs.find((l) => l.msg === 'mail written to the outbox (SMTP_URL is not set)');
    expect(line).toBeDefined();
    expect(outbox()[0]).toContain(String(line!.mailId));
    expect(JSON.stringify(t.logs).toLowerCase()).not.toContain('olga');
  });

  it('uses the message id as the Message-ID header', () => {
    const line = t.logs.find((l) => l.msg === 'mail written to the outbox (SMTP_URL is not set)');
    const eml = readFileSync(join(t.dir, 'outbox', outbox()[0]!), 'utf8');
    expect(headersOf(eml)).toContain(`Message-ID: <${String(line!.mailId)}@localhost>`);
  });
});

describe('the reset-code message', () => {
  const smtp = useSmtpServer();
  const t = useTestApp(() => ({ env: { SMTP_URL: smtp.url } }));
  withUser(t, { email: EMAIL });

  it('carries the code in the body and not in the Subject', async () => {
    await t.http.post('/auth/forgot-password').send({ email: EMAIL });
    const [mail] = await smtp.waitFor(1);
    const code = codeIn(mail!);
    const subject = /^Subject: (.*)$/m.exec(headersOf(mail!.raw))![1]!;
    expect(subject).toBe('Your Signalbox password reset code');
    expect(subject).not.toContain(code);
  });

  it('logs a sent message by its id, without the address', async () => {
    await t.http.post('/auth/forgot-password').send({ email: EMAIL });
    await t.mailer.idle();
    const sent = t.logs.filter((l) => l.msg === 'mail sent');
    expect(sent).toEqual([expect.objectContaining({ mailId: expect.stringMatching(/^[0-9a-f-]{36}$/) })]);
    expect(JSON.stringify(t.logs).toLowerCase()).not.toContain('olga');
  });

  it('logs a failed delivery by its id, without the address or the code', async () => {
    smtp.refuseNext(10);
    await t.http.post('/auth/forgot-password').send({ email: EMAIL });
    await t.mailer.idle();
    const failed = t.logs.find((l) => l.msg === 'mail delivery failed; giving up');
    expect(failed).toEqual(expect.objectContaining({ mailId: expect.any(String), subject: 'Your Signalbox password reset code' }));
    expect(JSON.stringify(t.logs).toLowerCase()).not.toContain('olga');
  });
});
