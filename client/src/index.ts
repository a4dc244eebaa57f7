// @signalbox/client: the public surface (shared/API.md "Client SDK (v1.1)").
export { Signalbox, type RtcImplementation, type SendOptions, type SignalboxOptions } from './signalbox.js';
export { SignalboxError, type SdkErrorCode } from './errors.js';
export type { ConnectionState, KeyChange, ReceivedSignal, ServerEvent, SignalboxEventMap, StateDetail } from './events.js';
export type { EnsureOptions, KeyInfo } from './keys.js';
export type { PendingRequests, RequestOutcome, RespondOutcome } from './connections.js';
export { MemoryStorage, type KeyValueStorage } from './storage.js';
export type { FetchLike, RequestInitLike, ResponseLike } from './http.js';
export type { RetryPolicy } from './backoff.js';
export type * from './types.js';
