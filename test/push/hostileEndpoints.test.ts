import { createECDH } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { vapidKeysOf } from '../../app/config/secrets.js';
import { createDelivery, type WakeUp } from '../../app/push/deliver.js';
import { registerUser, bearer, type TestUser } from '../helpers/factories.js';
import type { TestApp } from '../helpers/app.js';
import { useTestApp, withUser } from '../helpers/perTest.js';
import { connectQuietly, deviceIdOf, send, signInDevice } from '../helpers/signaling.js';
import { EndlessReceiver, Receiver, TrickleReceiver, UserAgentKeys } from './receivers.js';

// Push endpoints that attack the server that pushes to them (docs/security.md, "One slow push endpoint
// stalled push for everyone" and "An endless push answer was read without end"): real hostile HTTP
// servers on 127.0.0.1, reached through the app's own push path.

const ecdh = createECDH('prime256v1');
ecdh.generateKeys();
const VAPID = vapidKeysOf(ecdh.getPrivateKey());
const PUSH_ENV = {
  VAPID_PRIVATE_KEY: VAPID.privateKey,
  VAPID_SUBJECT: 'mailto:ops@example.org',
  PUSH_ALLOW_HTTP: 'true',
  PUSH_ALLOW_PRIVATE: 'true',
  // One attacker account holds 20 devices, each with its own endpoint.
  DEVICES_MAX: '20',
  POLLS_PER_USER: '20',
};

/** A labelled series' value in GET /metrics, 0 when it has not been counted yet. */
async function series(t: TestApp, selector: string): Promise<number> {
  const line = (await t.http.get('/metrics')).text.split('\n').find((l) => l.startsWith(`${selector} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

const subscribe = (t: TestApp, user: { accessToken: string }, deviceId: string, endpoint: string) =>
  t.http.put(`/users/me/devices/${deviceId}/push`).set(bearer(user)).send(new UserAgentKeys().subscription(endpoint));

/** An attacker account with `devices` devices, every one subscribed to `origin`, and an accomplice connected to it who can wake them all. */
async function attacker(t: TestApp, devices: number, origin: string): Promise<{ account: TestUser; accomplice: TestUser }> {
  const [account, accomplice] = [await registerUser(t), await registerUser(t)];
  await connectQuietly(t, accomplice, account);
  const ids = [await deviceIdOf(t, account)];
  for (let i = 1; i < devices; i++) ids.push((await signInDevice(t, account, `device ${i}`)).deviceId);
  for (const [i, id] of ids.entries()) expect((await subscribe(t, account, id, `${origin}/push/${account.username}/${i}`)).status).toBe(200);
  return { account, accomplice };
}

describe('a push endpoint that trickles its answer', () => {
  const t = useTestApp({ env: { ...PUSH_ENV, PUSH_TIMEOUT_MS: '1000' } });
  const alice = withUser(t);
  const bob = withUser(t);
  let trickle: TrickleReceiver;
  beforeEach(async () => {
    trickle = await TrickleReceiver.start(100);
  });
  afterEach(() => trickle.close());

  it('is cut at PUSH_TIMEOUT_MS for the whole exchange, however often a byte arrives', async () => {
    await connectQuietly(t, alice, bob);
    await subscribe(t, bob, await deviceIdOf(t, bob), `${trickle.origin}/push/bob`);
    expect((await send(t, alice, bob)).status).toBe(202);
    // A byte every 100 ms never lets an idle timeout fire: only a total deadline ends this request.
    await trickle.until((r) => r.closed === 1);
    expect(trickle.requests).toBe(1);
    expect(await series(t, 'signalbox_push_attempts_total{kind="webpush",result="timeout"}')).toBe(1);
  });
});

describe('20 trickling attacker endpoints and a victim', () => {
  // A deadline longer than any test: the attacker's requests stay open, so the victim's wake-up can only
  // get through beside them, not after them.
  const t = useTestApp({ env: { ...PUSH_ENV, PUSH_TIMEOUT_MS: '120000', PUSH_COALESCE_MS: '100' } });
  const alice = withUser(t);
  const bob = withUser(t);
  let trickle: TrickleReceiver;
  let victim: Receiver;
  beforeEach(async () => {
    [trickle, victim] = [await TrickleReceiver.start(200), await Receiver.start()];
    await connectQuietly(t, alice, bob);
    await subscribe(t, bob, await deviceIdOf(t, bob), `${victim.origin}/push/bob`);
  });
  afterEach(async () => {
    await trickle.close();
    await victim.close();
  });

  it('one account, one origin: it holds PUSH_INFLIGHT_PER_ACCOUNT requests, and the victim is woken while they hang', async () => {
    const { account, accomplice } = await attacker(t, 20, trickle.origin);
    expect((await send(t, accomplice, account)).status).toBe(202);
    await trickle.until((r) => r.requests === t.config.pushInflightPerAccount);
    await expect(send(t, alice, bob)).resolves.toMatchObject({ status: 202 });
    await victim.count(1);
    // Every attacker request is still open and the rest of its wake-ups wait parked: the victim overtook them.
    expect(trickle.closed).toBe(0);
    expect(trickle.maxOpen).toBe(t.config.pushInflightPerAccount);
    expect(trickle.requests).toBe(t.config.pushInflightPerAccount);
    expect(await series(t, 'signalbox_push_parked')).toBe(20 - t.config.pushInflightPerAccount);
    expect(await series(t, 'signalbox_push_wakeups_total{kind="webpush",outcome="delivered"}')).toBe(1);
  });

  it('merges a wake-up for a device whose last one still waits into it, instead of queueing another', async () => {
    const { account, accomplice } = await attacker(t, 20, trickle.origin);
    const parked = t.config.pushInflightPerAccount;
    // Looks again every 10 ms; gives up (failing the test) after 1,000 looks rather than run on past it.
    const waitFor = async (test: () => Promise<boolean>) => {
      for (let i = 0; !(await test()); i++) {
        if (i === 1000) throw new Error('condition never held');
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    expect((await send(t, accomplice, account)).status).toBe(202);
    await waitFor(async () => (await series(t, 'signalbox_push_parked')) === 20 - parked);
    // Every device gets one more arrival (in the next coalescing window, or at once): the 16 parked
    // wake-ups absorb theirs; the 4 devices whose requests hang get a new wake-up each, parked too.
    expect((await send(t, accomplice, account)).status).toBe(202);
    await waitFor(async () => (await series(t, 'signalbox_push_parked')) === 20);
    expect(await series(t, 'signalbox_push_wakeups_total{kind="unknown",outcome="coalesced"}')).toBe(20 - parked);
    expect(trickle.requests).toBe(parked);
  });

  it('five accounts, one origin: it holds PUSH_INFLIGHT_PER_ORIGIN requests, and the victim is woken while they hang', async () => {
    const attackers = [];
    for (let i = 0; i < 5; i++) attackers.push(await attacker(t, 4, trickle.origin));
    for (const { account, accomplice } of attackers) expect((await send(t, accomplice, account)).status).toBe(202);
    await trickle.until((r) => r.requests === t.config.pushInflightPerOrigin);
    expect((await send(t, alice, bob)).status).toBe(202);
    await victim.count(1);
    expect(trickle.closed).toBe(0);
    expect(trickle.maxOpen).toBe(t.config.pushInflightPerOrigin);
    expect(trickle.requests).toBe(t.config.pushInflightPerOrigin);
    expect(await series(t, 'signalbox_push_parked')).toBe(20 - t.config.pushInflightPerOrigin);
  });
});

describe('a push endpoint whose answer never ends', () => {
  const t = useTestApp({ env: PUSH_ENV });
  const alice = withUser(t);
  const bob = withUser(t);
  let endless: EndlessReceiver;
  beforeEach(async () => {
    // It stops at 4 MiB, so that a server that reads without a cap still ends (and fails the test).
    endless = await EndlessReceiver.start(4 * 1024 * 1024);
  });
  afterEach(() => endless.close());

  it('is cut near 64 KiB: the server destroys the connection instead of reading on', async () => {
    await connectQuietly(t, alice, bob);
    await subscribe(t, bob, await deviceIdOf(t, bob), `${endless.origin}/push/bob`);
    expect((await send(t, alice, bob)).status).toBe(202);
    const [answer] = await endless.count(1);
    expect(answer!.cutBeforeEnd).toBe(true);
    expect(answer!.bytes).toBeGreaterThan(64 * 1024);
    // What was already on its way when the cut came: a few chunks, not megabytes.
    expect(answer!.bytes).toBeLessThan(128 * 1024);
    expect(await series(t, 'signalbox_push_attempts_total{kind="webpush",result="too_large"}')).toBe(1);
    expect(await series(t, 'signalbox_push_wakeups_total{kind="webpush",outcome="failed"}')).toBe(1);
  });
});

describe('Web Push wake-up size', () => {
  let receiver: Receiver;
  beforeEach(async () => {
    receiver = await Receiver.start();
  });
  afterEach(() => receiver.close());

  it('is one fixed size for every reason and count, and decrypts to the wake-up itself', async () => {
    const delivery = createDelivery({
      vapid: VAPID,
      vapidSubject: 'mailto:ops@example.org',
      ttlSeconds: 60,
      policy: { allowHttp: true, allowPrivate: true },
      timeoutMs: 10_000,
    });
    const ua = new UserAgentKeys();
    const target = { kind: 'webpush' as const, endpoint: `${receiver.origin}/push/x`, p256dh: ua.publicKey.toString('base64url'), auth: ua.auth.toString('base64url') };
    const wakes: WakeUp[] = [];
    for (const reason of ['signal', 'event'] as const) {
      for (const count of [1, 9, 10, 100, 12_345, 2 ** 31, Number.MAX_SAFE_INTEGER]) wakes.push({ type: 'wake', reason, count });
    }
    try {
      for (const wake of wakes) expect(await delivery.send(target, wake, false)).toMatchObject({ status: 201 });
    } finally {
      delivery.close();
    }
    const received = await receiver.count(wakes.length);
    expect(new Set(received.map((r) => r.body.length)).size).toBe(1);
    expect(received.map((r) => JSON.parse(ua.decrypt(r.body)) as unknown)).toEqual(wakes);
  });
});
