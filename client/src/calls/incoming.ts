import { SignalboxError } from '../errors.js';
import { Emitter, type Handler } from '../events.js';
import type { Call } from './call.js';
import type { EndReason } from './protocol.js';
import type { IceCandidateInit } from './rtc.js';
import type { CallOptions } from './options.js';

export type RingingState = 'ringing' | 'accepted' | 'rejected' | 'answered-elsewhere' | 'cancelled' | 'missed';

export interface IncomingCallEventMap {
  /** It stopped ringing without this device accepting: how (another device took it, the caller gave up, ...). */
  close: [state: Exclude<RingingState, 'ringing' | 'accepted'>];
}

/** What an IncomingCall needs from the calls module. */
export interface IncomingLink {
  /** Answers the offer with a new Call (the callee's side) and tells this account's other devices. */
  accept(incoming: IncomingCall, sdp: string, options: CallOptions): Promise<Call>;
  /** Declines: `bye` to the caller's device and "stop ringing" to this account's other devices. */
  reject(incoming: IncomingCall): void;
  /** It stopped ringing (any way): drops it from the registry. */
  ended(incoming: IncomingCall): void;
}

/**
 * A call ringing on this device ('call' handlers get it): `accept()` answers it, `reject()` declines
 * it; it stops ringing by itself when another device of this account accepts or declines, when the
 * caller cancels, or after a while unanswered ('close' says which).
 */
export class IncomingCall {
  private ringing: RingingState = 'ringing';
  private readonly emitter = new Emitter<IncomingCallEventMap>();
  /** The caller's candidates, which come before anyone accepts: applied on accept. */
  private readonly candidates: IceCandidateInit[] = [];
  private readonly ringTimer: ReturnType<typeof setTimeout>;
  /** While accept() sets up and connects: rejects it at once when the caller gives up meanwhile. */
  private abortAccept: ((error: SignalboxError) => void) | null = null;

  constructor(
    /** The caller's username. */
    readonly from: string,
    /** The caller's device, which the answer goes to. */
    readonly fromDevice: string,
    readonly sessionId: string,
    private readonly offerSdp: string,
    private readonly link: IncomingLink,
    ringForMs: number,
  ) {
    this.ringTimer = setTimeout(() => this.stop('missed'), ringForMs);
  }

  get state(): RingingState {
    return this.ringing;
  }

  /** Whether the caller offered a data channel (then the accepted Call's `channel` is it). */
  get hasDataChannel(): boolean {
    return /^m=application /m.test(this.offerSdp);
  }

  on<K extends keyof IncomingCallEventMap>(name: K, handler: Handler<IncomingCallEventMap[K]>): void {
    this.emitter.on(name, handler);
  }

  off<K extends keyof IncomingCallEventMap>(name: K, handler: Handler<IncomingCallEventMap[K]>): void {
    this.emitter.off(name, handler);
  }

  /**
   * Answers the call on this device; resolves once connected. Rejects with `call_ended` when it
   * stopped ringing already, or with the reason when it ends before connecting (e.g.
   * `call_answered_elsewhere` when another device's answer reached the caller first).
   */
  accept(options: CallOptions = {}): Promise<Call> {
    if (this.ringing !== 'ringing') {
      return Promise.reject(new SignalboxError('call_ended', `This call is no longer ringing (${this.ringing}).`, { details: { state: this.ringing } }));
    }
    this.ringing = 'accepted';
    clearTimeout(this.ringTimer);
    const callerGaveUp = new Promise<never>((_, reject) => {
      this.abortAccept = reject;
    });
    // Still registered until its Call is: candidates that come meanwhile are kept here (takeCandidates).
    const accepted = this.link.accept(this, this.offerSdp, options);
    accepted.catch(() => {}); // when the caller gave up first, its rejection is the one that counts
    return Promise.race([accepted, callerGaveUp]).finally(() => {
      this.abortAccept = null;
    });
  }

  /** Declines the call (every device of this account stops ringing, and the caller is told). */
  reject(): void {
    if (this.ringing !== 'ringing') return;
    this.link.reject(this);
    this.stop('rejected');
  }

  /** @internal A candidate of the caller, kept for accept() (also while accept() sets up its Call). */
  addCandidate(candidate: IceCandidateInit): void {
    if (this.ringing === 'ringing' || this.ringing === 'accepted') this.candidates.push(candidate);
  }

  /** @internal The caller's candidates so far, handed to the Call that answers. */
  takeCandidates(): IceCandidateInit[] {
    return this.candidates.splice(0);
  }

  /**
   * @internal Stops ringing because of what another party did. While accept() is still connecting,
   * the caller giving up ends it too: accept() rejects `call_ended` and 'close' fires.
   */
  stop(state: Exclude<RingingState, 'ringing' | 'accepted'>): void {
    if (this.ringing === 'accepted' && this.abortAccept) {
      const abort = this.abortAccept;
      this.abortAccept = null;
      this.ringing = state;
      this.link.ended(this);
      abort(
        state === 'answered-elsewhere'
          ? new SignalboxError('call_answered_elsewhere', 'The call was answered on another device.', { details: { state } })
          : new SignalboxError('call_ended', `The caller ended this call before it connected (${state}).`, { details: { state } }),
      );
      this.emitter.notify('close', state);
      return;
    }
    if (this.ringing !== 'ringing') return;
    this.ringing = state;
    clearTimeout(this.ringTimer);
    this.link.ended(this);
    this.emitter.notify('close', state);
  }
}

/** The ringing state a `bye` of the caller leaves an unanswered call in. */
export function ringingEndFor(reason: EndReason): Exclude<RingingState, 'ringing' | 'accepted'> {
  switch (reason) {
    case 'answered-elsewhere':
      return 'answered-elsewhere';
    case 'rejected':
      return 'rejected';
    case 'timeout':
      return 'missed';
    default:
      return 'cancelled';
  }
}
