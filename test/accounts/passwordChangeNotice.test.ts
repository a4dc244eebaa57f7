import { describe, expect, it } from '@jest/globals';
import { bearer } from '../helpers/factories.js';
import { useSmtpServer, useTestApp, withUser } from '../helpers/perTest.js';

const smtp = useSmtpServer();
const t = useTestApp(() => ({ env: { SMTP_URL: smtp.url, MAIL_FROM: 'Signalbox <no-reply@signalbox.test>' } }));
const alice = withUser(t, { username: 'alice', email: 'Alice@Example.org', password: 'correct horse battery' });

const change = (currentPassword: string) => t.http.post('/auth/change-password').set(bearer(alice)).send({ currentPassword, newPassword: 'a brand new secret' });

describe('POST /auth/change-password notice', () => {
  it('mails a "your password was changed" notice to the address on file', async () => {
    expect((await change('correct horse battery')).status).toBe(204);
    const [mail] = await smtp.waitFor(1);
    expect(mail!.raw).toContain('Subject: Your Signalbox password was changed');
    expect(mail!.to).toEqual(['Alice@example.org']);
  });

  it('says the change came from a signed-in device and that the other devices were signed out', async () => {
    expect((await change('correct horse battery')).status).toBe(204);
    const [mail] = await smtp.waitFor(1);
    const body = mail!.raw.replace(/=\r?\n/g, ''); // undo quoted-printable soft line breaks
    expect(body).toContain('changed from a signed-in device');
    expect(body).not.toContain('reset with a code');
  });

  it('mails nothing when the current password is wrong', async () => {
    expect((await change('not my password')).status).toBe(403);
    await t.mailer.idle();
    expect(smtp.received).toHaveLength(0);
  });
});
