import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { purgeExpired } from '../../app/store/purge.js';
import { bearer, putPgpKey, type TestUser, turnOnTwoFactor } from '../helpers/factories.js';
import { ED25519, fixture } from '../helpers/pgpFixtures.js';
import { useSmtpServer, useTestApp, withUser } from '../helpers/perTest.js';
import { codeIn } from '../helpers/smtp.js';
import { totpAt } from '../helpers/totp.js';

const smtp = useSmtpServer();
// TRUST_PROXY: each test picks its client's address with X-Forwarded-For.
const t = useTestApp(() => ({ env: { TRUST_PROXY: 'true', SMTP_URL: smtp.url, MAIL_FROM: 'Signalbox <no-reply@signalbox.test>' } }));
const PASSWORD = 'correct horse battery';
const alice = withUser(t, { username: 'alice', email: 'alice@example.org', password: PASSWORD });

interface Entry {
  id: string;
  type: string;
  at: string;
  deviceId: string | null;
  platform: string | null;
  network: string | null;
}

const HOME = '203.0.113.7';
const login = (ip = HOME, device: { name?: string; platform?: string } = { platform: 'android' }) =>
  t.http.post('/auth/login').set('X-Forwarded-For', ip).send({ username: 'alice', password: PASSWORD, device });
const signedIn = async (ip = HOME, platform = 'android'): Promise<TestUser> => {
  const res = await login(ip, { platform });
  expect(res.status).toBe(200);
  return { ...alice, accessToken: res.body.accessToken, refreshToken: res.body.refreshToken, deviceId: res.body.deviceId } as TestUser;
};
const log = async (user: { accessToken: string } = alice, query = ''): Promise<Entry[]> => {
  const res = await t.http.get(`/users/me/security-events${query}`).set(bearer(user));
  expect(res.status).toBe(200);
  return res.body.events;
};
/** The id of the device (session) `user` signs in with: the current one of its device list. */
const deviceOf = async (user: { accessToken: string }): Promise<string> =>
  (await t.http.get('/users/me/devices').set(bearer(user))).body.devices.find((d: { current: boolean }) => d.current).id;
const types = async (user: { accessToken: string } = alice) => (await log(user)).map((e) => e.type);

describe('GET /users/me/security-events', () => {
  it('records a sign-in from a new network as login.new-network, then from it again as login, newest first', async () => {
    const first = await signedIn();
    t.clock.advance(1);
    const second = await signedIn(HOME, 'ios');
    const entries = await log(second);
    expect(entries.map((e) => e.type)).toEqual(['login', 'login.new-network']);
    expect(entries[0]).toEqual({
      id: expect.any(String),
      type: 'login',
      at: new Date(t.clock.now()).toISOString(),
      deviceId: (second as TestUser & { deviceId: string }).deviceId,
      platform: 'ios',
      network: '203.0.113.0/24',
    });
    expect(entries[1]!.deviceId).toBe((first as TestUser & { deviceId: string }).deviceId);
    expect(entries[1]!.platform).toBe('android');
  });

  it('keeps the network coarse: an IPv6 client as its /48', async () => {
    const phone = await signedIn('2001:db8:1:2:3:4:5:6');
    expect((await log(phone))[0]!.network).toBe('2001:db8:1::/48');
  });

  it('stores the network encrypted', async () => {
    await signedIn('198.51.100.77');
    const bytes = Buffer.concat(
      readdirSync(t.dir)
        .filter((f) => f.startsWith('signalbox.db'))
        .map((f) => readFileSync(join(t.dir, f))),
    );
    expect(bytes.includes('198.51.100.0/24')).toBe(false);
  });

  it('records logout with the device that signed out', async () => {
    const phone = await signedIn();
    expect((await t.http.post('/auth/logout').set(bearer(phone)).send({})).status).toBe(204);
    const [entry] = await log();
    expect(entry).toMatchObject({ type: 'logout', deviceId: (phone as TestUser & { deviceId: string }).deviceId, platform: 'android' });
  });

  it('records device.removed by the device that removed it', async () => {
    const phone = (await signedIn()) as TestUser & { deviceId: string };
    expect((await t.http.delete(`/users/me/devices/${phone.deviceId}`).set(bearer(alice))).status).toBe(204);
    const [entry] = await log();
    expect(entry).toMatchObject({ type: 'device.removed', deviceId: await deviceOf(alice) });
  });

  it('records password.changed', async () => {
    const res = await t.http.post('/auth/change-password').set(bearer(alice)).send({ currentPassword: PASSWORD, newPassword: 'a brand new secret' });
    expect(res.status).toBe(204);
    expect((await log())[0]).toMatchObject({ type: 'password.changed', deviceId: await deviceOf(alice) });
  });

  it('records password.reset with no device but the network it came from', async () => {
    await t.http.post('/auth/forgot-password').send({ email: 'alice@example.org' });
    const otp = codeIn((await smtp.waitFor(1))[0]!);
    const res = await t.http
      .post('/auth/reset-password')
      .set('X-Forwarded-For', '192.0.2.200')
      .send({ email: 'alice@example.org', otp, newPassword: 'a brand new secret' });
    expect(res.status).toBe(204);
    const phone = (await t.http.post('/auth/login').set('X-Forwarded-For', HOME).send({ username: 'alice', password: 'a brand new secret' })).body;
    const entries = await log(phone);
    expect(entries[1]).toMatchObject({ type: 'password.reset', deviceId: null, platform: null, network: '192.0.2.0/24' });
  });

  it('records 2fa.enabled and 2fa.disabled', async () => {
    const { secret } = await turnOnTwoFactor(t, alice, PASSWORD);
    expect(
      (
        await t.http
          .post('/auth/2fa/disable')
          .set(bearer(alice))
          .send({ password: PASSWORD, code: totpAt(secret, t.clock.now()) })
      ).status,
    ).toBe(204);
    expect(await types()).toEqual(['2fa.disabled', '2fa.enabled']);
  });

  it('records key.changed for an upload and a removal, not for removing no key', async () => {
    expect((await t.http.delete('/auth/pgp-key').set(bearer(alice))).status).toBe(204);
    expect(await types()).toEqual([]);
    expect((await putPgpKey(t, alice, fixture(ED25519.file))).status).toBe(200);
    expect((await t.http.delete('/auth/pgp-key').set(bearer(alice))).status).toBe(204);
    expect(await types()).toEqual(['key.changed', 'key.changed']);
  });

  it("shows only the caller's own account", async () => {
    await signedIn();
    const bob = (await t.http.post('/auth/register').send({ username: 'bob', email: 'bob@example.org', password: PASSWORD })).body;
    expect(await log(bob)).toEqual([]);
  });

  it('answers `limit` newest entries, 50 by default', async () => {
    for (let i = 0; i < 55; i++) {
      t.clock.advance(1);
      expect(
        (
          await t.http
            .post('/auth/logout')
            .set(bearer(await signedIn()))
            .send({})
        ).status,
      ).toBe(204);
    }
    expect(await log(alice)).toHaveLength(50);
    const two = await log(alice, '?limit=2');
    expect(two.map((e) => e.type)).toEqual(['logout', 'login']);
    expect(Date.parse(two[0]!.at)).toBeGreaterThanOrEqual(Date.parse(two[1]!.at));
    expect(await log(alice, '?limit=100')).toHaveLength(100);
  });

  it.each(['0', '101', 'ten', '-1', '1.5'])('refuses limit=%s with 400 validation_failed', async (limit) => {
    const res = await t.http.get(`/users/me/security-events?limit=${limit}`).set(bearer(alice));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
  });

  it('keeps entries SECURITY_EVENTS_TTL (90 days by default), then the periodic purge removes them', async () => {
    await signedIn();
    t.clock.advance(90 * 86400 - 1);
    const later = await signedIn();
    expect(await log(later)).toHaveLength(2);
    t.clock.advance(1);
    expect(await log(later)).toHaveLength(1);
    expect((await purgeExpired(t.store, new Date(t.clock.now()))).securityEvents).toBe(1);
  });

  it('needs a signed-in user, and answers no-store', async () => {
    expect((await t.http.get('/users/me/security-events')).status).toBe(401);
    const res = await t.http.get('/users/me/security-events').set(bearer(alice));
    expect(res.headers['cache-control']).toBe('no-store');
  });
});
