/**
 * The protocol's test vectors (docs/protocol-vectors/), everything in them that is not random: which
 * keys, which envelopes, which outer signals and what a receiver must make of each. OpenPGP messages are
 * randomised (session keys, signature salts), so the generator (scripts/gen-protocol-vectors.ts) seals
 * each plaintext once and commits the result; the test (test/sdk/protocolVectors.test.ts) rebuilds this
 * spec from the committed keys and compares, so a committed vector cannot drift from what is asserted.
 */
import { createHash } from 'node:crypto';
import { encodeEnvelope, type Envelope } from '../../client/src/envelope.js';
import { encodeMessage, PROTOCOL, type CallMessage } from '../../client/src/calls/protocol.js';
import { PROTOCOL_VERSION } from '../../client/src/protocolVersion.js';

export { PROTOCOL_VERSION };

/** The fixed keys: armored private and public halves and the fingerprint (upper-case hex). */
export interface VectorKey {
  username: string;
  fingerprint: string;
  publicKey: string;
  privateKey: string;
}

/** keys.json: the names used by every other file. `alice-changed` is a second key of alice (a key change). */
export const KEY_NAMES = ['alice', 'alice-changed', 'bob', 'carol'] as const;
export type KeyName = (typeof KEY_NAMES)[number];
export type VectorKeys = Record<KeyName, VectorKey>;

/** What the receiver must do with a signal: hand it on, or drop it and report this code. */
export type Outcome = 'accept' | 'bad_envelope' | 'bad_signature' | 'unsigned' | 'not_encrypted' | 'undecryptable' | 'key_changed';

/** The signal as `GET /signaling/poll` delivers it (docs/api.md); `payload` is filled in by the generator. */
export interface OuterSignal {
  id: string;
  from: string;
  fromDevice: string;
  type: string;
  sessionId: string | null;
  createdAt: string;
  expiresAt: string;
  payload?: string;
}

/** How the payload is made from the plaintext. */
export interface Sealing {
  /** `sealed`: signed with `signedBy`, encrypted to `encryptedTo` (the normal form); `unsigned`: encrypted only; `plain`: the plaintext itself, no OpenPGP. */
  form: 'sealed' | 'unsigned' | 'plain';
  encryptedTo: KeyName | null;
  signedBy: KeyName | null;
}

export interface EnvelopeCase {
  name: string;
  /** What makes this case what it is (for people). */
  why: string;
  expect: Outcome;
  /** Which field the receiver must name when it drops a bad_envelope (the SDK's `details.fields`). */
  fields?: string[];
  receiver: { username: string; deviceId: string; key: KeyName };
  /** The sender's key the receiver has pinned, and the one the server serves for the sender now. */
  sender: { pinnedKey: KeyName; servedKey: KeyName };
  /** Entries already in the receiver's nonce log. */
  seenNonces: Array<{ nonce: string; signalId: string; ts: number }>;
  signal: OuterSignal;
  sealing: Sealing;
  /** The signed plaintext: the envelope's JSON text (or another text, for the malformed cases). */
  plaintext: string;
}

/** The receiver's clock in every envelope case, ms since the epoch (2027-01-15T08:00:00Z). */
export const NOW = 1_800_000_000_000;
export const SIGNAL_TTL_MS = 300_000;
export const CLOCK_SKEW_MS = 60_000;

/** 32 hex digits derived from `label`: a fixed nonce per vector, so the plaintexts are fixed too. */
export function fixedNonce(label: string): string {
  return createHash('sha256').update(`signalbox-vector-nonce:${label}`).digest('hex').slice(0, 32);
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The outer signal and the envelope that agrees with it, for a custom signal alice/dev-a1 → bob. */
function baseline(name: string, over: { toDevice?: string | null; ts?: number; body?: string } = {}) {
  const ts = over.ts ?? NOW - 1_000;
  const envelope: Envelope = {
    v: 1,
    from: 'alice',
    fromDevice: 'dev-a1',
    to: 'bob',
    toDevice: over.toDevice === undefined ? null : over.toDevice,
    type: 'custom',
    sessionId: 's-1',
    ts,
    nonce: fixedNonce(name),
    body: over.body ?? 'hello',
  };
  const signal: OuterSignal = {
    id: `sig-${name}`,
    from: 'alice',
    fromDevice: 'dev-a1',
    type: 'custom',
    sessionId: 's-1',
    createdAt: iso(ts),
    expiresAt: iso(ts + SIGNAL_TTL_MS),
  };
  return { envelope, signal };
}

const BOB_B1 = { username: 'bob', deviceId: 'dev-b1', key: 'bob' as const };
const SEALED: Sealing = { form: 'sealed', encryptedTo: 'bob', signedBy: 'alice' };
const TRUSTED = { pinnedKey: 'alice' as const, servedKey: 'alice' as const };

function envelopeCase(
  name: string,
  why: string,
  expect: Outcome,
  // eslint-disable-next-line @typescript-eslint/no-invalid-void-type -- most cases change nothing and pass \`() => {}\`, which returns void
  edit: (e: Envelope, s: OuterSignal) => { envelope?: Envelope; plaintext?: string; signal?: OuterSignal } | void,
  extra: Partial<Pick<EnvelopeCase, 'sealing' | 'sender' | 'seenNonces' | 'fields'>> & { toDevice?: string | null; ts?: number } = {},
): EnvelopeCase {
  const { envelope, signal } = baseline(name, {
    ...(extra.toDevice !== undefined ? { toDevice: extra.toDevice } : {}),
    ...(extra.ts !== undefined ? { ts: extra.ts } : {}),
  });
  const changed = edit(envelope, signal) ?? {};
  const finalEnvelope = changed.envelope ?? envelope;
  return {
    name,
    why,
    expect,
    ...(extra.fields ? { fields: extra.fields } : {}),
    receiver: BOB_B1,
    sender: extra.sender ?? TRUSTED,
    seenNonces: extra.seenNonces ?? [],
    signal: changed.signal ?? signal,
    sealing: extra.sealing ?? SEALED,
    plaintext: changed.plaintext ?? encodeEnvelope(finalEnvelope),
  };
}

/** Every envelope case: the valid ones, then each way a receiver must refuse one (docs/protocol.md §2). */
export function envelopeCases(): EnvelopeCase[] {
  const oldest = NOW - SIGNAL_TTL_MS - CLOCK_SKEW_MS;
  return [
    envelopeCase('valid-every-device', 'a custom signal to every device of bob (toDevice null)', 'accept', () => {}),
    envelopeCase('valid-this-device', 'addressed to this device only', 'accept', () => {}, { toDevice: 'dev-b1' }),
    envelopeCase('valid-oldest', `ts exactly now − TTL − 60 s: the oldest accepted`, 'accept', () => {}, { ts: oldest }),
    envelopeCase('valid-skew', 'ts exactly now + 60 s: the latest accepted', 'accept', () => {}, { ts: NOW + CLOCK_SKEW_MS }),
    envelopeCase('valid-redelivery', 'its nonce was accepted before under this same signal id (the mailbox delivers at least once)', 'accept', () => {}, {
      seenNonces: [{ nonce: fixedNonce('valid-redelivery'), signalId: 'sig-valid-redelivery', ts: NOW - 1_000 }],
    }),
    envelopeCase('valid-unicode-body', 'a body with non-ASCII text and characters JSON escapes', 'accept', (e) => {
      e.body = 'grüß dich "bob"\n👋';
    }),
    envelopeCase('wrong-from', "the signed from is another account than the signal's", 'bad_envelope', (e) => void (e.from = 'carol'), { fields: ['from'] }),
    envelopeCase('wrong-from-device', "the signed fromDevice is another device than the signal's", 'bad_envelope', (e) => void (e.fromDevice = 'dev-a2'), {
      fields: ['fromDevice'],
    }),
    envelopeCase('wrong-type', 'the signal says custom, the envelope offer (a relabelled signal)', 'bad_envelope', (e) => void (e.type = 'offer'), { fields: ['type'] }),
    envelopeCase('wrong-session', "the signal's sessionId is another than the signed one", 'bad_envelope', (_e, s) => ({ signal: { ...s, sessionId: 's-2' } }), {
      fields: ['sessionId'],
    }),
    envelopeCase('wrong-session-null', 'the signal has no sessionId, the envelope has one', 'bad_envelope', (_e, s) => ({ signal: { ...s, sessionId: null } }), {
      fields: ['sessionId'],
    }),
    envelopeCase('other-recipient', 'addressed to carol, delivered (and encrypted) to bob', 'bad_envelope', (e) => void (e.to = 'carol'), { fields: ['to'] }),
    envelopeCase('other-device', 'addressed to dev-b2, delivered to dev-b1', 'bad_envelope', () => {}, { toDevice: 'dev-b2', fields: ['toDevice'] }),
    envelopeCase('stale', 'ts 1 ms before now − TTL − 60 s (held back or replayed late)', 'bad_envelope', () => {}, { ts: oldest - 1, fields: ['ts'] }),
    envelopeCase('future', 'ts 1 ms past now + 60 s', 'bad_envelope', () => {}, { ts: NOW + CLOCK_SKEW_MS + 1, fields: ['ts'] }),
    envelopeCase('repeated-nonce', 'its nonce was accepted before under another signal id (a replay under a new id)', 'bad_envelope', () => {}, {
      seenNonces: [{ nonce: fixedNonce('repeated-nonce'), signalId: 'sig-earlier', ts: NOW - 2_000 }],
      fields: ['nonce'],
    }),
    envelopeCase('not-json', 'the signed plaintext is not JSON', 'bad_envelope', () => ({ plaintext: 'hello' })),
    envelopeCase('wrong-version', 'v is 2', 'bad_envelope', (e) => ({ plaintext: encodeEnvelope(e).replace('{"v":1,', '{"v":2,') })),
    envelopeCase('missing-field', 'no nonce', 'bad_envelope', (e) => {
      const { nonce: _nonce, ...rest } = e;
      return { plaintext: JSON.stringify(rest) };
    }),
    envelopeCase('bad-nonce', 'a nonce in upper-case hex', 'bad_envelope', (e) => void (e.nonce = e.nonce.toUpperCase())),
    envelopeCase('fractional-ts', 'ts is not an integer', 'bad_envelope', (e) => ({ plaintext: encodeEnvelope(e).replace(`"ts":${e.ts},`, `"ts":${e.ts}.5,`) })),
    envelopeCase('bad-signature', "signed by carol's key, not by alice's (and the server serves alice's)", 'bad_signature', () => {}, {
      sealing: { form: 'sealed', encryptedTo: 'bob', signedBy: 'carol' },
    }),
    envelopeCase('unsigned', 'encrypted to bob, no signature', 'unsigned', () => {}, { sealing: { form: 'unsigned', encryptedTo: 'bob', signedBy: null } }),
    envelopeCase('not-encrypted', 'the envelope JSON itself as the payload, no OpenPGP message', 'not_encrypted', () => {}, {
      sealing: { form: 'plain', encryptedTo: null, signedBy: null },
    }),
    envelopeCase('not-to-recipient', "signed by alice, encrypted to carol's key", 'undecryptable', () => {}, {
      sealing: { form: 'sealed', encryptedTo: 'carol', signedBy: 'alice' },
    }),
    envelopeCase('changed-key', "signed by alice's new key; bob pinned her old one and the server serves the new one", 'key_changed', () => {}, {
      sealing: { form: 'sealed', encryptedTo: 'bob', signedBy: 'alice-changed' },
      sender: { pinnedKey: 'alice', servedKey: 'alice-changed' },
    }),
  ];
}

/** One step of the call exchange (docs/protocol.md §7): the send, and the device that checks it. */
export interface CallStep {
  step: string;
  /** The call message (the envelope's body, as JSON). */
  message: Record<string, unknown>;
  /** The send: from whom, to which account and device (null: every device of `to`). */
  send: { from: string; fromDevice: string; to: string; toDevice: string | null; type: string; sessionId: string };
  /** One device that receives it and must accept it. */
  receiver: { username: string; deviceId: string; key: KeyName };
  signal: OuterSignal;
  sealing: Sealing;
  plaintext: string;
  /** The receiver's clock when it opens it. */
  now: number;
}

export const CALL_SESSION = fixedNonce('call-session');
const OFFER_SDP =
  'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\na=msid-semantic: WMS\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:Ab1c\r\na=ice-pwd:0123456789abcdefghijklmn\r\na=ice-options:trickle\r\na=fingerprint:sha-256 3C:4A:AA:2B:5E:64:53:87:27:3A:2A:1D:72:4B:04:31:7D:96:5B:E3:18:20:4D:35:63:16:8F:8E:A9:0F:2B:60\r\na=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n';
const ANSWER_SDP = OFFER_SDP.replace('4611731400430051336', '2090301622474733040')
  .replace('Ab1c', 'Zy9x')
  .replace('0123456789abcdefghijklmn', 'nmlkjihgfedcba9876543210')
  .replace('setup:actpass', 'setup:active');
const candidate = (ip: string, port: number, ufrag: string) => ({
  candidate: `candidate:1 1 udp 2122260223 ${ip} ${port} typ host generation 0 ufrag ${ufrag}`,
  sdpMid: '0',
  sdpMLineIndex: 0,
  usernameFragment: ufrag,
});

/** The signal type a call message travels as: the SDK's own mapping. */
function typeOf(message: CallMessage): string {
  return message.kind === 'answered' || message.kind === 'declined' ? 'custom' : message.kind;
}

/**
 * A whole call: alice (device dev-a1) calls bob, who has two devices; dev-b1 answers, dev-b2 stops
 * ringing; candidates both ways; alice hangs up.
 */
export function callSteps(): CallStep[] {
  const T = NOW;
  const alice = { username: 'alice', deviceId: 'dev-a1' };
  const b1 = { username: 'bob', deviceId: 'dev-b1' };
  const b2 = { username: 'bob', deviceId: 'dev-b2' };
  const rows: Array<[string, { username: string; deviceId: string }, string, string | null, CallMessage, { username: string; deviceId: string; key: KeyName }]> = [
    ['ring: the offer, to every device of bob', alice, 'bob', null, { kind: 'offer', sdp: OFFER_SDP }, { ...b1, key: 'bob' }],
    [
      "caller's candidate, to every device of bob (the one that answers has it already)",
      alice,
      'bob',
      null,
      { kind: 'ice', candidate: candidate('127.0.0.1', 50000, 'Ab1c') },
      { ...b2, key: 'bob' },
    ],
    ["answer: dev-b1 accepts, to the caller's device", b1, 'alice', 'dev-a1', { kind: 'answer', sdp: ANSWER_SDP }, { ...alice, key: 'alice' }],
    ["answered: dev-b1 tells its own account's other devices to stop ringing", b1, 'bob', null, { kind: 'answered', answeredBy: 'dev-b1' }, { ...b2, key: 'bob' }],
    [
      'the caller stops the other devices ringing (dev-b1 ignores it: answeredBy names it)',
      alice,
      'bob',
      null,
      { kind: 'bye', reason: 'answered-elsewhere', answeredBy: 'dev-b1' },
      { ...b2, key: 'bob' },
    ],
    ["callee's candidate, to the caller's device", b1, 'alice', 'dev-a1', { kind: 'ice', candidate: candidate('127.0.0.1', 50002, 'Zy9x') }, { ...alice, key: 'alice' }],
    [
      "caller's later candidate, now to the answering device only",
      alice,
      'bob',
      'dev-b1',
      { kind: 'ice', candidate: candidate('127.0.0.1', 50004, 'Ab1c') },
      { ...b1, key: 'bob' },
    ],
    ['hangup', alice, 'bob', 'dev-b1', { kind: 'bye', reason: 'hangup' }, { ...b1, key: 'bob' }],
  ];
  return rows.map(([step, from, to, toDevice, message, receiver], i) => {
    const ts = T + i * 250;
    const type = typeOf(message);
    const envelope: Envelope = {
      v: 1,
      from: from.username,
      fromDevice: from.deviceId,
      to,
      toDevice,
      type,
      sessionId: CALL_SESSION,
      ts,
      nonce: fixedNonce(`call-${i}`),
      body: encodeMessage(message),
    };
    const signedBy: KeyName = from.username === 'alice' ? 'alice' : 'bob';
    const encryptedTo: KeyName = to === 'alice' ? 'alice' : 'bob';
    return {
      step,
      message: JSON.parse(envelope.body) as Record<string, unknown>,
      send: { from: from.username, fromDevice: from.deviceId, to, toDevice, type, sessionId: CALL_SESSION },
      receiver,
      signal: {
        id: `sig-call-${i}`,
        from: from.username,
        fromDevice: from.deviceId,
        type,
        sessionId: CALL_SESSION,
        createdAt: iso(ts),
        expiresAt: iso(ts + SIGNAL_TTL_MS),
      },
      sealing: { form: 'sealed', encryptedTo, signedBy },
      plaintext: encodeEnvelope(envelope),
      now: ts + 400,
    };
  });
}

/** The safety-number examples: the worked example of docs/protocol.md §4, and alice and bob's fixed keys. */
export function safetyNumberCases(keys: VectorKeys) {
  return [
    {
      name: 'worked-example',
      a: { username: 'alice', fingerprint: '0123456789ABCDEF0123456789ABCDEF01234567' },
      b: { username: 'bob', fingerprint: 'FEDCBA9876543210FEDCBA9876543210FEDCBA98' },
      safetyNumber: '18343 52395 07169 56835 79680 49658 31834 49803 82615 31679 12475 65494',
    },
    {
      name: 'fixed-keys',
      a: { username: 'alice', fingerprint: keys.alice.fingerprint },
      b: { username: 'bob', fingerprint: keys.bob.fingerprint },
      safetyNumber: null as string | null,
    },
  ];
}

/** The link-code example of docs/protocol.md §6, and inputs a client must read as that code. */
export const LINK_CODE = {
  fingerprint: '5D890BF62F00FF614707006447CEA4A933CA0FB5',
  code: 'LAQL-URX7-YXTP-HVY7',
  qr: 'signalbox-link:1:LAQLURX7YXTPHVY7',
  sameCode: ['laql-urx7-yxtp-hvy7', 'LAQL URX7 YXTP HVY7', 'signalbox-link:1:LAQLURX7YXTPHVY7', 'LAQLURX7YXTPHVY7', 'LAQL-URX7-YXTP-HVY7 '],
  notACode: ['LAQL-URX7-YXTP', 'LAQL-URX7-YXTP-HVY9', ''],
};

export const BACKUP_PASSPHRASE = 'correct horse battery staple';
export const WRONG_PASSPHRASE = 'correct horse battery stapler';

export { PROTOCOL };
