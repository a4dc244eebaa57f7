import { describe, expect, it } from '@jest/globals';
import { bearer, signIn, turnOnTwoFactor } from '../helpers/factories.js';
import { useSmtpServer, useTestApp, withUser } from '../helpers/perTest.js';
import { codeIn } from '../helpers/smtp.js';
import { totpAt } from '../helpers/totp.js';

// The attack of docs/security.md "2FA and a stolen token": someone holding only an access token (no
// password) tried to turn 2FA on with their own secret and lock the owner out for good.

const smtp = useSmtpServer();
const t = useTestApp(() => ({ env: { SMTP_URL: smtp.url, MAIL_FROM: 'Signalbox <no-reply@signalbox.test>' } }));
const PASSWORD = 'correct horse battery';
const alice = withUser(t, { username: 'alice', email: 'alice@example.org', password: PASSWORD });

const login = (password: string, totp?: string) => t.http.post('/auth/login').send({ username: 'alice', password, ...(totp === undefined ? {} : { totp }) });
const bodyOf = (raw: string) => raw.replace(/=\r?\n/g, ''); // undo quoted-printable soft line breaks

/** Alice turns 2FA on herself; answers the secret and her recovery codes. */
async function ownerEnables(): Promise<{ secret: string; recoveryCodes: string[] }> {
  return turnOnTwoFactor(t, alice, PASSWORD);
}

describe('a stolen access token and 2FA', () => {
  it('cannot set up 2FA without the password', async () => {
    const thief = await signIn(t, alice); // a second session of alice's: all a token thief holds
    expect((await t.http.post('/auth/2fa/setup').set(bearer(thief)).send({})).status).toBe(400);
    expect((await t.http.post('/auth/2fa/setup').set(bearer(thief)).send({ password: 'a guess at it' })).status).toBe(403);
    expect(await t.store.twoFactor.get(alice.id)).toBeNull();
    expect((await login(PASSWORD)).status).toBe(200);
  });

  it('cannot enable a secret set up meanwhile without the password', async () => {
    const thief = await signIn(t, alice);
    const { secret } = (await t.http.post('/auth/2fa/setup').set(bearer(alice)).send({ password: PASSWORD })).body;
    const code = totpAt(secret, t.clock.now());
    expect((await t.http.post('/auth/2fa/enable').set(bearer(thief)).send({ code })).status).toBe(400);
    expect((await t.http.post('/auth/2fa/enable').set(bearer(thief)).send({ password: 'a guess at it', code })).status).toBe(403);
    expect((await login(PASSWORD)).status).toBe(200); // still no second factor
  });

  it('mails the owner when 2FA is turned on, and again when it is turned off', async () => {
    const { secret } = await ownerEnables();
    const [on] = await smtp.waitFor(1);
    expect(on!.to).toEqual(['alice@example.org']);
    expect(on!.raw).toContain('Subject: Signalbox: two-factor authentication was turned on');
    expect(bodyOf(on!.raw)).toContain('If this was not you');
    const off = await t.http
      .post('/auth/2fa/disable')
      .set(bearer(alice))
      .send({ password: PASSWORD, code: totpAt(secret, t.clock.now()) });
    expect(off.status).toBe(204);
    const mails = await smtp.waitFor(2);
    expect(mails[1]!.raw).toContain('Subject: Signalbox: two-factor authentication was turned off');
  });

  it('mails nothing when enabling is refused', async () => {
    const { secret } = (await t.http.post('/auth/2fa/setup').set(bearer(alice)).send({ password: PASSWORD })).body;
    expect(
      (
        await t.http
          .post('/auth/2fa/enable')
          .set(bearer(alice))
          .send({ password: 'wrong one', code: totpAt(secret, t.clock.now()) })
      ).status,
    ).toBe(403);
    await t.mailer.idle();
    expect(smtp.received).toHaveLength(0);
  });

  it('leaves an owner who lost the phone a way back: reset the password, then sign in with a recovery code', async () => {
    const { recoveryCodes } = await ownerEnables();
    const before = (await smtp.waitFor(1)).length; // the "2FA on" notice
    expect((await t.http.post('/auth/forgot-password').send({ email: 'alice@example.org' })).status).toBe(202);
    const otp = codeIn((await smtp.waitFor(before + 1))[before]!);
    expect((await t.http.post('/auth/reset-password').send({ email: 'alice@example.org', otp, newPassword: 'a brand new secret' })).status).toBe(204);
    // The reset alone does not pass the second factor (it protects against a stolen mailbox) ...
    expect((await login('a brand new secret')).body.error.code).toBe('totp_required');
    // ... a recovery code does, once.
    const res = await login('a brand new secret', recoveryCodes[3]);
    expect(res.status).toBe(200);
    expect((await login('a brand new secret', recoveryCodes[3])).status).toBe(400);
  });
});
