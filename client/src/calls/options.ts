import type { DataChannelOption } from './call.js';
import type { IceTransportPolicy, MediaStreamLike } from './rtc.js';

/** The options of `sb.call()` and `IncomingCall.accept()`. */
export interface CallOptions {
  /** 'relay' forces every packet through the TURN server (hides both parties' addresses); default 'all'. */
  iceTransportPolicy?: IceTransportPolicy;
  /** The caller's data channel: true (default, label 'signalbox'), false for none, or its label and settings. Ignored on accept: the caller decides. */
  dataChannel?: boolean | DataChannelOption;
  /** Local media to send (its tracks are added to the call). */
  stream?: MediaStreamLike;
  /** How long until connected, else the call ends with `timeout`. Default 30 000 ms. */
  timeoutMs?: number;
  /**
   * Aborting it ends the call, the peer told: while call() waits for an answer, every ringing device
   * stops (`cancelled`) and call() rejects with `call_cancelled`; after that (and for accept()) it hangs
   * up. The way to give up before call() or accept() resolves.
   */
  signal?: AbortSignal;
}

export const DEFAULT_CALL_TIMEOUT_MS = 30_000;
/** An unanswered call stops ringing after this (the caller's default timeout, plus the mailbox's delay). */
export const RING_FOR_MS = 45_000;
export const DEFAULT_DATA_CHANNEL_LABEL = 'signalbox';
