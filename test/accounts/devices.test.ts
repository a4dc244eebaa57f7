import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import type { Response } from 'supertest';
import type { TestApp } from '../helpers/app.js';
import { connect } from '../helpers/connections.js';
import { bearer, registerUser, type TestUser } from '../helpers/factories.js';
import { useTestApp, withUser } from '../helpers/perTest.js';
import { poll } from '../helpers/signaling.js';
import { heldPolls } from '../signaling/helpers.js';

// docs/api.md, Devices (v1.1): every session is a device; `device {name, platform}` at register/login is
// shown only to the owner; `deviceId` stays for the session's life; DEVICES_MAX ends the least
// recently seen session.

const PHONE = { name: 'Ana’s phone 📱', platform: 'ios' };

/** Signs `user` in with `device` (none when undefined): the new session's credentials and deviceId. */
async function signInWith(t: TestApp, user: TestUser, device?: Record<string, unknown>): Promise<TestUser & { deviceId: string }> {
  const res = await t.http.post('/auth/login').send({ username: user.username, password: user.password, ...(device ? { device } : {}) });
  expect(res.status).toBe(200);
  return { ...user, accessToken: res.body.accessToken, refreshToken: res.body.refreshToken, deviceId: res.body.deviceId };
}

const devicesOf = (t: TestApp, u: TestUser) => t.http.get('/users/me/devices').set(bearer(u));
const removeDevice = (t: TestApp, u: TestUser, id: string) => t.http.delete(`/users/me/devices/${encodeURIComponent(id)}`).set(bearer(u));
const me = (t: TestApp, u: TestUser) => t.http.get('/users/me').set(bearer(u));

/** The id in an access token's `sid` claim (the session it belongs to). */
const sidOf = (u: TestUser) => JSON.parse(Buffer.from(u.accessToken.split('.')[1]!, 'base64url').toString()).sid as string;

function expectSessionEnded(res: Response): void {
  expect(res.status).toBe(401);
  expect(res.body.error.code).toBe('unauthorized');
}

describe('device info at sign-in', () => {
  const t = useTestApp();
  const ana = withUser(t);

  it('answers a deviceId at login and register: the session of the access token', async () => {
    const phone = await signInWith(t, ana, PHONE);
    expect(phone.deviceId).toEqual(expect.any(String));
    expect(phone.deviceId).toBe(sidOf(phone));
    const reg = await t.http.post('/auth/register').send({ username: 'bea', email: 'bea@example.org', password: 'correct horse battery', device: { name: 'Desk' } });
    expect(reg.status).toBe(201);
    expect(reg.body.deviceId).toBe(sidOf(reg.body));
    const list = await devicesOf(t, reg.body);
    expect(list.body.devices).toEqual([expect.objectContaining({ id: reg.body.deviceId, name: 'Desk', platform: null, current: true })]);
  });

  it('lists the name and platform given at login to the owner, null for a device that gave none, oldest first', async () => {
    t.clock.advance(1);
    const phone = await signInWith(t, ana, PHONE);
    const res = await devicesOf(t, phone);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body.devices).toEqual([
      { id: sidOf(ana), name: null, platform: null, createdAt: '2026-06-01T12:00:00.000Z', lastSeen: null, current: false },
      { id: phone.deviceId, name: PHONE.name, platform: 'ios', createdAt: '2026-06-01T12:00:01.000Z', lastSeen: '2026-06-01T12:00:01.000Z', current: true },
    ]);
  });

  it('shows the device name to nobody else: not in their device lists, not in profiles or connection lists', async () => {
    const bob = await registerUser(t);
    await connect(t, ana, bob);
    const phone = await signInWith(t, ana, PHONE);
    const bobsDevices = await devicesOf(t, bob);
    expect(bobsDevices.body.devices.map((d: { id: string }) => d.id)).toEqual([sidOf(bob)]);
    for (const res of [bobsDevices, await t.http.get(`/users/${ana.username}`).set(bearer(bob)), await t.http.get('/connections/').set(bearer(bob))]) {
      expect(res.status).toBe(200);
      expect(JSON.stringify(res.body)).not.toContain('phone');
      expect(JSON.stringify(res.body)).not.toContain(phone.deviceId);
    }
  });

  it('keeps the name and platform encrypted at rest and out of the logs', async () => {
    const device = { name: 'Kitchen tablet of Ana', platform: 'androidtablet' };
    t.clock.advance(1); // listed after the registration's session
    const tablet = await signInWith(t, ana, device);
    expect((await devicesOf(t, tablet)).body.devices[1].name).toBe(device.name);
    const bytes = Buffer.concat(
      readdirSync(t.dir)
        .filter((f) => f.startsWith('signalbox.db'))
        .map((f) => readFileSync(join(t.dir, f))),
    );
    expect(bytes.includes(device.name)).toBe(false);
    expect(bytes.includes(device.platform)).toBe(false);
    expect(JSON.stringify(t.logs)).not.toContain('Kitchen');
    expect(JSON.stringify(t.logs)).not.toContain(device.platform);
  });

  it.each([
    ['a name over 64 characters', { name: 'x'.repeat(65) }, 'device.name'],
    ['an empty name', { name: '' }, 'device.name'],
    ['a name of blanks', { name: '   ' }, 'device.name'],
    ['a name with a control character', { name: 'a\nb' }, 'device.name'],
    ['a platform over 32 characters', { platform: 'p'.repeat(33) }, 'device.platform'],
    ['an empty platform', { platform: '' }, 'device.platform'],
    ['an unknown field', { model: 'Pixel' }, 'device'],
    ['a device that is not an object', 'phone', 'device'],
  ])('refuses %s with 400 validation_failed', async (_, device, field) => {
    const res = await t.http.post('/auth/login').send({ username: ana.username, password: ana.password, device });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(JSON.stringify(res.body.error.details)).toContain(field);
    const reg = await t.http.post('/auth/register').send({ username: 'cleo', email: 'cleo@example.org', password: 'correct horse battery', device });
    expect(reg.status).toBe(400);
  });

  it('takes names of exactly 64 characters and platforms of 32, counting an emoji as one', async () => {
    const name = '📱'.repeat(64);
    t.clock.advance(1);
    const phone = await signInWith(t, ana, { name, platform: 'p'.repeat(32) });
    expect((await devicesOf(t, phone)).body.devices[1]).toMatchObject({ name, platform: 'p'.repeat(32) });
  });
});

describe('deviceId for the life of the session', () => {
  const t = useTestApp();
  const ana = withUser(t);

  it('stays the same across refreshes', async () => {
    const phone = await signInWith(t, ana, PHONE);
    const first = await t.http.post('/auth/refresh').send({ refreshToken: phone.refreshToken });
    expect(first.status).toBe(200);
    expect(first.body.deviceId).toBe(phone.deviceId);
    const second = await t.http.post('/auth/refresh').send({ refreshToken: first.body.refreshToken });
    expect(second.body.deviceId).toBe(phone.deviceId);
    const list = await devicesOf(t, second.body);
    expect(list.body.devices.find((d: { current: boolean }) => d.current)).toMatchObject({ id: phone.deviceId, name: PHONE.name });
  });

  it('ends with logout: the device leaves the list', async () => {
    const phone = await signInWith(t, ana, PHONE);
    expect((await t.http.post('/auth/logout').set(bearer(phone)).send({})).status).toBe(204);
    expect((await devicesOf(t, ana)).body.devices.map((d: { id: string }) => d.id)).toEqual([sidOf(ana)]);
  });

  it('marks as current the device asking, whichever it is', async () => {
    const phone = await signInWith(t, ana, PHONE);
    const current = async (u: TestUser) => (await devicesOf(t, u)).body.devices.filter((d: { current: boolean }) => d.current).map((d: { id: string }) => d.id);
    expect(await current(ana)).toEqual([sidOf(ana)]);
    expect(await current(phone)).toEqual([phone.deviceId]);
  });

  it('shows lastSeen null until the device makes an authenticated request, then when it last did (within 30 s)', async () => {
    const phone = await signInWith(t, ana, PHONE);
    const lastSeen = async () => (await devicesOf(t, ana)).body.devices.find((d: { id: string }) => d.id === phone.deviceId).lastSeen;
    expect(await lastSeen()).toBeNull();
    t.clock.advance(5);
    await me(t, phone);
    expect(await lastSeen()).toBe('2026-06-01T12:00:05.000Z');
    t.clock.advance(10);
    await me(t, phone); // within 30 s of the last write: not written again
    expect(await lastSeen()).toBe('2026-06-01T12:00:05.000Z');
    t.clock.advance(30);
    await me(t, phone);
    expect(await lastSeen()).toBe('2026-06-01T12:00:45.000Z');
  });
});

describe('DELETE /users/me/devices/{id}', () => {
  const t = useTestApp();
  const ana = withUser(t);
  const bob = withUser(t);

  it('ends that session at once: its access token, refresh token and held poll get 401', async () => {
    const phone = await signInWith(t, ana, PHONE);
    const held = poll(t, phone, { wait: 30 });
    await heldPolls(t, 1);
    expect((await removeDevice(t, ana, phone.deviceId)).status).toBe(204);
    expectSessionEnded(await held);
    expectSessionEnded(await me(t, phone));
    expectSessionEnded(await t.http.post('/auth/refresh').send({ refreshToken: phone.refreshToken }));
    expect((await me(t, ana)).status).toBe(200); // the device that removed it goes on
    expect((await devicesOf(t, ana)).body.devices.map((d: { id: string }) => d.id)).toEqual([sidOf(ana)]);
  });

  it('may remove the calling device itself, which is then signed out', async () => {
    expect((await removeDevice(t, ana, sidOf(ana))).status).toBe(204);
    expectSessionEnded(await me(t, ana));
  });

  it("answers 404 for another user's device and for a made-up id alike, ending nothing", async () => {
    const theirs = await removeDevice(t, ana, sidOf(bob));
    const madeUp = await removeDevice(t, ana, 'no-such-device');
    for (const res of [theirs, madeUp]) {
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
    expect(theirs.body).toEqual(madeUp.body);
    expect((await me(t, bob)).status).toBe(200);
  });

  it('needs a signed-in caller', async () => {
    expect((await t.http.delete(`/users/me/devices/${sidOf(ana)}`)).status).toBe(401);
    expect((await t.http.get('/users/me/devices')).status).toBe(401);
    expect((await me(t, ana)).status).toBe(200);
  });
});

describe('DEVICES_MAX', () => {
  const t = useTestApp({ env: { DEVICES_MAX: '3' } });
  const ana = withUser(t);

  it('ends the least recently seen session when a new sign-in passes it, with its held poll', async () => {
    // ana (registered) and b, c signed in at the same moment; b is seen first, then ana, then c.
    const b = await signInWith(t, ana, { name: 'b' });
    const c = await signInWith(t, ana, { name: 'c' });
    const bPoll = poll(t, b, { wait: 30 }); // b's last authenticated request: now
    await heldPolls(t, 1);
    t.clock.advance(60);
    expect((await me(t, ana)).status).toBe(200);
    t.clock.advance(60);
    expect((await me(t, c)).status).toBe(200);

    const d = await signInWith(t, ana, { name: 'd' });
    expectSessionEnded(await bPoll);
    expectSessionEnded(await me(t, b));
    for (const u of [ana, c, d]) expect((await me(t, u)).status).toBe(200);
    const names = (await devicesOf(t, d)).body.devices.map((x: { name: string | null }) => x.name);
    expect(new Set(names)).toEqual(new Set([null, 'c', 'd'])); // ana and c signed in at the same moment: either order
  });

  it('counts a device not seen since sign-in by its sign-in time', async () => {
    const b = await signInWith(t, ana, { name: 'b' });
    t.clock.advance(60);
    const c = await signInWith(t, ana, { name: 'c' }); // never seen, but signed in after ana and b were
    t.clock.advance(60);
    expect((await me(t, b)).status).toBe(200);
    await signInWith(t, ana, { name: 'd' });
    expectSessionEnded(await me(t, ana)); // seen never, signed in first
    for (const u of [b, c]) expect((await me(t, u)).status).toBe(200);
  });

  it('keeps at most DEVICES_MAX sessions after many sign-ins at once', async () => {
    await Promise.all(Array.from({ length: 6 }, () => signInWith(t, ana)));
    const left = (await t.store.sessions.listByUser(ana.id, new Date(t.clock.now()))).length;
    expect(left).toBe(3);
  });
});
