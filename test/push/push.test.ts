import { createECDH } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import Database from '../../app/store/sqlite/driver.js';
import { join } from 'node:path';
import { vapidKeysOf } from '../../app/config/secrets.js';
import { bearer } from '../helpers/factories.js';
import { useTestApp, withUser } from '../helpers/perTest.js';
import { connectQuietly, deviceIdOf, poll, send, signInDevice } from '../helpers/signaling.js';
import { heldPolls } from '../signaling/helpers.js';
import { Receiver, UserAgentKeys, verifyVapid } from './receivers.js';

// docs/push.md: a device that holds no poll gets a content-free wake-up by Web Push or a Matrix push
// gateway. The push services here are real HTTP servers on 127.0.0.1 (receivers.ts) that check the
// VAPID signature and decrypt the RFC 8291 body themselves.

const ecdh = createECDH('prime256v1');
ecdh.generateKeys();
const VAPID = vapidKeysOf(ecdh.getPrivateKey());
const SUBJECT = 'mailto:ops@example.org';
const COALESCE_MS = 400;
const PUSH_ENV = {
  VAPID_PRIVATE_KEY: VAPID.privateKey,
  VAPID_SUBJECT: SUBJECT,
  PUSH_ALLOW_HTTP: 'true',
  PUSH_ALLOW_PRIVATE: 'true',
  PUSH_COALESCE_MS: String(COALESCE_MS),
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const wakeOf = (ua: UserAgentKeys, body: Buffer) => JSON.parse(ua.decrypt(body)) as unknown;

let receiver: Receiver;
beforeEach(async () => {
  receiver = await Receiver.start();
});
afterEach(() => receiver.close());

describe('push wake-ups (loopback allowed)', () => {
  // Retries after 10 ms rather than RETRY_DELAYS_MS' 2 s: what is asserted is that a wake-up is retried, not when.
  const t = useTestApp({ env: PUSH_ENV, pushRetryDelaysMs: [10, 20, 40] });
  const alice = withUser(t);
  const bob = withUser(t);
  let bobDevice: string;
  beforeEach(async () => {
    await connectQuietly(t, alice, bob);
    bobDevice = await deviceIdOf(t, bob);
  });

  const subscribe = (user: { accessToken: string }, deviceId: string, body: unknown) =>
    t.http
      .put(`/users/me/devices/${deviceId}/push`)
      .set(bearer(user))
      .send(body as object);

  describe('GET /push/vapid-public-key', () => {
    it('answers the configured VAPID public key without a sign-in', async () => {
      const res = await t.http.get('/push/vapid-public-key');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ publicKey: VAPID.publicKey });
    });
  });

  describe('Web Push', () => {
    it('sends an offline device one encrypted, VAPID-signed wake-up that names nothing of the signal', async () => {
      const ua = new UserAgentKeys();
      const res = await subscribe(bob, bobDevice, ua.subscription(`${receiver.origin}/push/bob-phone`));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ push: { kind: 'webpush', origin: receiver.origin, createdAt: expect.any(String) } });

      expect((await send(t, alice, bob, { type: 'offer', payload: 'secret sdp', sessionId: 'call-1' })).status).toBe(202);
      const [req] = await receiver.count(1);
      expect(req!.path).toBe('/push/bob-phone');
      expect(req!.headers['content-encoding']).toBe('aes128gcm');
      expect(req!.headers.ttl).toBe(String(t.config.signalTtl));
      expect(req!.headers.urgency).toBe('high');
      verifyVapid(req!.headers.authorization, { publicKey: VAPID.publicKey, audience: receiver.origin, subject: SUBJECT });
      expect(wakeOf(ua, req!.body)).toEqual({ type: 'wake', reason: 'signal', count: 1 });
    });

    it('wakes for a server event with reason "event" and normal urgency', async () => {
      const ua = new UserAgentKeys();
      await subscribe(bob, bobDevice, ua.subscription(`${receiver.origin}/push/bob-phone`));
      // Removing the connection tells alice (connection.removed; her device has no subscription); asking
      // again tells bob (connection.requested), whose device is woken for it.
      expect((await t.http.delete(`/connections/${alice.username}`).set(bearer(bob))).status).toBe(204);
      expect((await t.http.post('/connections/request').set(bearer(alice)).send({ username: bob.username })).status).toBe(201);
      const [req] = await receiver.count(1);
      expect(req!.headers.urgency).toBe('normal');
      expect(wakeOf(ua, req!.body)).toEqual({ type: 'wake', reason: 'event', count: 1 });
    });

    it('sends nothing to a device that holds a poll, and wakes its other device that does not', async () => {
      const laptop = await signInDevice(t, bob, 'laptop');
      const [phoneKeys, laptopKeys] = [new UserAgentKeys(), new UserAgentKeys()];
      expect((await subscribe(bob, bobDevice, phoneKeys.subscription(`${receiver.origin}/push/phone`))).status).toBe(200);
      expect((await subscribe(laptop, laptop.deviceId, laptopKeys.subscription(`${receiver.origin}/push/laptop`))).status).toBe(200);
      const held = poll(t, bob, { wait: 10 });
      await heldPolls(t, 1);
      await send(t, alice, bob, { payload: 'ring' });
      expect((await held).body.signals).toHaveLength(1);
      const [req] = await receiver.count(1);
      expect(req!.path).toBe('/push/laptop');
      // The phone's refusal is decided when the signal arrives, before the laptop's wake-up is even queued.
      await sleep(COALESCE_MS);
      expect(receiver.received.map((r) => r.path)).toEqual(['/push/laptop']);
    });

    it('coalesces: one wake-up at once, then one more at the end of the window for what came meanwhile', async () => {
      const ua = new UserAgentKeys();
      await subscribe(bob, bobDevice, ua.subscription(`${receiver.origin}/push/bob`));
      await send(t, alice, bob, { type: 'offer', payload: 'one' });
      const [first] = await receiver.count(1);
      expect(wakeOf(ua, first!.body)).toEqual({ type: 'wake', reason: 'signal', count: 1 });
      await send(t, alice, bob, { type: 'ice', payload: 'two' });
      await send(t, alice, bob, { type: 'ice', payload: 'three' });
      const [, second] = await receiver.count(2);
      expect(wakeOf(ua, second!.body)).toEqual({ type: 'wake', reason: 'signal', count: 2 });
      await sleep(COALESCE_MS * 2);
      expect(receiver.received).toHaveLength(2);
    });

    it('sends no trailing wake-up when the device started polling during the window', async () => {
      const ua = new UserAgentKeys();
      await subscribe(bob, bobDevice, ua.subscription(`${receiver.origin}/push/bob`));
      await send(t, alice, bob, { payload: 'one' });
      await receiver.count(1);
      const held = poll(t, bob, { wait: 10 }); // answers at once with "one"
      expect((await held).body.signals).toHaveLength(1);
      const next = poll(t, bob, { wait: 10, after: (await poll(t, bob)).body.cursor });
      await heldPolls(t, 1);
      await send(t, alice, bob, { payload: 'two' });
      expect((await next).body.signals).toHaveLength(1);
      await sleep(COALESCE_MS * 2);
      expect(receiver.received).toHaveLength(1);
    });

    it('removes the subscription when the push service answers 410 Gone', async () => {
      receiver.statuses = [410];
      await subscribe(bob, bobDevice, new UserAgentKeys().subscription(`${receiver.origin}/push/gone`));
      await send(t, alice, bob);
      await receiver.count(1);
      let status = 200;
      while (status === 200) {
        status = (await t.http.get(`/users/me/devices/${bobDevice}/push`).set(bearer(bob))).status;
        if (status === 200) await sleep(10);
      }
      expect(status).toBe(404);
    });

    it('removes the subscription on 404 too', async () => {
      receiver.statuses = [404];
      await subscribe(bob, bobDevice, new UserAgentKeys().subscription(`${receiver.origin}/push/unknown`));
      await send(t, alice, bob);
      await receiver.count(1);
      while ((await t.http.get(`/users/me/devices/${bobDevice}/push`).set(bearer(bob))).status === 200) await sleep(10);
      expect(await t.store.pushSubscriptions.find(bobDevice)).toBeNull();
    });

    it('retries after a 503 and delivers the same wake-up, keeping the subscription', async () => {
      receiver.statuses = [503];
      const ua = new UserAgentKeys();
      await subscribe(bob, bobDevice, ua.subscription(`${receiver.origin}/push/flaky`));
      await send(t, alice, bob);
      const [first, second] = await receiver.count(2);
      expect(wakeOf(ua, first!.body)).toEqual(wakeOf(ua, second!.body));
      expect((await t.http.get(`/users/me/devices/${bobDevice}/push`).set(bearer(bob))).status).toBe(200);
    });

    it('never blocks the send: a push service that does not answer leaves POST /signaling/send at 202', async () => {
      // The push service takes the request and never answers: the send has answered all the same.
      receiver.silent = true;
      await subscribe(bob, bobDevice, new UserAgentKeys().subscription(`${receiver.origin}/push/slow`));
      const res = await send(t, alice, bob);
      expect(res.status).toBe(202);
      await receiver.count(1);
      expect(receiver.answered).toBe(0);
    });

    it('sends the wake-ups owed from before a start: a subscribed device with entries waiting gets one', async () => {
      await send(t, alice, bob, { payload: 'while nobody pushed' });
      await send(t, alice, bob, { payload: 'and again' });
      const ua = new UserAgentKeys();
      await subscribe(bob, bobDevice, ua.subscription(`${receiver.origin}/push/after-restart`));
      await sleep(50);
      expect(receiver.received).toHaveLength(0); // subscribing itself wakes nobody
      const stop = t.app.lifecycle.start();
      try {
        const [req] = await receiver.count(1);
        expect(wakeOf(ua, req!.body)).toEqual({ type: 'wake', reason: 'signal', count: 2 });
      } finally {
        await stop();
      }
    });

    it('stores the endpoint and keys encrypted, not as text', async () => {
      const ua = new UserAgentKeys();
      const endpoint = `${receiver.origin}/push/private-endpoint-id`;
      await subscribe(bob, bobDevice, ua.subscription(endpoint));
      const db = new Database(join(t.dir, 'signalbox.db'), { readonly: true });
      try {
        const rows = db.prepare('SELECT * FROM push_subscriptions').all() as Array<Record<string, unknown>>;
        expect(rows).toHaveLength(1);
        const text = JSON.stringify(rows);
        expect(text).not.toContain('private-endpoint-id');
        expect(text).not.toContain(ua.auth.toString('base64url'));
      } finally {
        db.close();
      }
    });
  });

  describe('Matrix push gateway', () => {
    it('posts a content-free notify with the pushkey and prio high for an offer', async () => {
      receiver.answer = { rejected: [] };
      const url = `${receiver.origin}/_matrix/push/v1/notify`;
      // Sygnal's APNs pushkey: the device token in base64 (gatewaySygnal.test.ts covers both pushkins).
      const pushkey = Buffer.alloc(32, 0xab).toString('base64');
      const res = await subscribe(bob, bobDevice, { kind: 'gateway', url, pushkey, appId: 'org.example.chat.ios' });
      expect(res.status).toBe(200);
      await send(t, alice, bob, { type: 'offer', payload: 'secret sdp' });
      const [req] = await receiver.count(1);
      expect(req!.path).toBe('/_matrix/push/v1/notify');
      expect(req!.headers['content-type']).toBe('application/json');
      const { notification } = JSON.parse(req!.body.toString()) as { notification: Record<string, unknown> };
      expect(notification).toEqual({
        event_id: '$signalbox-wake',
        prio: 'high',
        devices: [
          { app_id: 'org.example.chat.ios', pushkey, data: { default_payload: { aps: { 'content-available': 1 }, sb: { type: 'wake', reason: 'signal', count: 1 } } } },
        ],
      });
      expect(req!.body.toString()).not.toContain('secret sdp');
      expect(req!.body.toString()).not.toContain(alice.username);
    });

    it('removes the subscription when the gateway rejects the pushkey', async () => {
      receiver.answer = { rejected: ['stale-token'] };
      await subscribe(bob, bobDevice, { kind: 'gateway', url: `${receiver.origin}/_matrix/push/v1/notify`, pushkey: 'stale-token', appId: 'org.example.app' });
      await send(t, alice, bob);
      await receiver.count(1);
      while ((await t.http.get(`/users/me/devices/${bobDevice}/push`).set(bearer(bob))).status === 200) await sleep(10);
      expect(await t.store.pushSubscriptions.find(bobDevice)).toBeNull();
    });
  });

  describe('PUT, GET and DELETE /users/me/devices/{id}/push', () => {
    it('keeps one subscription per device: a second PUT replaces the first', async () => {
      const [oldKeys, newKeys] = [new UserAgentKeys(), new UserAgentKeys()];
      await subscribe(bob, bobDevice, oldKeys.subscription(`${receiver.origin}/push/old`));
      await subscribe(bob, bobDevice, newKeys.subscription(`${receiver.origin}/push/new`));
      await send(t, alice, bob);
      const [req] = await receiver.count(1);
      expect(req!.path).toBe('/push/new');
      expect(wakeOf(newKeys, req!.body)).toMatchObject({ type: 'wake' });
    });

    it('DELETE stops the wake-ups and answers 204 again when there is none', async () => {
      await subscribe(bob, bobDevice, new UserAgentKeys().subscription(`${receiver.origin}/push/x`));
      expect((await t.http.delete(`/users/me/devices/${bobDevice}/push`).set(bearer(bob))).status).toBe(204);
      expect((await t.http.delete(`/users/me/devices/${bobDevice}/push`).set(bearer(bob))).status).toBe(204);
      expect((await t.http.get(`/users/me/devices/${bobDevice}/push`).set(bearer(bob))).body.error.code).toBe('not_found');
      const laptop = await signInDevice(t, bob, 'laptop');
      await subscribe(laptop, laptop.deviceId, new UserAgentKeys().subscription(`${receiver.origin}/push/laptop`));
      await send(t, alice, bob);
      await receiver.count(1);
      await sleep(COALESCE_MS);
      expect(receiver.received.map((r) => r.path)).toEqual(['/push/laptop']);
    });

    it("answers 404 for another account's device, and stores nothing", async () => {
      const aliceDevice = await deviceIdOf(t, alice);
      const res = await subscribe(bob, aliceDevice, new UserAgentKeys().subscription(`${receiver.origin}/push/x`));
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('not_found');
      expect((await t.http.delete(`/users/me/devices/${aliceDevice}/push`).set(bearer(bob))).status).toBe(404);
      expect(await t.store.pushSubscriptions.find(aliceDevice)).toBeNull();
    });

    it('ends with the device: after logout nothing is left to push to', async () => {
      await subscribe(bob, bobDevice, new UserAgentKeys().subscription(`${receiver.origin}/push/x`));
      expect((await t.http.post('/auth/logout').set(bearer(bob)).send({})).status).toBe(204);
      expect(await t.store.pushSubscriptions.find(bobDevice)).toBeNull();
    });

    it.each([
      ['no kind', { endpoint: 'https://push.example.com/x' }, 'kind'],
      ['an unknown kind', { kind: 'mqtt', token: 'x' }, 'kind'],
      ['keys that are not base64url', { kind: 'webpush', endpoint: 'https://push.example.com/x', keys: { p256dh: 'not base64!', auth: 'x' } }, 'keys.p256dh'],
      [
        'a p256dh of the wrong length',
        {
          kind: 'webpush',
          endpoint: 'https://push.example.com/x',
          keys: { p256dh: Buffer.alloc(33, 4).toString('base64url'), auth: Buffer.alloc(16).toString('base64url') },
        },
        'keys.p256dh',
      ],
      [
        'an auth secret of the wrong length',
        { kind: 'webpush', endpoint: 'https://push.example.com/x', keys: { p256dh: new UserAgentKeys().publicKey.toString('base64url'), auth: 'AAAA' } },
        'keys.auth',
      ],
      ['an endpoint that is no URL', { ...new UserAgentKeys().subscription('x'), endpoint: 'not a url' }, 'endpoint'],
      ['an extra field', { ...new UserAgentKeys().subscription('https://push.example.com/x'), sender: 'x' }, 'sender'],
      ['a gateway URL on another path', { kind: 'gateway', url: 'https://push.example.com/notify', pushkey: 'k', appId: 'a' }, 'url'],
      ['a gateway without pushkey', { kind: 'gateway', url: 'https://push.example.com/_matrix/push/v1/notify', appId: 'a' }, 'pushkey'],
    ])('refuses %s with 400 validation_failed naming the field', async (_name, body, field) => {
      const res = await subscribe(bob, bobDevice, body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
      expect((res.body.error.details.fields as Array<{ field: string }>).map((f) => f.field)).toContain(field);
    });
  });
});

describe('push endpoint validation (defaults: https and public addresses only)', () => {
  // One app for the describe: every subscription here is refused and stores nothing.
  const t = useTestApp({ env: { VAPID_PRIVATE_KEY: VAPID.privateKey } }, 'all');
  const bob = withUser(t, {}, 'all');

  const refusal = async (body: object) => {
    const res = await t.http
      .put(`/users/me/devices/${await deviceIdOf(t, bob)}/push`)
      .set(bearer(bob))
      .send(body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    return res.body.error.details.fields as Array<{ field: string; message: string }>;
  };

  it('refuses http:// endpoints', async () => {
    expect(await refusal(new UserAgentKeys().subscription(`${receiver.origin}/push`))).toEqual([{ field: 'endpoint', message: 'must be an https:// URL' }]);
  });

  it.each([
    'https://127.0.0.1/push',
    'https://127.1.2.3:8443/push',
    'https://[::1]/push',
    'https://[::ffff:127.0.0.1]/push',
    'https://[::ffff:7f00:1]/push',
    'https://[64:ff9b::a9fe:a9fe]/push',
    'https://169.254.169.254/latest/meta-data',
    'https://10.1.2.3/push',
    'https://172.16.0.1/push',
    'https://192.168.1.1/push',
    'https://100.64.0.1/push',
    'https://0.0.0.0/push',
    'https://[fd00::1]/push',
    'https://[fe80::1]/push',
    'https://localhost/push',
    'https://push.localhost/push',
    'https://intranet/push',
    'https://user:pass@push.example.com/push',
  ])('refuses %s (SSRF) and sends it nothing', async (endpoint) => {
    const fields = await refusal(new UserAgentKeys().subscription(endpoint));
    expect(fields.map((f) => f.field)).toEqual(['endpoint']);
  });

  it('refuses a gateway URL on loopback the same way', async () => {
    const fields = await refusal({ kind: 'gateway', url: 'https://127.0.0.1/_matrix/push/v1/notify', pushkey: 'k', appId: 'a' });
    expect(fields.map((f) => f.field)).toEqual(['url']);
  });

  it('refuses a name that resolves to no address, with the same sentence as one that resolves inside', async () => {
    const fields = await refusal(new UserAgentKeys().subscription('https://no-such-host.invalid/push'));
    expect(fields).toEqual([{ field: 'endpoint', message: 'must resolve to public addresses only' }]);
    expect(receiver.received).toHaveLength(0);
  });
});

describe('push without VAPID keys', () => {
  const t = useTestApp();
  const bob = withUser(t);

  it('answers 503 unavailable for the key and for Web Push subscriptions', async () => {
    expect((await t.http.get('/push/vapid-public-key')).body.error.code).toBe('unavailable');
    const res = await t.http
      .put(`/users/me/devices/${await deviceIdOf(t, bob)}/push`)
      .set(bearer(bob))
      .send(new UserAgentKeys().subscription('https://push.example.com/x'));
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('unavailable');
  });
});
