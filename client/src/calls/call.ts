import { SignalboxError, type SignalboxErrorCode } from '../errors.js';
import { Emitter, type Handler } from '../events.js';
import type { CallMessage, EndReason } from './protocol.js';
import type { DataChannelInit, DataChannelLike, IceCandidateInit, MediaStreamLike, PeerConnectionLike, RtcEvent } from './rtc.js';

/** After 'disconnected' this long, the connection is taken as broken and ICE restarts (a network change). */
const DISCONNECTED_GRACE_MS = 2_000;
/** A connection broken this long, restarts included, ends the call ('failed'). */
const RECONNECT_GIVE_UP_MS = 30_000;

export interface CloseInfo {
  reason: EndReason;
  /** Who ended it: this device, or the other party (its bye, or the network). */
  by: 'local' | 'remote';
  /** What went wrong, when the SDK ended it because of an error (a send the server refused, say). */
  error?: SignalboxError;
}

export interface CallEventMap {
  /** The peer connection's connectionState, at each change ('connecting', 'connected', 'disconnected', ...). */
  state: [state: string];
  close: [info: CloseInfo];
  /** A remote media track (calls with `stream`). */
  track: [track: unknown, streams: readonly unknown[]];
}

/** How a Call talks to the rest of the SDK: the encrypted send path, and its registry. */
export interface CallLink {
  /** Encrypts, signs and sends `message` to the peer (to `toDevice` only, or to every device of theirs). */
  post(message: CallMessage, toDevice: string | undefined): Promise<void>;
  /** Called once when the call ends, whichever way. */
  ended(call: Call): void;
}

export interface CallSetup {
  peer: string;
  sessionId: string;
  pc: PeerConnectionLike;
  link: CallLink;
  /**
   * In glare and renegotiation the polite side gives way (perfect negotiation, RFC 8829 §4.1.9 in
   * practice): the callee is polite, the caller is not, so two offers crossing always resolve the same way.
   */
  polite: boolean;
  /** The callee's device the call talks to; unknown to the caller until an answer arrives. */
  peerDevice: string | null;
  /** The data channel this side opened (the caller's), or null (the callee's arrives with the offer). */
  channel: DataChannelLike | null;
  /** Whether a data channel is part of the call, i.e. whether 'connected' waits for it to open. */
  expectChannel: boolean;
}

/**
 * One call with one device of the peer: its RTCPeerConnection, the data channel, trickle ICE both ways
 * over the mailbox, renegotiation (ICE restarts when the network changes) and its end.
 */
export class Call {
  readonly peer: string;
  readonly sessionId: string;
  readonly pc: PeerConnectionLike;
  channel: DataChannelLike | null;
  private peerDeviceId: string | null;
  private readonly emitter = new Emitter<CallEventMap>();
  private readonly link: CallLink;
  private readonly polite: boolean;
  private readonly expectChannel: boolean;
  private closedWith: CloseInfo | null = null;
  /** The bye of end(…, tell), once sent: what hangup() resolves with. */
  private byeSent: Promise<void> = Promise.resolve();
  private makingOffer = false;
  private ignoreOffer = false;
  /** Local candidates found while their description is not sent yet: sent right after it, in order. */
  private heldLocal: IceCandidateInit[] | null = [];
  /** Remote candidates that came before a remote description to apply them to. */
  private heldRemote: IceCandidateInit[] = [];
  private disconnectedTimer: ReturnType<typeof setTimeout> | undefined;
  private giveUpTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly remoteStreamSet = new Set<unknown>();
  /** What connected() waits on, told of every change that may make the call ready (or end it). */
  private readonly readyWaiters = new Set<() => void>();

  constructor(setup: CallSetup) {
    this.peer = setup.peer;
    this.sessionId = setup.sessionId;
    this.pc = setup.pc;
    this.link = setup.link;
    this.polite = setup.polite;
    this.peerDeviceId = setup.peerDevice;
    this.channel = setup.channel;
    this.expectChannel = setup.expectChannel;
    this.pc.addEventListener('icecandidate', (e) => this.onLocalCandidate(e));
    this.pc.addEventListener('negotiationneeded', () => void this.renegotiate());
    this.pc.addEventListener('connectionstatechange', () => this.onConnectionState());
    this.pc.addEventListener('iceconnectionstatechange', () => this.onIceState());
    this.pc.addEventListener('datachannel', (e) => {
      if (!e.channel || this.channel) return;
      this.channel = e.channel;
      this.watchChannel(e.channel);
    });
    if (this.channel) this.watchChannel(this.channel);
    this.pc.addEventListener('track', (e) => {
      for (const stream of e.streams ?? []) this.remoteStreamSet.add(stream);
      this.emitter.notify('track', e.track, e.streams ?? []);
    });
  }

  /** The peer's device this call is with (null while the caller waits for an answer). */
  get peerDevice(): string | null {
    return this.peerDeviceId;
  }

  /** Media streams the peer sent so far. */
  get remoteStreams(): readonly unknown[] {
    return [...this.remoteStreamSet];
  }

  get closed(): CloseInfo | null {
    return this.closedWith;
  }

  on<K extends keyof CallEventMap>(name: K, handler: Handler<CallEventMap[K]>): void {
    this.emitter.on(name, handler);
  }

  off<K extends keyof CallEventMap>(name: K, handler: Handler<CallEventMap[K]>): void {
    this.emitter.off(name, handler);
  }

  private watchChannel(channel: DataChannelLike): void {
    channel.addEventListener('open', () => this.kick());
  }

  private kick(): void {
    for (const waiter of [...this.readyWaiters]) waiter();
  }

  /**
   * Ends the call: the peer is told (`bye`), then the connection closes. Resolves once the bye is sent
   * (never rejects: a failed send is reported as `'error'`), so a process or app about to exit can
   * await it; a browser tab can ignore it.
   */
  hangup(): Promise<void> {
    this.end(this.peerDeviceId ? 'hangup' : 'cancelled', 'local', true);
    return this.byeSent;
  }

  /**
   * Ends the call locally and, with `tell`, sends `bye` first: to the peer's device, or to every device
   * of the peer while nobody answered (they all ring).
   */
  end(reason: EndReason, by: 'local' | 'remote', tell: boolean, error?: SignalboxError): void {
    if (this.closedWith) return;
    this.closedWith = { reason, by, ...(error ? { error } : {}) };
    if (tell) this.byeSent = this.link.post({ kind: 'bye', reason }, this.peerDeviceId ?? undefined).catch(() => {});
    clearTimeout(this.disconnectedTimer);
    clearTimeout(this.giveUpTimer);
    this.channel?.close();
    this.pc.close();
    this.link.ended(this);
    this.kick();
    this.emitter.notify('state', 'closed');
    this.emitter.notify('close', this.closedWith);
  }

  /** Resolves once the connection is up and the data channel (when there is one) is open; rejects if the call ends first. */
  connected(timeoutMs: number): Promise<this> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.closedWith) {
          finish();
          reject(endedError(this.closedWith));
        } else if (isUp(this.pc) && (!this.expectChannel || this.channel?.readyState === 'open')) {
          finish();
          resolve(this);
        }
      };
      const timer = setTimeout(() => {
        finish();
        this.end('timeout', 'local', true);
        reject(new SignalboxError('timeout', `The call with ${this.peer} did not connect within ${timeoutMs} ms.`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.readyWaiters.delete(check);
      };
      this.readyWaiters.add(check);
      check();
    });
  }

  /**
   * Makes and sends this side's first offer (the caller's): without a peer device yet, so it goes to
   * every device of the callee, and rings them all.
   */
  async offer(): Promise<void> {
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    this.sendDescription({ kind: 'offer', sdp: offer.sdp ?? '' });
  }

  /** Applies the caller's offer (the callee's side, on accept), with the candidates that came while ringing, and answers it. */
  async answer(sdp: string, candidates: readonly IceCandidateInit[]): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'offer', sdp });
    this.heldRemote.push(...candidates);
    await this.flushRemote();
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    this.sendDescription({ kind: 'answer', sdp: answer.sdp ?? '' });
  }

  /** The caller learns which device answered: from now on everything goes to that device only. */
  async answered(device: string, sdp: string): Promise<void> {
    this.peerDeviceId = device;
    await this.applyAnswer(sdp);
  }

  /** A call message from the peer's device (already checked to be this call's peer and device). */
  async receive(message: CallMessage): Promise<void> {
    if (this.closedWith) return;
    try {
      switch (message.kind) {
        case 'offer':
          await this.applyOffer(message.sdp);
          break;
        case 'answer':
          await this.applyAnswer(message.sdp);
          break;
        case 'ice':
          await this.addRemoteCandidate(message.candidate);
          break;
        case 'bye':
          this.end(message.reason, 'remote', false);
          break;
        default:
          break;
      }
    } catch {
      // A description or candidate the connection refuses (a stale one after a glare, say) is not fatal:
      // ICE recovers through a restart, or the call ends through its own timers.
    }
  }

  /** Restarts ICE: new candidates over the same mailbox and session (a network change). */
  restartIce(): void {
    if (this.closedWith) return;
    if (this.pc.restartIce)
      this.pc.restartIce(); // fires negotiationneeded, which renegotiates
    else void this.renegotiate(true);
  }

  /** Perfect negotiation, the offering side: a new offer to the peer's device (ICE restart, tracks added later). */
  private async renegotiate(iceRestart = false): Promise<void> {
    // Before the first answer the initial offer covers everything; after the end nothing is negotiated.
    if (!this.peerDeviceId || this.closedWith || this.pc.signalingState !== 'stable') return;
    try {
      this.makingOffer = true;
      this.heldLocal ??= [];
      const offer = await this.pc.createOffer(iceRestart ? { iceRestart: true } : undefined);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- narrowed before the await, but the peer's offer can change it meanwhile
      if (this.pc.signalingState !== 'stable') return; // the peer's offer came meanwhile: see applyOffer
      await this.pc.setLocalDescription(offer);
      this.sendDescription({ kind: 'offer', sdp: offer.sdp ?? '' });
    } catch {
      // The connection closed or the peer's offer won the race; nothing to send.
    } finally {
      this.makingOffer = false;
      this.releaseHeld(); // nothing sent (the race above): candidates held meanwhile still go out
    }
  }

  /** Perfect negotiation, the answering side: the impolite side ignores a colliding offer, the polite one rolls back. */
  private async applyOffer(sdp: string): Promise<void> {
    const collision = this.makingOffer || this.pc.signalingState !== 'stable';
    this.ignoreOffer = !this.polite && collision;
    if (this.ignoreOffer) return;
    try {
      if (this.pc.signalingState === 'have-local-offer') await this.pc.setLocalDescription({ type: 'rollback' });
      this.heldLocal ??= [];
      await this.pc.setRemoteDescription({ type: 'offer', sdp });
      await this.flushRemote();
      const answer = await this.pc.createAnswer();
      await this.pc.setLocalDescription(answer);
      this.sendDescription({ kind: 'answer', sdp: answer.sdp ?? '' });
    } finally {
      this.releaseHeld();
    }
  }

  private async applyAnswer(sdp: string): Promise<void> {
    if (this.pc.signalingState !== 'have-local-offer') return; // an answer to an offer rolled back in a glare
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
    await this.flushRemote();
  }

  private async addRemoteCandidate(candidate: IceCandidateInit): Promise<void> {
    if (!this.pc.remoteDescription) {
      this.heldRemote.push(candidate);
      return;
    }
    try {
      await this.pc.addIceCandidate(candidate);
    } catch (err) {
      if (!this.ignoreOffer) throw err; // a candidate of the offer we ignored is expected to fail
    }
  }

  private async flushRemote(): Promise<void> {
    const held = this.heldRemote.splice(0);
    for (const candidate of held) await this.addRemoteCandidate(candidate);
  }

  /** Sends a description, then the local candidates held while it was being made, in that order. */
  private sendDescription(message: CallMessage): void {
    void this.link.post(message, this.peerDeviceId ?? undefined);
    this.releaseHeld();
  }

  /** Sends the local candidates held back, and stops holding them. */
  private releaseHeld(): void {
    const held = this.heldLocal ?? [];
    this.heldLocal = null;
    for (const candidate of held) void this.link.post({ kind: 'ice', candidate }, this.peerDeviceId ?? undefined);
  }

  private onLocalCandidate(event: RtcEvent): void {
    const c = event.candidate;
    if (!c || !c.candidate || this.closedWith) return; // null: gathering is complete, which the peer does not need
    const candidate: IceCandidateInit = {
      candidate: c.candidate,
      sdpMid: c.sdpMid ?? null,
      sdpMLineIndex: c.sdpMLineIndex ?? null,
      ...(c.usernameFragment ? { usernameFragment: c.usernameFragment } : {}),
    };
    if (this.heldLocal) this.heldLocal.push(candidate);
    // Before the answer (the caller's side) this goes to every device of the callee: the one that
    // accepts has the caller's candidates already and connects without another round trip.
    else void this.link.post({ kind: 'ice', candidate }, this.peerDeviceId ?? undefined);
  }

  private onConnectionState(): void {
    if (this.closedWith) return;
    this.kick();
    this.emitter.notify('state', this.pc.connectionState);
  }

  /**
   * A network change shows as ICE 'disconnected' (maybe back by itself) or 'failed': after a short
   * grace, or at once on 'failed', ICE restarts over the mailbox. If nothing works for a long while
   * the call ends as 'failed', with a bye in case the peer can still hear it.
   */
  private onIceState(): void {
    if (this.closedWith) return;
    this.kick();
    const ice = this.pc.iceConnectionState;
    clearTimeout(this.disconnectedTimer);
    if (ice === 'connected' || ice === 'completed') {
      clearTimeout(this.giveUpTimer);
      this.giveUpTimer = undefined;
      return;
    }
    if (ice !== 'disconnected' && ice !== 'failed') return;
    this.giveUpTimer ??= setTimeout(() => this.end('failed', 'local', true), RECONNECT_GIVE_UP_MS);
    if (ice === 'failed') this.restartIce();
    else this.disconnectedTimer = setTimeout(() => this.pc.iceConnectionState === 'disconnected' && this.restartIce(), DISCONNECTED_GRACE_MS);
  }
}

const isUp = (pc: PeerConnectionLike) =>
  // connectionState is missing in some implementations (older react-native-webrtc); ICE's state says the same there.
  pc.connectionState === 'connected' ||
  ((pc.connectionState as string | undefined) === undefined && (pc.iceConnectionState === 'connected' || pc.iceConnectionState === 'completed'));

/** The error a pending call()/accept() rejects with when the call ends before it connects. */
export function endedError(info: CloseInfo): SignalboxError {
  if (info.error) return info.error;
  const sentences: Record<EndReason, string> = {
    hangup: 'The call was hung up.',
    cancelled: 'The caller cancelled the call.',
    rejected: 'The call was rejected.',
    'answered-elsewhere': 'The call was answered on another device.',
    timeout: 'The call did not connect in time.',
    failed: 'The connection failed.',
    unavailable: 'The callee cannot be reached now: no device of theirs was online lately, and none can be woken by push.',
  };
  // `unavailable` is the contract's own code (docs/api.md): the callee cannot be reached now.
  const codes = {
    hangup: 'call_hangup',
    cancelled: 'call_cancelled',
    rejected: 'call_rejected',
    'answered-elsewhere': 'call_answered_elsewhere',
    timeout: 'call_timeout',
    failed: 'call_failed',
    unavailable: 'unavailable',
  } as const satisfies Record<EndReason, SignalboxErrorCode>;
  const code = codes[info.reason];
  return new SignalboxError(code, sentences[info.reason], { details: { reason: info.reason, by: info.by } });
}

/** The data channel option of call() and accept(): a label and its RTCDataChannelInit. */
export interface DataChannelOption extends DataChannelInit {
  label?: string;
}

/** Adds `stream`'s tracks to `pc` (a call with media). */
export function addStream(pc: PeerConnectionLike, stream: MediaStreamLike | undefined): void {
  for (const track of stream?.getTracks() ?? []) pc.addTrack(track as never, stream as never);
}
