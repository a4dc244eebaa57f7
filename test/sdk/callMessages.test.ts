import { describe, expect, it } from '@jest/globals';
import { Calls, type CallsHost } from '../../client/src/calls/calls.js';
import type { IncomingCall } from '../../client/src/calls/incoming.js';
import type { PeerConnectionConstructor } from '../../client/src/calls/rtc.js';
import { makeEnvelope, type Envelope } from '../../client/src/envelope.js';
import type { SignalboxError } from '../../client/src/errors.js';
import type { ReceivedSignal } from '../../client/src/events.js';
import type { SignalType } from '../../client/src/types.js';

// docs/protocol.md "Calls": a body marked as a call message ("p":"signalbox.call/1") that this version
// cannot act on (malformed, unknown kind, wrong signal type, no session) is dropped and reported as
// bad_call_message; it is never handed to the app's 'signal' handlers as if it were the app's own.
// The calls module is driven through its inbox tap, as the inbox does after the envelope checks.

function setup() {
  const reported: SignalboxError[] = [];
  const host: CallsHost = {
    me: () => ({ username: 'bob', deviceId: 'dev-b1' }),
    send: async () => ({ id: 'x', expiresAt: '', devices: 1, reachable: 1 }),
    iceServers: async () => ({ iceServers: [], ttl: 3600 }),
    ring: () => true,
    report: (e) => void reported.push(e),
    peerConnection: null,
  };
  return { calls: new Calls(host), reported };
}

function delivered(type: SignalType, body: string, sessionId: string | null = 'abc'): [ReceivedSignal, Envelope] {
  const envelope = makeEnvelope({ from: 'alice', fromDevice: 'dev-a1', to: 'bob', toDevice: null, type, sessionId }, body);
  return [{ id: 'sig-1', from: 'alice', fromDevice: 'dev-a1', type, payload: body, sessionId, createdAt: new Date().toISOString() }, envelope];
}

const P = 'signalbox.call/1';

describe('call messages a receiver must drop', () => {
  it.each([
    ['an offer without sdp', 'offer', { p: P, kind: 'offer' }],
    ['an unknown kind', 'custom', { p: P, kind: 'ring' }],
    ['an answer sent as an offer signal', 'offer', { p: P, kind: 'answer', sdp: 'v=0' }],
    ['a bye with an unknown reason', 'bye', { p: P, kind: 'bye', reason: 'busy' }],
    ['an ice message without a candidate', 'ice', { p: P, kind: 'ice' }],
  ] as const)('%s: dropped and reported bad_call_message', async (_what, type, body) => {
    const { calls, reported } = setup();
    const [signal, envelope] = delivered(type, JSON.stringify(body));
    expect(await calls.tap(signal, envelope)).toBe(true);
    expect(reported.map((e) => e.code)).toEqual(['bad_call_message']);
  });

  it('a well-formed call message without a sessionId: dropped and reported', async () => {
    const { calls, reported } = setup();
    const [signal, envelope] = delivered('bye', JSON.stringify({ p: P, kind: 'bye', reason: 'hangup' }), null);
    expect(await calls.tap(signal, envelope)).toBe(true);
    expect(reported.map((e) => e.code)).toEqual(['bad_call_message']);
  });

  it("the app's own signals (no call marker) are left to the app", async () => {
    const { calls, reported } = setup();
    for (const body of ['hello', '{"kind":"offer"}', JSON.stringify({ p: 'my-app/1', kind: 'offer', sdp: 'v=0' })]) {
      const [signal, envelope] = delivered('offer', body);
      expect(await calls.tap(signal, envelope)).toBe(false);
    }
    expect(reported).toEqual([]);
  });

  it("a late bye of a session this device never saw is taken quietly (not the app's, nothing to report)", async () => {
    const { calls, reported } = setup();
    const [signal, envelope] = delivered('bye', JSON.stringify({ p: P, kind: 'bye', reason: 'hangup' }));
    expect(await calls.tap(signal, envelope)).toBe(true);
    expect(reported).toEqual([]);
  });
});

describe('a ringing call listens to the calling device only', () => {
  /** Bob's device with a call from alice's dev-a1 ringing (the RTCPeerConnection is only made on accept). */
  async function ringing() {
    const rung: IncomingCall[] = [];
    const reported: SignalboxError[] = [];
    const host: CallsHost = {
      me: () => ({ username: 'bob', deviceId: 'dev-b1' }),
      send: async () => ({ id: 'x', expiresAt: '', devices: 1, reachable: 1 }),
      iceServers: async () => ({ iceServers: [], ttl: 3600 }),
      ring: (incoming) => (rung.push(incoming), true),
      report: (e) => void reported.push(e),
      peerConnection: function NeverBuilt() {} as unknown as PeerConnectionConstructor, // a bye before any call: nothing connects
    };
    const calls = new Calls(host);
    const [signal, envelope] = delivered('offer', JSON.stringify({ p: P, kind: 'offer', sdp: 'v=0' }));
    expect(await calls.tap(signal, envelope)).toBe(true);
    expect(rung).toHaveLength(1);
    return { calls, incoming: rung[0]!, reported };
  }

  function fromDevice(device: string, type: SignalType, body: object): [ReceivedSignal, Envelope] {
    const envelope = makeEnvelope({ from: 'alice', fromDevice: device, to: 'bob', toDevice: null, type, sessionId: 'abc' }, JSON.stringify(body));
    return [
      { id: `sig-${device}-${type}`, from: 'alice', fromDevice: device, type, payload: envelope.body, sessionId: 'abc', createdAt: new Date().toISOString() },
      envelope,
    ];
  }

  it("a bye from another device of the caller's account does not stop it; the calling device's does", async () => {
    const { calls, incoming } = await ringing();
    expect(await calls.tap(...fromDevice('dev-a2', 'bye', { p: P, kind: 'bye', reason: 'cancelled' }))).toBe(true);
    expect(incoming.state).toBe('ringing');
    expect(await calls.tap(...fromDevice('dev-a1', 'bye', { p: P, kind: 'bye', reason: 'cancelled' }))).toBe(true);
    expect(incoming.state).toBe('cancelled');
  });

  it("candidates from another device of the caller's account are not kept for the answer", async () => {
    const { calls, incoming } = await ringing();
    const candidate = (port: number) => ({ candidate: `candidate:1 1 udp 2122260223 127.0.0.1 ${port} typ host`, sdpMid: '0', sdpMLineIndex: 0 });
    await calls.tap(...fromDevice('dev-a2', 'ice', { p: P, kind: 'ice', candidate: candidate(50001) }));
    await calls.tap(...fromDevice('dev-a1', 'ice', { p: P, kind: 'ice', candidate: candidate(50000) }));
    expect(incoming.takeCandidates().map((c) => c.candidate)).toEqual([candidate(50000).candidate]);
    incoming.reject();
  });
});
