import { SignalboxError } from '../errors.js';
import type { Signalbox } from '../signalbox.js';
import { Calls } from './calls.js';
import type { IncomingCall } from './incoming.js';
import type { IceServer, RtcImplementation } from './rtc.js';
import { resolvePeerConnection } from './rtc.js';

export { Calls, type CallsHost } from './calls.js';
export { Call, type CallEventMap, type CloseInfo, type DataChannelOption } from './call.js';
export { IncomingCall, type IncomingCallEventMap, type RingingState } from './incoming.js';
export type { CallOptions } from './options.js';
export type { EndReason } from './protocol.js';
export type * from './rtc.js';

// `sb.on('call', handler)` type-checks once this module is part of the build (events.ts leaves room).
declare module '../events.js' {
  interface SignalboxEventMap {
    call: [call: IncomingCall];
  }
}

/**
 * The calls module of `sb`, tapped into its inbox. The core wires it once:
 * `private readonly calls = createCalls(this)` and `call(username, options) { return this.calls.call(username, options); }`.
 */
export function createCalls(sb: Signalbox): Calls {
  const { session, inbox, emitter, tabs } = sb.internals;
  const calls = new Calls({
    me: () => (sb.user && sb.deviceId ? { username: sb.user.username, deviceId: sb.deviceId } : null),
    send: (username, type, payload, options) => sb.send(username, type, payload, options),
    iceServers: () => session.request<{ iceServers: IceServer[]; ttl: number }>('GET', '/signaling/ice-servers'),
    ring: (incoming) => {
      if (emitter.count('call') === 0) return false;
      emitter.notify('call', incoming);
      return true;
    },
    report: (error: SignalboxError) => {
      if (emitter.count('error') > 0) emitter.notify('error', error);
      else console.warn(`[signalbox] ${error.code}: ${error.message}`);
    },
    peerConnection: resolvePeerConnection(sb.rtc as RtcImplementation | undefined),
    // Several tabs of one device: every tab rings, the first to accept or decline takes the call.
    ...(tabs ? { claim: (sessionId: string, as: 'accepted' | 'rejected') => tabs.claimCall(sessionId, as) } : {}),
  });
  tabs?.onCallTaken((sessionId, as) => calls.takenInAnotherTab(sessionId, as));
  inbox.addTap(calls.tap);
  return calls;
}
