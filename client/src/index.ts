// @signalbox/client: the public surface (client/README.md).
// The public Signalbox is the core (./signalbox.js) with calls plugged in (./calls/withCalls.ts).
export { Signalbox } from './calls/withCalls.js';
export type { RtcImplementation, SendOptions, SignalboxOptions } from './signalbox.js';
export {
  Call,
  IncomingCall,
  type CallEventMap,
  type CallOptions,
  type CloseInfo,
  type DataChannelOption,
  type EndReason,
  type IncomingCallEventMap,
  type RingingState,
} from './calls/index.js';
export { SignalboxError, type SdkErrorCode } from './errors.js';
export type { ConnectionState, KeyChange, ReceivedSignal, ServerEvent, SignalboxEventMap, StateDetail } from './events.js';
export type { EnsureOptions, KeyInfo } from './keys.js';
export type { DeviceInfo } from './devices.js';
export type { LinkApproval, LinkRequest } from './linking.js';
export type { Peers, TrustInfo, TrustState } from './trust.js';
export type { PendingRequests, RequestOutcome, RespondOutcome } from './connections.js';
export type { GatewaySubscription, PushInfo, PushSubscriptionInput, WebPushSubscriptionJson } from './push.js';
export { MemoryStorage, type KeyValueStorage } from './storage.js';
export type { FetchLike, RequestInitLike, ResponseLike } from './http.js';
export type { RetryPolicy } from './backoff.js';
export type * from './types.js';
