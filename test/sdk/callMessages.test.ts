import { describe, expect, it } from '@jest/globals';
import { Calls, type CallsHost } from '../../client/src/calls/calls.js';
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

  it('a late bye of a session this device never saw is taken quietly (not the app\'s, nothing to report)', async () => {
    const { calls, reported } = setup();
    const [signal, envelope] = delivered('bye', JSON.stringify({ p: P, kind: 'bye', reason: 'hangup' }));
    expect(await calls.tap(signal, envelope)).toBe(true);
    expect(reported).toEqual([]);
  });
});
