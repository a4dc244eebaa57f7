import type { ServerErrorCode } from './types.js';

/**
 * Codes the SDK itself gives, beside the server's (docs/api.md "Conventions"), which arrive unchanged.
 * - `network`: the request never got an answer (offline, DNS, reset).
 * - `signed_out`: there is no session, or it ended and could not be refreshed.
 * - `no_key`: this device holds no private key yet (call `keys.ensure()`).
 * - `key_elsewhere`: the account has a published key whose private half is not in this device's storage.
 * - `key_mismatch`: this device's private key is not the account's published key (another device replaced it).
 * - `no_peer_key`: the recipient (or sender) has no published key, so nothing can be encrypted to (or verified from) them.
 * - `unsigned`, `bad_signature`, `not_encrypted`, `undecryptable`: a received signal that was dropped.
 * - `bad_envelope`: a received signal whose signed envelope disagrees with what the server says of it
 *   (sender, device, type, session), names another recipient, is stale or dated ahead, or replays a
 *   nonce (docs/protocol.md "The envelope"); dropped.
 * - `no_backup`: `keys.loadBackup` found no key backup on the server for this account.
 * - `bad_backup`: the stored key backup is not a Signalbox key backup (not an OpenPGP message, or not a key inside).
 * - `bad_passphrase`: the passphrase does not open the key backup (or the backup was tampered with).
 * - `link_mismatch`: no pending link request carries the one-time key the code commits to (a mistyped
 *   code, or a key someone substituted), or a link answer holds a key that is not the account's.
 * - `link_used`: that code's link was approved already (a code works once).
 * - `link_expired`: the link request is older than 10 minutes (or its new device stopped waiting).
 * - `link_not_found`: no link request arrived for this device to approve.
 * - `key_changed`: the server serves another key for the peer than the one pinned on this device: `send`
 *   and `call` reject, and signals signed by the new key are dropped, until `peers.acceptChange` or
 *   `peers.verify` (docs/protocol.md "Pinning and consent").
 * - `verification_failed`: `peers.verify` was given a safety number or fingerprint that is not the peer's current key's.
 * - `bad_call_message`: a received signal whose body says it is a call message (`"p":"signalbox.call/1"`) but is
 *   malformed, of an unknown kind, or travels as another signal type than its kind's (docs/protocol.md "Calls"); dropped.
 * - `call_ended`: `accept()` on a call that no longer rings, or the caller ended it before it connected.
 * - `call_hangup`, `call_cancelled`, `call_rejected`, `call_answered_elsewhere`, `call_timeout`, `call_failed`: a
 *   pending `call()` or `accept()` ended for that reason before it connected (docs/protocol.md "Calls");
 *   `unavailable` (the server's code) when the callee has no device that can hear it ring.
 * - `timeout`: the call did not connect within `timeoutMs`.
 * - `no_webrtc`: calls need an RTCPeerConnection (a browser, or react-native-webrtc passed as `rtc`).
 * - `http_<status>`: an error answer without the server's JSON error shape (a proxy's 502, say).
 * - `handler_failed`: an app handler threw; the signal stays unacknowledged and comes again.
 * - `bad_answer`: the server's answer was not what the contract says.
 */
export type SdkErrorCode =
  | 'network'
  | 'signed_out'
  | 'no_key'
  | 'key_elsewhere'
  | 'key_mismatch'
  | 'no_peer_key'
  | 'unsigned'
  | 'bad_signature'
  | 'not_encrypted'
  | 'undecryptable'
  | 'bad_envelope'
  | 'no_backup'
  | 'bad_backup'
  | 'bad_passphrase'
  | 'link_mismatch'
  | 'link_used'
  | 'link_expired'
  | 'link_not_found'
  | 'key_changed'
  | 'verification_failed'
  | 'bad_call_message'
  | 'call_ended'
  | 'call_hangup'
  | 'call_cancelled'
  | 'call_rejected'
  | 'call_answered_elsewhere'
  | 'call_timeout'
  | 'call_failed'
  | 'timeout'
  | 'no_webrtc'
  | `http_${number}`
  | 'handler_failed'
  | 'bad_answer';

/** Every code a SignalboxError can carry: the SDK's own and the server's (from its OpenAPI document). */
export type SignalboxErrorCode = SdkErrorCode | ServerErrorCode;

export interface SignalboxErrorInit {
  /** The HTTP status when the server answered. */
  status?: number;
  /** The server's `error.details`, or what the SDK knows about the failure (e.g. the dropped signal). */
  details?: Record<string, unknown>;
  /** From `Retry-After` on 429 and 503. */
  retryAfterMs?: number;
  cause?: unknown;
}

/** Every failure the SDK reports, thrown or on 'error': a stable `code` to branch on and a sentence for people. */
export class SignalboxError extends Error {
  override readonly name = 'SignalboxError';
  readonly status: number | undefined;
  readonly details: Record<string, unknown> | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(
    readonly code: SignalboxErrorCode,
    message: string,
    init: SignalboxErrorInit = {},
  ) {
    super(message);
    this.status = init.status;
    this.details = init.details;
    this.retryAfterMs = init.retryAfterMs;
    if (init.cause !== undefined) (this as { cause?: unknown }).cause = init.cause;
  }
}

/** True for failures worth retrying later: no answer at all, or the server's own trouble (5xx). */
export function isTransient(err: unknown): boolean {
  return err instanceof SignalboxError && (err.code === 'network' || (err.status !== undefined && err.status >= 500));
}
