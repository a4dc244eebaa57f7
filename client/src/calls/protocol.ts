import type { IceCandidateInit } from './rtc.js';

// What call signals carry as their envelope's body (client/src/envelope.ts, docs/protocol.md): JSON
// with a version marker, so the calls module takes only its own signals and leaves any other
// `offer`/`custom` an app sends itself to the app's 'signal' handlers. The server sees none of it.
//
// The envelope, checked by the inbox before any of this runs, is what binds a message to its call:
// its signed `type`, `sessionId` and `fromDevice` must be the signal's, `ts` is the sender's time and
// `nonce` is single use. So a server cannot move a message into another call, pass it off as another
// device's, re-type it, or replay an old offer to make a phone ring again; this module needs no
// signed fields of its own.
//
// The protocol, for one call (sessionId = 128 random bits, hex):
//   caller → every callee device   offer {sdp}, then ice {candidate}… (no toDevice: they all ring)
//   callee device D → caller device answer {sdp}, then ice…; and custom `answered` {answeredBy: D} to its
//                                   own account (`to` = self), so its other devices stop ringing
//   caller → every callee device   bye {reason: answered-elsewhere, answeredBy: D} (D ignores it)
//   afterwards, both ways           only to the peer's device (toDevice): ice, offer/answer again for an
//                                   ICE restart or new tracks (perfect negotiation; the callee is polite)
//   either side                     bye {reason} ends the call; reject = bye rejected + custom `declined`

/** The marker and version of this protocol; a payload without it is not a call signal. */
export const PROTOCOL = 'signalbox.call/1';

/**
 * Why a call (or a ringing) ended, as sent in `bye` and reported on 'close':
 * - `hangup`: a party hung up; `cancelled`: the caller gave up before anyone answered;
 * - `rejected`: the callee declined; `answered-elsewhere`: another device of the callee took the call;
 * - `timeout`: it did not connect in time; `failed`: the connection broke and could not be restored;
 * - `unavailable`: the callee has no signed-in device to ring, or none that can hear it (none seen within
 *   the server's PRESENCE_WINDOW and none with a push subscription); sent as a bye only to withdraw an
 *   offer stored for devices that are away.
 */
export type EndReason = 'hangup' | 'cancelled' | 'rejected' | 'answered-elsewhere' | 'timeout' | 'failed' | 'unavailable';

/** Every end reason, in docs/protocol.md's order. */
export const END_REASON_LIST: readonly EndReason[] = ['hangup', 'cancelled', 'rejected', 'answered-elsewhere', 'timeout', 'failed', 'unavailable'];
const END_REASONS: ReadonlySet<string> = new Set<string>(END_REASON_LIST);

/** Every message kind, in docs/protocol.md's order. */
export const CALL_KINDS: readonly CallMessage['kind'][] = ['offer', 'answer', 'ice', 'bye', 'answered', 'declined'];

export type CallMessage =
  /** The call itself (no toDevice: it rings every device), or a renegotiation (ICE restart) on an established call. */
  | { kind: 'offer'; sdp: string }
  | { kind: 'answer'; sdp: string }
  | { kind: 'ice'; candidate: IceCandidateInit }
  /** `answeredBy`: the device that took the call, which ignores this bye (it goes to every device). */
  | { kind: 'bye'; reason: EndReason; answeredBy?: string }
  /** Sent by the answering device to its own account's other devices (`to` = self): stop ringing. */
  | { kind: 'answered'; answeredBy: string }
  | { kind: 'declined' };

/** The signal type each message travels as. */
export function signalTypeOf(message: CallMessage): 'offer' | 'answer' | 'ice' | 'bye' | 'custom' {
  switch (message.kind) {
    case 'answered':
    case 'declined':
      return 'custom';
    default:
      return message.kind;
  }
}

/** The envelope body of `message` (the SDK seals it in the envelope, encrypted and signed). */
export function encodeMessage(message: CallMessage): string {
  const { kind, ...fields } = message;
  return JSON.stringify({ p: PROTOCOL, kind, ...fields });
}

/** The call message in the body of a `type` signal, or null when it is not one of ours (or malformed). */
export function decodePayload(type: string, payload: string): CallMessage | null {
  const decoded = readCallBody(type, payload);
  return decoded.kind === 'call' ? decoded.message : null;
}

/**
 * What an envelope body is to the calls module: `other` (no call-protocol marker: the app's own signal),
 * `call` (a well-formed call message for its signal type) or `invalid` (it says it is a call message,
 * but is malformed, of an unknown kind or travels as the wrong signal type). An invalid one is dropped
 * and reported (`bad_call_message`), never handed to the app as if it were the app's own signal.
 */
export function readCallBody(type: string, payload: string): { kind: 'other' } | { kind: 'call'; message: CallMessage } | { kind: 'invalid'; why: string } {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return { kind: 'other' };
  }
  if (typeof value !== 'object' || value === null || (value as Record<string, unknown>).p !== PROTOCOL) return { kind: 'other' };
  const message = decodeMessage(type, value as Record<string, unknown>);
  if (message) return { kind: 'call', message };
  const kind = (value as Record<string, unknown>).kind;
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- typed string, but JSON.stringify(undefined) is undefined
  return { kind: 'invalid', why: `a ${PROTOCOL} message of kind ${JSON.stringify(kind) ?? 'undefined'} that is malformed, unknown or sent as a ${type} signal` };
}

/** The call message in a parsed payload of a `type` signal, or null when it is not one of ours (or malformed). */
function decodeMessage(type: string, m: Record<string, unknown>): CallMessage | null {
  if (m.p !== PROTOCOL) return null;
  const str = (v: unknown): v is string => typeof v === 'string';
  switch (m.kind) {
    case 'offer':
    case 'answer':
      return type === m.kind && str(m.sdp) ? { kind: m.kind, sdp: m.sdp } : null;
    case 'ice': {
      const c = m.candidate as Record<string, unknown> | null;
      if (type !== 'ice' || typeof c !== 'object' || c === null || !str(c.candidate)) return null;
      return {
        kind: 'ice',
        candidate: {
          candidate: c.candidate,
          sdpMid: str(c.sdpMid) ? c.sdpMid : null,
          sdpMLineIndex: typeof c.sdpMLineIndex === 'number' ? c.sdpMLineIndex : null,
          ...(str(c.usernameFragment) ? { usernameFragment: c.usernameFragment } : {}),
        },
      };
    }
    case 'bye':
      if (type !== 'bye' || !str(m.reason) || !END_REASONS.has(m.reason)) return null;
      return { kind: 'bye', reason: m.reason as EndReason, ...(str(m.answeredBy) ? { answeredBy: m.answeredBy } : {}) };
    case 'answered':
      return type === 'custom' && str(m.answeredBy) ? { kind: 'answered', answeredBy: m.answeredBy } : null;
    case 'declined':
      return type === 'custom' ? { kind: 'declined' } : null;
    default:
      return null;
  }
}
