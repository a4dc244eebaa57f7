import { createECDH } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { vapidKeysOf } from '../../app/config/secrets.js';
import { SignalboxError } from '../../client/src/index.js';
import { useSdkHarness } from '../sdk/harness.js';
import { Receiver, UserAgentKeys } from './receivers.js';

// The SDK's sb.push against a real server and a real push receiver on loopback.
const ecdh = createECDH('prime256v1');
ecdh.generateKeys();
const VAPID = vapidKeysOf(ecdh.getPrivateKey());
const h = useSdkHarness({ env: { VAPID_PRIVATE_KEY: VAPID.privateKey, PUSH_ALLOW_HTTP: 'true', PUSH_ALLOW_PRIVATE: 'true' } });

let receiver: Receiver;
beforeEach(async () => {
  receiver = await Receiver.start();
});
afterEach(() => receiver.close());

describe('sb.push', () => {
  it('reads the VAPID key, subscribes a browser PushSubscription, and the device is woken', async () => {
    const [alice, bob] = [await h.user('alice'), await h.user('bob')];
    await h.connect(alice, bob);
    expect(await bob.push.vapidPublicKey()).toBe(VAPID.publicKey);
    const ua = new UserAgentKeys();
    const { kind: _kind, ...json } = ua.subscription(`${receiver.origin}/push/bob`);
    // What a browser hands over: an object with toJSON(), without our `kind`.
    const info = await bob.push.subscribe({ toJSON: () => json });
    expect(info).toEqual({ kind: 'webpush', origin: receiver.origin, createdAt: expect.any(String) });
    expect(await bob.push.status()).toEqual(info);
    await alice.send(bob.user!.username, 'custom', 'hello');
    const [req] = await receiver.count(1);
    expect(JSON.parse(ua.decrypt(req!.body))).toEqual({ type: 'wake', reason: 'signal', count: expect.any(Number) });
  });

  it('subscribes a gateway and unsubscribes', async () => {
    const bob = await h.user('bob');
    const info = await bob.push.subscribe({ kind: 'gateway', url: `${receiver.origin}/_matrix/push/v1/notify`, pushkey: 'fcm-token', appId: 'org.example.android' });
    expect(info.kind).toBe('gateway');
    await bob.push.unsubscribe();
    expect(await bob.push.status()).toBeNull();
  });

  it('rejects a bad subscription with the server error', async () => {
    const bob = await h.user('bob');
    const err = await bob.push.subscribe({ endpoint: 'ftp://example.org/x', keys: { p256dh: 'x', auth: 'y' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SignalboxError);
    expect((err as SignalboxError).code).toBe('validation_failed');
  });
});
