import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { useBrowserWorld, type Person } from './helpers/browserWorld.js';
import { startCoturn, type Coturn } from './helpers/coturn.js';
import { BrowserDevice, type CallInfo, type Ring } from './helpers/sdkPage.js';
import { startServer, type RunningServer } from './helpers/server.js';

// Calls through the SDK's call() in real Chromium: each user (and each device) its own browser context,
// the SDK loaded from the server's /sdk/signalbox.js, signalling through the real server's mailboxes,
// media relayed by a real coturn, all on 127.0.0.1.

/** Bounds for things that take well under a second on loopback; generous for a loaded CI machine. */
const RING_MS = 10_000;
const CONNECT_MS = 20_000;
const RELAY_ONLY = { iceTransportPolicy: 'relay' };

const world = useBrowserWorld({ coturn: true });
const person = (prefix: string, on?: RunningServer) => world.person(prefix, on);

/** Another device of `who`: signed in, with the account's private key copied over from the first device. */
async function secondDevice(who: Person): Promise<Person> {
  const device = await world.open();
  const key = await who.device.run<string>('exportKey');
  const { deviceId } = await device.run<{ deviceId: string }>('login', who.username, who.password, key);
  return { ...who, device, deviceId };
}

async function connect(a: Person, b: Person): Promise<void> {
  await a.device.run('requestConnection', b.username);
  await b.device.run('acceptConnection', a.username);
}

/** `caller` calls `callee.username` relay-only; `callee` (one device) answers the first ring. */
async function callAndAnswer(caller: Person, callee: Person): Promise<{ called: CallInfo; answered: CallInfo }> {
  const calling = caller.device.run<CallInfo>('call', callee.username, RELAY_ONLY);
  await callee.device.run('waitForRing', RING_MS);
  const answered = await callee.device.run<CallInfo>('accept', 0, RELAY_ONLY);
  return { called: await calling, answered };
}

/** Resolves once `device`'s side of the call has a remote description with other ICE credentials than `before`. */
function remoteCredentialsChange(device: BrowserDevice, before: CallInfo, timeout = CONNECT_MS): Promise<unknown> {
  return device.page.waitForFunction(
    ([sid, ufrag]) => (globalThis as unknown as { driver: { info(s: string): CallInfo } }).driver.info(sid).remoteIceUfrag !== ufrag,
    [before.sessionId, before.remoteIceUfrag] as const,
    { timeout },
  );
}

describe('a relay-only call from Alice to Bob', () => {
  let alice: Person;
  let bob: Person;
  let called: CallInfo;
  let answered: CallInfo;

  beforeAll(async () => {
    alice = await person('alice');
    bob = await person('bob');
    await connect(alice, bob);
    ({ called, answered } = await callAndAnswer(alice, bob));
  });

  it('resolves call() and accept() once connected, on one session, with the device that answered', async () => {
    expect(called).toMatchObject({ peer: bob.username, peerDevice: bob.deviceId, connectionState: 'connected', channelState: 'open' });
    expect(answered).toMatchObject({ peer: alice.username, peerDevice: alice.deviceId, connectionState: 'connected', channelState: 'open' });
    expect(answered.sessionId).toBe(called.sessionId);
  });

  it('carries a message each way over the data channel', async () => {
    await alice.device.run('send', called.sessionId, 'hello bob');
    await bob.device.run('waitForMessage', answered.sessionId, 'hello bob', CONNECT_MS);
    await bob.device.run('send', answered.sessionId, 'hello alice');
    await alice.device.run('waitForMessage', called.sessionId, 'hello alice', CONNECT_MS);
  });

  it('connects through relay candidates on 127.0.0.1 (getStats: the succeeded pair is relay on both sides)', async () => {
    for (const [who, info] of [
      [alice, called],
      [bob, answered],
    ] as const) {
      const pair = await who.device.run<{ local: { type: string; address: string }; remote: { type: string; address: string } }>('selectedPair', info.sessionId);
      expect(pair.local).toMatchObject({ type: 'relay', address: '127.0.0.1' });
      expect(pair.remote).toMatchObject({ type: 'relay', address: '127.0.0.1' });
    }
  });

  it('puts only armored OpenPGP messages on the wire: no SDP, no candidate, nothing readable', async () => {
    const bodies = [...alice.device.sent, ...bob.device.sent].map((s) => JSON.parse(s.body) as { type: string; payload: string; sessionId?: string });
    // The offer, the answer and at least one candidate each way went through POST /signaling/send.
    expect(new Set(bodies.map((b) => b.type))).toEqual(new Set(['offer', 'answer', 'ice', 'custom']));
    for (const body of bodies) {
      expect(body.payload).toMatch(/^-----BEGIN PGP MESSAGE-----\n[\s\S]+-----END PGP MESSAGE-----\n?$/);
    }
    const wire = [...alice.device.sent, ...bob.device.sent].map((s) => s.body).join('\n');
    // (Each of these has a character base64 never uses, so an armored message cannot contain it by chance.)
    for (const readable of ['v=0', 'candidate:', 'a=ice-ufrag', 'a=fingerprint', '127.0.0.1', 'signalbox.call']) {
      expect(wire).not.toContain(readable);
    }
  });

  // Last in this group: it ends the call.
  it('ends the call on both sides when one hangs up (bye)', async () => {
    await alice.device.run('hangup', called.sessionId);
    await bob.device.run('waitForClose', answered.sessionId, CONNECT_MS);
    expect((await bob.device.run<CallInfo>('info', answered.sessionId)).closes).toEqual([{ reason: 'hangup', by: 'remote' }]);
    expect((await alice.device.run<CallInfo>('info', called.sessionId)).closes).toEqual([{ reason: 'hangup', by: 'local' }]);
  });
});

describe('a call to Bob on two devices', () => {
  it('rings both; the first to accept gets the call, the other stops ringing as answered elsewhere', async () => {
    const alice = await person('alice');
    const bob1 = await person('bob');
    const bob2 = await secondDevice(bob1);
    await connect(alice, bob1);
    const calling = alice.device.run<CallInfo>('call', bob1.username, RELAY_ONLY);
    await Promise.all([bob1.device.run('waitForRing', RING_MS), bob2.device.run('waitForRing', RING_MS)]);
    const [ring1] = await bob1.device.run<Ring[]>('rings');
    const [ring2] = await bob2.device.run<Ring[]>('rings');
    expect(ring1!.sessionId).toBe(ring2!.sessionId);
    expect(ring1!.fromDevice).toBe(alice.deviceId);

    const answered = await bob2.device.run<CallInfo>('accept', 0, RELAY_ONLY);
    const called = await calling;
    expect(called.peerDevice).toBe(bob2.deviceId);
    await bob1.device.run('waitForRingEnd', 0, RING_MS);
    expect((await bob1.device.run<Ring[]>('rings'))[0]).toMatchObject({ state: 'answered-elsewhere', closedAs: 'answered-elsewhere' });

    await alice.device.run('send', called.sessionId, 'to the second device');
    await bob2.device.run('waitForMessage', answered.sessionId, 'to the second device', CONNECT_MS);
  });
});

describe('a call that two devices of Bob accept at the same moment', () => {
  it('connects exactly one of them; the other accept() rejects with call_answered_elsewhere', async () => {
    const alice = await person('alice');
    const bob1 = await person('bob');
    const bob2 = await secondDevice(bob1);
    await connect(alice, bob1);
    const calling = alice.device.run<CallInfo>('call', bob1.username, RELAY_ONLY);
    await Promise.all([bob1.device.run('waitForRing', RING_MS), bob2.device.run('waitForRing', RING_MS)]);
    type Outcome = { ok: boolean; info?: CallInfo; code?: string };
    const outcomes = await Promise.all([bob1.device.run<Outcome>('acceptOutcome', 0, RELAY_ONLY), bob2.device.run<Outcome>('acceptOutcome', 0, RELAY_ONLY)]);
    const called = await calling;
    const winner = outcomes.findIndex((o) => o.ok);
    expect(outcomes.map((o) => o.ok).sort()).toEqual([false, true]);
    expect(outcomes[1 - winner]).toMatchObject({ ok: false, code: 'call_answered_elsewhere' });
    expect(called.peerDevice).toBe([bob1, bob2][winner]!.deviceId);
  });
});

describe('a call through an ICE restart', () => {
  it('comes back to connected with new ICE credentials, and the data channel still carries data both ways', async () => {
    const alice = await person('alice');
    const bob = await person('bob');
    await connect(alice, bob);
    const { called, answered } = await callAndAnswer(alice, bob);

    // What a network change triggers in the SDK (ICE failed/disconnected), done directly: the new offer
    // and candidates go over the same mailbox and session.
    await alice.device.run('restartIce', called.sessionId);
    // Both sides take new ICE credentials from the other: Bob from Alice's new offer, Alice from Bob's answer.
    await Promise.all([remoteCredentialsChange(bob.device, answered), remoteCredentialsChange(alice.device, called)]);
    await alice.device.run('waitForState', called.sessionId, 'connected', CONNECT_MS);
    await bob.device.run('waitForState', answered.sessionId, 'connected', CONNECT_MS);
    const after = await alice.device.run<CallInfo>('info', called.sessionId);

    await alice.device.run('send', called.sessionId, 'after the restart');
    await bob.device.run('waitForMessage', answered.sessionId, 'after the restart', CONNECT_MS);
    await bob.device.run('send', answered.sessionId, 'and back');
    await alice.device.run('waitForMessage', called.sessionId, 'and back', CONNECT_MS);
    expect(after.closes).toEqual([]);
  });
});

describe('two users calling each other at once (glare)', () => {
  it('ends in one call that both call() promises resolve with', async () => {
    const alice = await person('alice');
    const bob = await person('bob');
    await connect(alice, bob);
    await Promise.all([alice.device.run('startCall', bob.username, RELAY_ONLY), bob.device.run('startCall', alice.username, RELAY_ONLY)]);
    type Outcome = { ok: boolean; info?: CallInfo; code?: string };
    const [a, b] = await Promise.all([alice.device.run<Outcome>('callOutcome'), bob.device.run<Outcome>('callOutcome')]);
    expect(a).toMatchObject({ ok: true, info: { connectionState: 'connected' } });
    expect(b).toMatchObject({ ok: true, info: { connectionState: 'connected' } });
    expect(a.info!.sessionId).toBe(b.info!.sessionId);
    await alice.device.run('send', a.info!.sessionId, 'one call');
    await bob.device.run('waitForMessage', b.info!.sessionId, 'one call', CONNECT_MS);
    // It was a glare: both sent an offer. Neither side was asked to answer: the SDK settled it.
    const offers = (d: BrowserDevice) => d.sent.filter((s) => (JSON.parse(s.body) as { type: string }).type === 'offer').length;
    expect([offers(alice.device), offers(bob.device)]).toEqual([1, 1]);
    expect(await alice.device.run<Ring[]>('rings')).toEqual([]);
    expect(await bob.device.run<Ring[]>('rings')).toEqual([]);
  });
});

describe('a rejected call', () => {
  it("stops every device of the callee ringing and rejects the caller's call() with call_rejected", async () => {
    const alice = await person('alice');
    const bob1 = await person('bob');
    const bob2 = await secondDevice(bob1);
    await connect(alice, bob1);
    await alice.device.run('startCall', bob1.username, RELAY_ONLY);
    await Promise.all([bob1.device.run('waitForRing', RING_MS), bob2.device.run('waitForRing', RING_MS)]);
    await bob1.device.run('reject', 0);
    await bob2.device.run('waitForRingEnd', 0, RING_MS);
    expect((await bob2.device.run<Ring[]>('rings'))[0]).toMatchObject({ state: 'rejected' });
    expect(await alice.device.run('callOutcome')).toMatchObject({ ok: false, code: 'call_rejected' });
  });
});

describe('a call the caller gives up on', () => {
  it('stops every device of the callee ringing as cancelled and rejects call() with call_cancelled', async () => {
    const alice = await person('alice');
    const bob1 = await person('bob');
    const bob2 = await secondDevice(bob1);
    await connect(alice, bob1);
    await alice.device.run('startCall', bob1.username, RELAY_ONLY);
    await Promise.all([bob1.device.run('waitForRing', RING_MS), bob2.device.run('waitForRing', RING_MS)]);
    await alice.device.run('cancelCall');
    await Promise.all([bob1.device.run('waitForRingEnd', 0, RING_MS), bob2.device.run('waitForRingEnd', 0, RING_MS)]);
    expect((await bob1.device.run<Ring[]>('rings'))[0]).toMatchObject({ state: 'cancelled', closedAs: 'cancelled' });
    expect((await bob2.device.run<Ring[]>('rings'))[0]).toMatchObject({ state: 'cancelled', closedAs: 'cancelled' });
    expect(await alice.device.run('callOutcome')).toMatchObject({ ok: false, code: 'call_cancelled' });
  });
});

describe('a call whose relay goes away and comes back (a network change)', () => {
  let ownCoturn: Coturn;
  let ownServer: RunningServer;

  beforeAll(async () => {
    ownCoturn = await startCoturn();
    ownServer = await startServer({ TURN_URLS: ownCoturn.url, TURN_SECRET: ownCoturn.secret });
  });

  afterAll(async () => {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the setup failed before creating it
    await ownServer?.close();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the setup failed before creating it
    await ownCoturn?.stop();
  });

  it('restarts ICE by itself over the mailbox and carries data again once the TURN server is back', async () => {
    const alice = await person('alice', ownServer);
    const bob = await person('bob', ownServer);
    await connect(alice, bob);
    const { called, answered } = await callAndAnswer(alice, bob);

    // Every relay allocation dies with coturn; the same coturn (port, secret) comes back a moment later,
    // as a network does after a change. Nobody calls restartIce: the SDK sees ICE fail and restarts it.
    await ownCoturn.stop();
    await alice.device.page.waitForFunction(
      (sid) => ['disconnected', 'failed'].includes((globalThis as unknown as { driver: { info(s: string): CallInfo } }).driver.info(sid).iceConnectionState),
      called.sessionId,
      { timeout: CONNECT_MS },
    );
    ownCoturn = await startCoturn({ port: ownCoturn.port, secret: ownCoturn.secret });
    // Up to RECONNECT_GIVE_UP_MS (30 s) of trying: the restart must land within that.
    await remoteCredentialsChange(bob.device, answered, 40_000);
    await alice.device.run('waitForState', called.sessionId, 'connected', CONNECT_MS);
    await alice.device.run('send', called.sessionId, 'still here');
    await bob.device.run('waitForMessage', answered.sessionId, 'still here', CONNECT_MS);
    expect((await alice.device.run<CallInfo>('info', called.sessionId)).closes).toEqual([]);
  }, 90_000);
});
