import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { generateDeviceKey, readPrivate, readPublicKey } from '../../client/src/crypto.js';
import { sealEnvelope } from '../../client/src/envelope.js';
import type { MailboxEntry, Store } from '../../app/store/types.js';
import { useBrowserWorld, type Person } from './helpers/browserWorld.js';
import type { BrowserDevice } from './helpers/sdkPage.js';
import { startServer, type RunningServer } from './helpers/server.js';

// End-to-end trust in real Chromium, the SDK loaded from the server's /sdk/signalbox.js: the server
// itself turns hostile through its store (it swaps the key it serves for Bob, re-sends a signal under a
// new id, re-labels one), and the SDK in the page must not follow it. Plus the calls that must fail
// fast: to a callee nobody can reach, and accept() after the caller gave up. Everything on 127.0.0.1.

/** Bounds for things that take well under a second on loopback; generous for a loaded CI machine. */
const SETTLE_MS = 10_000;
/** call() and accept() must settle well before the SDK's 30 s call timeout: that is the point. */
const FAST_MS = 5_000;

const world = useBrowserWorld();
const person = (prefix: string, on?: RunningServer) => world.person(prefix, on);

async function connectedPair(on: RunningServer = world.server): Promise<{ alice: Person; bob: Person }> {
  const alice = await person('alice', on);
  const bob = await person('bob', on);
  await alice.device.run('requestConnection', bob.username);
  await bob.device.run('acceptConnection', alice.username);
  return { alice, bob };
}

async function userId(store: Store, username: string): Promise<string> {
  return (await store.users.findByUsername(username))!.id;
}

/** The server puts `payload` in `to`'s mailbox as if `from` sent it: a new id, whatever type and session it likes. */
async function inject(store: Store, from: Person, to: Person, payload: string, type: 'custom' | 'offer' = 'custom', sessionId: string | null = null): Promise<string> {
  const now = Date.now();
  const signal: MailboxEntry = {
    id: randomUUID(),
    senderId: await userId(store, from.username),
    senderUsername: from.username,
    senderDeviceId: from.deviceId,
    type,
    payload,
    sessionId,
    createdAt: new Date(now),
    expiresAt: new Date(now + 300_000),
  };
  const result = await store.signals.send({ signal, toUserId: await userId(store, to.username), now: new Date(now), limits: { max: 500, perSender: 500 } });
  expect(result.outcome).toBe('stored');
  return signal.id;
}

/** The payload of the last POST /signaling/send this device made. */
const lastSentPayload = (device: BrowserDevice) => (JSON.parse(device.sent.at(-1)!.body) as { payload: string }).payload;

describe('a server that swaps the key it serves for Bob', () => {
  it('cannot make Alice encrypt or call to it, nor accept what it signs, until Alice accepts the change', async () => {
    const { alice, bob } = await connectedPair();
    await alice.device.run('trust', bob.username); // first use: Bob's real key is pinned
    const made = await generateDeviceKey(bob.username);
    await world.server.store.users.setPgpKey(await userId(world.server.store, bob.username), {
      fingerprint: made.fingerprint,
      algorithm: 'ed25519',
      createdAt: new Date(),
      expiresAt: null,
      publicKey: made.publicKey,
    });

    expect(await alice.device.run('trust', bob.username)).toMatchObject({ state: 'changed', fingerprint: made.fingerprint });
    const sendsBefore = alice.device.sent.length;
    expect(await alice.device.run('sendText', bob.username, 'for bob')).toEqual({ ok: false, code: 'key_changed' });
    expect(await alice.device.run('callOutcome2', bob.username, {})).toMatchObject({ ok: false, code: 'key_changed' });
    expect(alice.device.sent.length).toBe(sendsBefore); // nothing went out encrypted to Mallory's key

    // What Mallory's key signs is dropped; what Bob's real key signs still arrives.
    const forged = await sealEnvelope(
      { from: bob.username, fromDevice: bob.deviceId, to: alice.username, toDevice: null, type: 'custom', sessionId: null },
      'forged',
      await readPublicKey((await world.server.store.users.findByUsername(alice.username))!.pgp!.publicKey),
      await readPrivate(made.privateKey),
    );
    await inject(world.server.store, bob, alice, forged.armored);
    expect(await bob.device.run('sendText', alice.username, 'really bob')).toEqual({ ok: true });
    await alice.device.run('waitForSignal', 'really bob', SETTLE_MS);
    await alice.device.run('waitForError', 'key_changed', SETTLE_MS);
    expect((await alice.device.run<Array<{ payload: string }>>('signals')).map((s) => s.payload)).toEqual(['really bob']);

    // The app accepts: now it sends to the key it accepted.
    expect(await alice.device.run('acceptChange', bob.username)).toMatchObject({ state: 'unverified', fingerprint: made.fingerprint });
    expect(await alice.device.run('sendText', bob.username, 'after consent')).toEqual({ ok: true });
  });
});

describe('safety numbers in the browser', () => {
  it('are the same on both sides; a wrong one is refused with verification_failed, the right one verifies', async () => {
    const { alice, bob } = await connectedPair();
    const fromAlice = await alice.device.run<string>('safetyNumber', bob.username);
    const fromBob = await bob.device.run<string>('safetyNumber', alice.username);
    expect(fromAlice).toMatch(/^\d{5}( \d{5}){11}$/);
    expect(fromAlice).toBe(fromBob);
    const wrong = fromBob.replace(/\d$/, (d) => String((Number(d) + 1) % 10));
    expect(await alice.device.run('verify', bob.username, wrong)).toEqual({ ok: false, code: 'verification_failed' });
    expect(await alice.device.run('verify', bob.username, fromBob)).toEqual({ ok: true, state: 'verified' });
  });
});

describe('a server that re-sends or re-labels a signal', () => {
  it('never gets the copy to the app: a replay under a new id and a re-typed copy are dropped as bad_envelope', async () => {
    const { alice, bob } = await connectedPair();
    expect(await alice.device.run('sendText', bob.username, 'once')).toEqual({ ok: true });
    await bob.device.run('waitForSignal', 'once', SETTLE_MS);
    const payload = lastSentPayload(alice.device);
    await inject(world.server.store, alice, bob, payload); // the same, under a new id
    await inject(world.server.store, alice, bob, payload, 'offer', 'call-1'); // re-typed into a call's offer
    expect(await alice.device.run('sendText', bob.username, 'end')).toEqual({ ok: true });
    await bob.device.run('waitForSignal', 'end', SETTLE_MS);
    expect((await bob.device.run<Array<{ payload: string }>>('signals')).map((s) => s.payload)).toEqual(['once', 'end']);
    expect((await bob.device.run<string[]>('errors')).filter((e) => e.startsWith('bad_envelope:'))).toHaveLength(2);
  });
});

describe('calls that fail fast', () => {
  let quick: RunningServer;
  beforeAll(async () => {
    // A one-second presence window, so "not seen lately" takes a moment rather than a minute.
    quick = await startServer({ PRESENCE_WINDOW: '1' });
  });
  afterAll(async () => {
    await world.closeDevices();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the setup failed before creating it
    await quick?.close();
  });

  it('call() to a callee with no reachable device rejects unavailable at once', async () => {
    const { alice, bob } = await connectedPair(quick);
    await bob.device.run('stop'); // Bob's app is closed: no poll, no push subscription
    await new Promise((r) => setTimeout(r, 2_000));
    const outcome = await alice.device.run<{ ok: boolean; code: string; ms: number }>('callOutcome2', bob.username, {});
    expect(outcome).toMatchObject({ ok: false, code: 'unavailable' });
    expect(outcome.ms).toBeLessThan(FAST_MS);
  });

  it("accept() of a ringing call that the caller cancelled meanwhile rejects call_ended at once, and 'close' fires", async () => {
    const { alice, bob } = await connectedPair();
    // Bob's app is away while Alice calls and gives up; it comes back to the offer and the cancel in
    // one batch, and accepts the ring at once (as an app that auto-answers would).
    await bob.device.run('stop');
    await bob.device.run('autoAccept', {});
    await alice.device.run('startCall', bob.username, {});
    await offerSent(alice.device);
    await alice.device.run('cancelCall');
    expect(await alice.device.run('callOutcome')).toMatchObject({ ok: false, code: 'call_cancelled' });
    await bob.device.run('start');
    await bob.device.run('waitForAcceptOutcome', SETTLE_MS);
    const [outcome] = await bob.device.run<Array<{ ok: boolean; code?: string; ms: number }>>('acceptOutcomes');
    expect(outcome).toMatchObject({ ok: false, code: 'call_ended' });
    expect(outcome!.ms).toBeLessThan(FAST_MS);
    expect(await bob.device.run('rings')).toEqual([expect.objectContaining({ state: 'cancelled', closedAs: 'cancelled' })]);
  });
});

/** Resolves once `device` put a call offer on the wire (its POST /signaling/send left the page). */
async function offerSent(device: BrowserDevice): Promise<void> {
  const deadline = Date.now() + SETTLE_MS;
  while (!device.sent.some((s) => (JSON.parse(s.body) as { type: string }).type === 'offer')) {
    if (Date.now() > deadline) throw new Error('no offer was sent');
    await new Promise((r) => setTimeout(r, 20));
  }
}
