import { createECDH } from 'node:crypto';
import { beforeEach, describe, expect, it } from '@jest/globals';
import { vapidKeysOf } from '../../app/config/secrets.js';
import { bearer } from '../helpers/factories.js';
import { useTestApp, withUser } from '../helpers/perTest.js';
import { connectQuietly, deviceIdOf, poll, send, signInDevice } from '../helpers/signaling.js';
import { UserAgentKeys } from '../push/receivers.js';

// `reachable` on the 202 of POST /signaling/send (docs/api.md): how many target devices can get the
// signal soon (seen within PRESENCE_WINDOW, holding a poll, or with a push subscription). The SDK's
// call() fails fast with `unavailable` on 0 instead of ringing nobody for its whole timeout.

const ecdh = createECDH('prime256v1');
ecdh.generateKeys();
const PRESENCE_WINDOW = 60;
const t = useTestApp({
  env: {
    PRESENCE_WINDOW: String(PRESENCE_WINDOW),
    VAPID_PRIVATE_KEY: vapidKeysOf(ecdh.getPrivateKey()).privateKey,
    VAPID_SUBJECT: 'mailto:ops@example.org',
    PUSH_ALLOW_HTTP: 'true',
    PUSH_ALLOW_PRIVATE: 'true',
  },
});
const alice = withUser(t);
const bob = withUser(t);
beforeEach(() => connectQuietly(t, alice, bob));

/** Time passes without Bob's devices making a request; Alice's session stays valid. */
const bobGoesQuiet = () => t.clock.advance(PRESENCE_WINDOW + 1);

describe('reachable on POST /signaling/send', () => {
  it('counts a device seen within PRESENCE_WINDOW', async () => {
    const res = await send(t, alice, bob);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ id: expect.any(String), expiresAt: expect.any(String), devices: 1, reachable: 1 });
  });

  it('is 0 once no device of the recipient was seen within PRESENCE_WINDOW and none has a push subscription', async () => {
    bobGoesQuiet();
    const res = await send(t, alice, bob);
    expect(res.body).toMatchObject({ devices: 1, reachable: 0 });
    // Bob polls: reachable again.
    expect((await poll(t, bob)).status).toBe(200);
    expect((await send(t, alice, bob)).body).toMatchObject({ devices: 1, reachable: 1 });
  });

  it('counts a quiet device that push can wake', async () => {
    const device = await deviceIdOf(t, bob);
    const subscribed = await t.http.put(`/users/me/devices/${device}/push`).set(bearer(bob)).send(new UserAgentKeys().subscription('http://127.0.0.1:9/push/bob'));
    expect(subscribed.status).toBe(200);
    bobGoesQuiet();
    expect((await send(t, alice, bob)).body).toMatchObject({ devices: 1, reachable: 1 });
  });

  it('counts only the named device with toDevice, and each device on its own', async () => {
    const phone = await signInDevice(t, bob, 'phone');
    const laptop = await deviceIdOf(t, bob);
    bobGoesQuiet();
    expect((await poll(t, phone)).status).toBe(200); // the phone is back, the laptop is not
    expect((await send(t, alice, bob)).body).toMatchObject({ devices: 2, reachable: 1 });
    expect((await send(t, alice, bob, { toDevice: phone.deviceId })).body).toMatchObject({ devices: 1, reachable: 1 });
    expect((await send(t, alice, bob, { toDevice: laptop })).body).toMatchObject({ devices: 1, reachable: 0 });
  });

  it('answers a retry (same idempotencyKey) with reachable too', async () => {
    const first = await send(t, alice, bob, { idempotencyKey: 'k-1' });
    const again = await send(t, alice, bob, { idempotencyKey: 'k-1' });
    expect(again.body).toEqual(first.body);
  });

  it('counts no device on a retry to a named device that has ended since, nor one of the sending user that is not the recipient', async () => {
    const phone = await signInDevice(t, bob, 'phone');
    expect((await poll(t, phone)).status).toBe(200); // seen: reachable
    const first = await send(t, alice, bob, { toDevice: phone.deviceId, idempotencyKey: 'k-2' });
    expect(first.body).toMatchObject({ devices: 1, reachable: 1 });
    expect((await t.http.post('/auth/logout').set(bearer(phone)).send({})).status).toBe(204);
    // The retry answers the first send again; only reachable is read anew, and the phone is gone.
    expect((await send(t, alice, bob, { toDevice: phone.deviceId, idempotencyKey: 'k-2' })).body).toMatchObject({ id: first.body.id, devices: 1, reachable: 0 });
    // A retry naming another user's live device (Alice's own): not a device of Bob's, so not counted.
    const alicePhone = await signInDevice(t, alice, 'phone');
    expect((await poll(t, alicePhone)).status).toBe(200); // seen, so only whose device it is keeps it out
    expect((await send(t, alice, bob, { toDevice: alicePhone.deviceId, idempotencyKey: 'k-2' })).body).toMatchObject({ id: first.body.id, devices: 1, reachable: 0 });
  });
});
