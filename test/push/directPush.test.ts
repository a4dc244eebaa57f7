import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { bearer } from '../helpers/factories.js';
import { useTestApp, withUser } from '../helpers/perTest.js';
import type { TestApp } from '../helpers/app.js';
import { connectQuietly, deviceIdOf, send } from '../helpers/signaling.js';
import { ApnsFake, FCM_INVALID_TOKEN, FCM_UNREGISTERED, FcmFake, TEST_CA_FILE } from './serviceFakes.js';

// v1.2 direct wake-ups for iOS and Android apps (docs/push.md): APNs over HTTP/2 with an ES256 provider
// token, FCM HTTP v1 with an OAuth2 access token from a service account. Apple's and Google's services
// are the fakes of serviceFakes.ts on 127.0.0.1 (TLS with a test-only certificate the server trusts
// through PUSH_CA_FILE): they verify the tokens with the public keys, the headers and the bodies.

const TEAM = 'TEAM123456';
const KEY_ID = 'KEY1234567';
const TOPIC = 'org.example.signalbox';
const PROJECT = 'signalbox-test';
const CLIENT_EMAIL = 'push@signalbox-test.iam.gserviceaccount.com';
const apnsKeys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const fcmKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const dir = mkdtempSync(join(tmpdir(), 'signalbox-direct-push-'));
const P8 = join(dir, 'AuthKey.p8');
writeFileSync(P8, apnsKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }));

const token = (byte: number) => Buffer.alloc(32, byte).toString('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let apns: ApnsFake;
let apnsSandbox: ApnsFake;
let fcm: FcmFake;
let serviceAccountFile: string;
beforeAll(async () => {
  apns = await ApnsFake.start(apnsKeys.publicKey, KEY_ID, TEAM);
  apnsSandbox = await ApnsFake.start(apnsKeys.publicKey, KEY_ID, TEAM);
  fcm = await FcmFake.start(fcmKeys.publicKey, CLIENT_EMAIL, PROJECT);
  serviceAccountFile = join(dir, 'service-account.json');
  writeFileSync(
    serviceAccountFile,
    JSON.stringify({
      type: 'service_account',
      project_id: PROJECT,
      client_email: CLIENT_EMAIL,
      private_key: fcmKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }),
      token_uri: fcm.tokenUri,
    }),
  );
});
afterAll(async () => {
  await Promise.all([apns.close(), apnsSandbox.close(), fcm.close()]);
});
beforeEach(() => {
  for (const f of [apns, apnsSandbox]) {
    f.received.length = 0;
    f.problems.length = 0;
    f.answers = [];
  }
  fcm.received.length = 0;
  fcm.problems.length = 0;
  fcm.answers = [];
  fcm.expiresIn = 3600;
});

const configuredEnv = () => ({
  APNS_KEY_FILE: P8,
  APNS_KEY_ID: KEY_ID,
  APNS_TEAM_ID: TEAM,
  APNS_TOPIC: TOPIC,
  APNS_URL: apns.origin,
  APNS_SANDBOX_URL: apnsSandbox.origin,
  FCM_SERVICE_ACCOUNT_FILE: serviceAccountFile,
  FCM_URL: fcm.origin,
  PUSH_CA_FILE: TEST_CA_FILE,
  PUSH_COALESCE_MS: '100',
});

const subscribe = (t: TestApp, user: { accessToken: string }, deviceId: string, body: unknown) =>
  t.http
    .put(`/users/me/devices/${deviceId}/push`)
    .set(bearer(user))
    .send(body as object);

/** Waits until the app's metrics show `line` (the sender has decided), then returns them. */
async function metricsShow(t: TestApp, line: string): Promise<string> {
  for (;;) {
    const text = (await t.http.get('/metrics')).text;
    if (text.includes(line)) return text;
    await sleep(10);
  }
}

async function gone(t: TestApp, deviceId: string): Promise<void> {
  while (await t.store.pushSubscriptions.find(deviceId)) await sleep(10);
}

describe('direct APNs and FCM (configured)', () => {
  const t = useTestApp(() => ({ env: configuredEnv() }));
  const alice = withUser(t);
  const bob = withUser(t);
  const carol = withUser(t);
  const dave = withUser(t);
  let bobDevice: string;
  beforeEach(async () => {
    await connectQuietly(t, alice, bob);
    bobDevice = await deviceIdOf(t, bob);
  });

  describe('APNs', () => {
    it('rings a VoIP subscription for an offer: HTTP/2, provider token, <topic>.voip, voip, priority 10, the content-free body', async () => {
      const res = await subscribe(t, bob, bobDevice, { kind: 'apns', token: token(0xab), voip: true });
      expect(res.status).toBe(200);
      expect(res.body.push).toMatchObject({ kind: 'apns', origin: apns.origin });
      const before = Math.floor(Date.now() / 1000);
      await send(t, alice, bob, { type: 'offer', payload: 'secret sdp' });
      const [req] = await apns.count(1);
      expect(apns.problems).toEqual([]);
      expect(req!.path).toBe(`/3/device/${token(0xab)}`);
      expect(req!.headers['apns-topic']).toBe(`${TOPIC}.voip`);
      expect(req!.headers['apns-push-type']).toBe('voip');
      expect(req!.headers['apns-priority']).toBe('10');
      // SIGNAL_TTL (300 s by default): after it the entries are gone anyway.
      const expiration = Number(req!.headers['apns-expiration']);
      expect(expiration).toBeGreaterThanOrEqual(before + 300);
      expect(expiration).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 300);
      expect(req!.claims).toMatchObject({ iss: TEAM });
      expect(typeof req!.claims!.iat).toBe('number');
      expect(JSON.parse(req!.body.toString())).toEqual({ aps: { 'content-available': 1 }, sb: { type: 'wake', reason: 'signal', count: 1 } });
      expect(req!.body.toString()).not.toContain('secret sdp');
      expect(req!.body.toString()).not.toContain(alice.username);
      expect(apnsSandbox.received).toEqual([]);
    });

    it('sends a background push (priority 5, the bare topic) to the sandbox host for a sandbox subscription', async () => {
      await subscribe(t, bob, bobDevice, { kind: 'apns', token: token(0xcd), environment: 'sandbox' });
      await send(t, alice, bob, { type: 'offer', payload: 'x' });
      const [req] = await apnsSandbox.count(1);
      expect(apnsSandbox.problems).toEqual([]);
      expect(req!.headers['apns-push-type']).toBe('background');
      expect(req!.headers['apns-priority']).toBe('5');
      expect(req!.headers['apns-topic']).toBe(TOPIC);
      expect(JSON.parse(req!.body.toString())).toEqual({ aps: { 'content-available': 1 }, sb: { type: 'wake', reason: 'signal', count: 1 } });
      expect(apns.received).toEqual([]);
    });

    it('uses the topic the device gave', async () => {
      await subscribe(t, bob, bobDevice, { kind: 'apns', token: token(0x01), topic: 'org.example.other' });
      await send(t, alice, bob);
      const [req] = await apns.count(1);
      expect(req!.headers['apns-topic']).toBe('org.example.other');
    });

    it('does not wake a VoIP subscription for anything but an offer (iOS needs a call reported for every VoIP push)', async () => {
      await subscribe(t, bob, bobDevice, { kind: 'apns', token: token(0x02), voip: true });
      await send(t, alice, bob, { type: 'ice', payload: 'candidate' });
      await metricsShow(t, 'signalbox_push_wakeups_total{kind="apns",outcome="skipped"} 1');
      expect(apns.received).toEqual([]);
    });

    it('signs one provider token for many pushes', async () => {
      const devices: string[] = [];
      for (const user of [bob, carol, dave]) {
        if (user !== bob) await connectQuietly(t, alice, user);
        const id = await deviceIdOf(t, user);
        devices.push(id);
        await subscribe(t, user, id, { kind: 'apns', token: token(0x10 + devices.length) });
      }
      for (const user of [bob, carol, dave]) await send(t, alice, user);
      await apns.count(3);
      expect(apns.problems).toEqual([]);
      expect(apns.distinctTokens).toBe(1);
    });

    it.each([
      ['410 Unregistered', { status: 410, reason: 'Unregistered' }],
      ['400 BadDeviceToken', { status: 400, reason: 'BadDeviceToken' }],
    ])('removes the subscription on %s', async (_name, answer) => {
      apns.answers = [answer];
      await subscribe(t, bob, bobDevice, { kind: 'apns', token: token(0x03) });
      await send(t, alice, bob);
      await apns.count(1);
      await gone(t, bobDevice);
      await metricsShow(t, 'signalbox_push_wakeups_total{kind="apns",outcome="removed"} 1');
    });

    it('keeps the subscription on an answer about the request, not the token (400 BadExpirationDate)', async () => {
      apns.answers = [{ status: 400, reason: 'BadExpirationDate' }];
      await subscribe(t, bob, bobDevice, { kind: 'apns', token: token(0x04) });
      await send(t, alice, bob);
      await apns.count(1);
      await metricsShow(t, 'signalbox_push_wakeups_total{kind="apns",outcome="failed"} 1');
      expect(await t.store.pushSubscriptions.find(bobDevice)).not.toBeNull();
    });

    it('refuses a token that is not hex, and a topic with .voip', async () => {
      const bad = await subscribe(t, bob, bobDevice, { kind: 'apns', token: 'not-a-token' });
      expect(bad.status).toBe(400);
      expect(bad.body.error.details.fields.map((f: { field: string }) => f.field)).toContain('token');
      const voipTopic = await subscribe(t, bob, bobDevice, { kind: 'apns', token: token(5), topic: `${TOPIC}.voip` });
      expect(voipTopic.status).toBe(400);
      expect(voipTopic.body.error.details.fields.map((f: { field: string }) => f.field)).toContain('topic');
    });
  });

  describe('FCM HTTP v1', () => {
    const fcmToken = 'dK3x:APA91bH-example_registration-token';

    it('sends a high-priority data message with an access token from the service-account grant', async () => {
      const grantsBefore = fcm.grants;
      const res = await subscribe(t, bob, bobDevice, { kind: 'fcm', token: fcmToken });
      expect(res.status).toBe(200);
      expect(res.body.push).toMatchObject({ kind: 'fcm', origin: fcm.origin });
      await send(t, alice, bob, { type: 'offer', payload: 'secret sdp' });
      const [req] = await fcm.count(1);
      expect(fcm.problems).toEqual([]);
      expect(req!.path).toBe(`/v1/projects/${PROJECT}/messages:send`);
      expect(JSON.parse(req!.body.toString())).toEqual({
        message: { token: fcmToken, data: { type: 'wake', reason: 'signal', count: '1' }, android: { priority: 'HIGH', ttl: '300s' } },
      });
      expect(req!.body.toString()).not.toContain('secret sdp');
      expect(fcm.grants).toBe(grantsBefore + 1);
    });

    it('keeps one access token for many pushes until it expires', async () => {
      const users = [bob, carol, dave];
      for (const [i, user] of users.entries()) {
        if (user !== bob) await connectQuietly(t, alice, user);
        await subscribe(t, user, await deviceIdOf(t, user), { kind: 'fcm', token: `${fcmToken}-${i}` });
      }
      const grantsBefore = fcm.grants;
      for (const user of users) await send(t, alice, user);
      await fcm.count(3);
      expect(fcm.problems).toEqual([]);
      expect(fcm.grants).toBe(grantsBefore + 1);
    });

    it('asks for a new access token when Google says the cached one is no longer valid (401), and delivers', async () => {
      await subscribe(t, bob, bobDevice, { kind: 'fcm', token: fcmToken });
      fcm.expireTokens();
      const grantsBefore = fcm.grants;
      await send(t, alice, bob);
      await metricsShow(t, 'signalbox_push_wakeups_total{kind="fcm",outcome="delivered"} 1');
      expect(fcm.grants).toBeGreaterThan(grantsBefore);
      expect(fcm.received.length).toBeGreaterThanOrEqual(1);
    });

    it.each([
      ['404 UNREGISTERED', FCM_UNREGISTERED],
      ['400 INVALID_ARGUMENT on the token', FCM_INVALID_TOKEN],
    ])('removes the subscription on %s', async (_name, answer) => {
      fcm.answers = [answer];
      await subscribe(t, bob, bobDevice, { kind: 'fcm', token: fcmToken });
      await send(t, alice, bob);
      await fcm.count(1);
      await gone(t, bobDevice);
    });

    it('keeps the subscription on a 400 about another field of the message', async () => {
      fcm.answers = [
        {
          status: 400,
          error: {
            code: 400,
            message: 'Invalid value',
            status: 'INVALID_ARGUMENT',
            details: [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: 'message.android.ttl' }] }],
          },
        },
      ];
      await subscribe(t, bob, bobDevice, { kind: 'fcm', token: fcmToken });
      await send(t, alice, bob);
      await fcm.count(1);
      await metricsShow(t, 'signalbox_push_wakeups_total{kind="fcm",outcome="failed"} 1');
      expect(await t.store.pushSubscriptions.find(bobDevice)).not.toBeNull();
    });
  });
});

describe('FCM access tokens that expire at once', () => {
  const t = useTestApp(() => ({ env: configuredEnv() }));
  const alice = withUser(t);
  const bob = withUser(t);
  const carol = withUser(t);

  it('asks again once the cached token has expired', async () => {
    // Google's expires_in within the minute kept as margin: each push finds the cached one expired.
    fcm.expiresIn = 30;
    for (const [i, user] of [bob, carol].entries()) {
      await connectQuietly(t, alice, user);
      await subscribe(t, user, await deviceIdOf(t, user), { kind: 'fcm', token: `tok:${i}` });
    }
    const grantsBefore = fcm.grants;
    await send(t, alice, bob);
    await fcm.count(1);
    await send(t, alice, carol);
    await fcm.count(2);
    expect(fcm.problems).toEqual([]);
    expect(fcm.grants).toBe(grantsBefore + 2);
  });
});

describe('direct APNs and FCM (not configured)', () => {
  const t = useTestApp({ env: { PUSH_COALESCE_MS: '100' } });
  const alice = withUser(t);
  const bob = withUser(t);

  it.each([
    ['apns', { kind: 'apns', token: token(0x07), voip: true }],
    ['fcm', { kind: 'fcm', token: 'tok:1' }],
  ])('refuses %s with 400 validation_failed naming it, stores nothing and sends nothing', async (kind, body) => {
    await connectQuietly(t, alice, bob);
    const device = await deviceIdOf(t, bob);
    const res = await subscribe(t, bob, device, body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    const fields = res.body.error.details.fields as Array<{ field: string; message: string }>;
    expect(fields).toEqual([expect.objectContaining({ field: 'kind', message: expect.stringContaining(kind) })]);
    expect(await t.store.pushSubscriptions.find(device)).toBeNull();
    const grantsBefore = fcm.grants;
    await send(t, alice, bob, { type: 'offer', payload: 'x' });
    expect(apns.received).toEqual([]);
    expect(fcm.received).toEqual([]);
    expect(fcm.grants).toBe(grantsBefore);
  });
});
