import { SignalboxError } from '../errors.js';
import type { Envelope } from '../envelope.js';
import type { ReceivedSignal } from '../events.js';
import type { SendResult, SignalType } from '../types.js';
import { normaliseUsername } from '../usernames.js';
import { Call, addStream, endedError } from './call.js';
import { IncomingCall, ringingEndFor } from './incoming.js';
import { DEFAULT_CALL_TIMEOUT_MS, DEFAULT_DATA_CHANNEL_LABEL, RING_FOR_MS, type CallOptions } from './options.js';
import { encodeMessage, readCallBody, signalTypeOf, type CallMessage } from './protocol.js';
import type { IceServer, PeerConnectionConstructor, PeerConnectionLike } from './rtc.js';

/** What the calls module needs from the SDK core. */
export interface CallsHost {
  /** The signed-in account and this device; null when signed out. */
  me(): { username: string; deviceId: string } | null;
  /** The core's send path: encrypted to `username`'s key and signed with this device's (POST /signaling/send). */
  send(username: string, type: SignalType, payload: string, options: { toDevice?: string; sessionId: string }): Promise<SendResult>;
  /** GET /signaling/ice-servers, authenticated. */
  iceServers(): Promise<{ iceServers: IceServer[]; ttl: number }>;
  /** Hands a ringing call to the app's 'call' handlers; false when there are none. */
  ring(call: IncomingCall): boolean;
  report(error: SignalboxError): void;
  /** The RTCPeerConnection to use (the injected `rtc` or the global one); null without WebRTC (Node). */
  peerConnection: PeerConnectionConstructor | null;
  /**
   * Browser tabs sharing this device (client/src/tabLeader.ts): claims a ringing call for this tab before it
   * is accepted or declined; false when another tab of the device claimed it first. Absent: one tab.
   */
  claim?(sessionId: string, as: 'accepted' | 'rejected'): Promise<boolean>;
}

/** An outgoing call nobody answered yet. */
interface Dial {
  call: Call;
  options: CallOptions;
  /** How many devices of the callee the offer rang (from the offer's send). */
  devices: number;
  /** Set in a glare this side lost: call() resolves with the call it answered instead. */
  yieldTo: ((answered: Promise<Call>) => void) | null;
}

/** Session ids remembered as ended, so their late or redelivered signals ring nothing. */
const REMEMBERED_SESSIONS = 1024;
/** ICE servers are fetched again after this share of their credentials' lifetime. */
const ICE_REFRESH_SHARE = 0.5;

/**
 * Calls over the mailbox: `call()` and the 'call' event, one `sessionId` per call, every message of
 * it encrypted and signed by the core's send path. The protocol is described in protocol.ts.
 */
export class Calls {
  private readonly calls = new Map<string, Call>();
  private readonly dials = new Map<string, Dial>();
  private readonly ringing = new Map<string, IncomingCall>();
  private readonly finished = new Set<string>();
  /** Our calls that ended before anyone answered, with the callee: a late answer to one gets a bye. */
  private readonly ended = new Map<string, string>();
  /** Per session, the chain of sends: messages of one call leave in order (offer before its candidates). */
  private readonly queues = new Map<string, Promise<unknown>>();
  private ice: { servers: IceServer[]; until: number } | null = null;
  /** Our outgoing calls dropped in a glare we lost: their end is not call()'s failure. */
  private readonly yielded = new Set<string>();

  constructor(private readonly host: CallsHost) {}

  /** Calls `username` on every device of theirs; resolves once connected with the device that answered first. */
  async call(username: string, options: CallOptions = {}): Promise<Call> {
    const me = this.requireMe();
    const peer = normaliseUsername(username);
    // Signals to one's own name carry the "stop ringing" notes between one's devices, not calls.
    if (peer === me.username) throw new SignalboxError('validation_failed', 'You cannot call your own account.');
    const pc = await this.peerConnection(options);
    const channelOption = options.dataChannel ?? true;
    const channel =
      channelOption === false
        ? null
        : pc.createDataChannel(channelOption === true ? DEFAULT_DATA_CHANNEL_LABEL : (channelOption.label ?? DEFAULT_DATA_CHANNEL_LABEL), channelInit(channelOption));
    addStream(pc, options.stream);
    const sessionId = randomId();
    const call = new Call({ peer, sessionId, pc, link: this.linkFor(peer, sessionId), polite: false, peerDevice: null, channel, expectChannel: channel !== null });
    const dial: Dial = { call, options, devices: 0, yieldTo: null };
    // Registered before the offer leaves: a crossing offer from the peer must see this one (glare).
    this.calls.set(sessionId, call);
    this.dials.set(sessionId, dial);
    abortable(call, options.signal);
    return new Promise<Call>((resolve, reject) => {
      dial.yieldTo = (answered) => void answered.then(resolve, reject);
      call.offer().catch((err: unknown) => call.end('failed', 'local', false, asError(err)));
      call.connected(options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS).then(resolve, (err: unknown) => {
        if (call.closed?.reason !== 'cancelled' || call.closed.by !== 'local' || !this.yielded.has(sessionId)) reject(asError(err));
      });
    });
  }

  /** Ends every call and ringing on this device (sign-out); resolves once their byes are sent. */
  async endAll(): Promise<void> {
    for (const call of [...this.calls.values()]) void call.hangup(); // the byes are awaited below, with the queues
    for (const incoming of [...this.ringing.values()]) incoming.stop('cancelled');
    await Promise.all([...this.queues.values()]);
  }

  /** Another tab of this device accepted or declined the call `sessionId` (tabLeader.ts): it stops ringing here. */
  takenInAnotherTab(sessionId: string, as: 'accepted' | 'rejected'): void {
    this.ringing.get(sessionId)?.stop(as === 'accepted' ? 'answered-elsewhere' : 'rejected');
  }

  /** The inbox tap: takes this module's signals (and only those); true when it took `signal`. */
  readonly tap = async (signal: ReceivedSignal, envelope: Envelope): Promise<boolean> => {
    const body = readCallBody(signal.type, signal.payload);
    if (body.kind === 'other') return false;
    if (body.kind === 'invalid') {
      // Marked as ours, so it is not the app's; and not a message this version can act on: dropped, reported.
      this.host.report(
        new SignalboxError('bad_call_message', `Dropped ${signal.type} ${signal.id} from ${signal.from}: ${body.why} (docs/protocol.md "Calls").`, {
          details: { signal: { id: signal.id, from: signal.from, fromDevice: signal.fromDevice, type: signal.type, sessionId: signal.sessionId } },
        }),
      );
      return true;
    }
    const message = body.message;
    const me = this.host.me();
    if (!me) return false;
    // The inbox checked the envelope against the signal: its sessionId and fromDevice are the signed ones.
    if (envelope.sessionId === null) {
      this.host.report(new SignalboxError('bad_call_message', `Dropped ${signal.type} ${signal.id} from ${signal.from}: a call message without a sessionId.`));
      return true;
    }
    const sid = envelope.sessionId;
    const fromDevice = envelope.fromDevice;
    try {
      if (signal.from === me.username) {
        this.fromOwnDevice(sid, message);
        return true;
      }
      const call = this.calls.get(sid);
      if (call) {
        if (signal.from === call.peer) await this.toCall(call, message, fromDevice, me.deviceId);
        return true;
      }
      const incoming = this.ringing.get(sid);
      if (incoming) {
        // Only the calling device speaks for a ringing call: another device of the caller's account has no part in it.
        if (signal.from === incoming.from && fromDevice === incoming.fromDevice) this.toRinging(incoming, message, me.deviceId);
        return true;
      }
      if (this.finished.has(sid)) {
        // An answer to a call that ended here (cancelled before the answer came): that device is told at
        // once, so its accept() fails now rather than waiting for its timeout.
        if (message.kind === 'answer' && this.ended.get(sid) === signal.from) void this.post(signal.from, sid, { kind: 'bye', reason: 'cancelled' }, fromDevice);
        return true;
      }
      if (message.kind !== 'offer') return true; // late signals of an ended call
      return this.offered(signal.from, fromDevice, sid, envelope.ts, message.sdp, me);
    } catch (err) {
      this.host.report(asError(err));
      return true;
    }
  };

  /** Another device of this account accepted or declined a call ringing here. */
  private fromOwnDevice(sid: string, message: CallMessage): void {
    const incoming = this.ringing.get(sid);
    if (message.kind === 'answered') incoming?.stop('answered-elsewhere');
    else if (message.kind === 'declined') incoming?.stop('rejected');
  }

  private async toCall(call: Call, message: CallMessage, fromDevice: string, myDevice: string): Promise<void> {
    const dial = this.dials.get(call.sessionId);
    if (dial) {
      if (message.kind === 'answer') {
        // The first answer wins. The callee's other devices are told to stop ringing, all in one bye
        // that the winner ignores (it names the winner): the caller does not know the others' ids.
        this.dials.delete(call.sessionId);
        await call.answered(fromDevice, message.sdp);
        if (dial.devices > 1) void this.post(call.peer, call.sessionId, { kind: 'bye', reason: 'answered-elsewhere', answeredBy: fromDevice }, undefined);
      } else if (message.kind === 'bye') {
        call.end(message.reason, 'remote', false); // declined on one device: declined
      }
      return;
    }
    if (fromDevice !== call.peerDevice) {
      // A second device accepted before our bye reached it: it lost.
      if (message.kind === 'answer') void this.post(call.peer, call.sessionId, { kind: 'bye', reason: 'answered-elsewhere' }, fromDevice);
      return;
    }
    if (message.kind === 'bye' && message.answeredBy === myDevice) return; // the bye that stops the others ringing
    await call.receive(message);
  }

  private toRinging(incoming: IncomingCall, message: CallMessage, myDevice: string): void {
    if (message.kind === 'ice') incoming.addCandidate(message.candidate);
    else if (message.kind === 'bye' && message.answeredBy !== myDevice) incoming.stop(ringingEndFor(message.reason));
  }

  /** A new offer: glare with our own unanswered call to the same user, or a call that rings here. */
  private offered(from: string, fromDevice: string, sessionId: string, madeAt: number, sdp: string, me: { username: string; deviceId: string }): boolean {
    const glare = [...this.dials.values()].find((d) => d.call.peer === from);
    if (glare) {
      // Both called each other. The lower (username, deviceId) yields: it drops its own offer and
      // answers the other's, and its call() resolves with that call. The higher one ignores the
      // offer it got: its own will be answered. Both sides compute the same order.
      const iYield = me.username < from || (me.username === from && me.deviceId < fromDevice);
      if (!iYield) {
        this.remember(sessionId);
        return true;
      }
      this.yielded.add(glare.call.sessionId);
      this.dials.delete(glare.call.sessionId);
      glare.call.end('cancelled', 'local', true); // the peer's other devices stop ringing with our offer
      const incoming = new IncomingCall(from, fromDevice, sessionId, sdp, this.incomingLink, RING_FOR_MS);
      this.ringing.set(incoming.sessionId, incoming); // not rung: registered so the caller's candidates are kept
      glare.yieldTo?.(incoming.accept(glare.options));
      return true;
    }
    if (!this.host.peerConnection) return false; // no WebRTC here (Node): the app's 'signal' handlers may want it
    // An offer made longer ago than a call rings (signed time: a replayed one too) is missed, not ringing.
    if (Math.abs(Date.now() - madeAt) > RING_FOR_MS) {
      this.remember(sessionId);
      return true;
    }
    const incoming = new IncomingCall(from, fromDevice, sessionId, sdp, this.incomingLink, RING_FOR_MS);
    this.ringing.set(incoming.sessionId, incoming);
    if (!this.host.ring(incoming)) {
      // Nobody listens for calls: the app's 'signal' handlers get the offer instead.
      this.ringing.delete(incoming.sessionId);
      return false;
    }
    return true;
  }

  private readonly incomingLink = {
    accept: async (incoming: IncomingCall, sdp: string, options: CallOptions): Promise<Call> => {
      const me = this.requireMe();
      if (this.host.claim && !(await this.host.claim(incoming.sessionId, 'accepted'))) {
        this.ringing.delete(incoming.sessionId);
        this.remember(incoming.sessionId);
        throw new SignalboxError('call_answered_elsewhere', 'Another tab of this device took this call first.');
      }
      let pc: PeerConnectionLike;
      try {
        pc = await this.peerConnection(options);
      } catch (err) {
        this.ringing.delete(incoming.sessionId);
        this.remember(incoming.sessionId);
        throw err;
      }
      if (incoming.state !== 'accepted') {
        // The caller gave up while this was being set up: accept() has rejected already (call_ended).
        pc.close();
        throw endedError({ reason: 'cancelled', by: 'remote' });
      }
      addStream(pc, options.stream);
      const call = new Call({
        peer: incoming.from,
        sessionId: incoming.sessionId,
        pc,
        link: this.linkFor(incoming.from, incoming.sessionId),
        polite: true,
        peerDevice: incoming.fromDevice,
        channel: null,
        expectChannel: incoming.hasDataChannel,
      });
      abortable(call, options.signal);
      // The caller ending the call before it connects (its bye, or our answer reaching a call it gave
      // up) is the caller giving up on a ringing call: accept() rejects call_ended at once and 'close' fires.
      let up = false;
      call.on('close', (info) => {
        if (!up && info.by === 'remote' && (info.reason === 'cancelled' || info.reason === 'timeout')) incoming.stop(ringingEndFor(info.reason));
      });
      // From here the call takes this session's signals; what came while setting up is handed over.
      this.calls.set(call.sessionId, call);
      this.ringing.delete(call.sessionId);
      try {
        await call.answer(sdp, incoming.takeCandidates());
      } catch (err) {
        call.end('failed', 'local', true, asError(err));
        throw endedError(call.closed!);
      }
      // After the answer, which is what the caller waits for: this account's other devices stop ringing.
      void this.post(me.username, call.sessionId, { kind: 'answered', answeredBy: me.deviceId }, undefined);
      const connected = await call.connected(options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS);
      up = true;
      return connected;
    },
    reject: (incoming: IncomingCall): void => {
      const me = this.requireMe();
      const decline = () => {
        void this.post(incoming.from, incoming.sessionId, { kind: 'bye', reason: 'rejected' }, incoming.fromDevice);
        void this.post(me.username, incoming.sessionId, { kind: 'declined' }, undefined);
      };
      // With several tabs, only the first to claim the call answers for the device.
      if (!this.host.claim) decline();
      else void this.host.claim(incoming.sessionId, 'rejected').then((claimed) => claimed && decline());
    },
    ended: (incoming: IncomingCall): void => {
      this.ringing.delete(incoming.sessionId);
      if (incoming.state !== 'accepted') this.remember(incoming.sessionId);
    },
  };

  private linkFor(peer: string, sessionId: string) {
    return {
      post: async (message: CallMessage, toDevice: string | undefined): Promise<void> => {
        const result = await this.post(peer, sessionId, message, toDevice);
        const dial = this.dials.get(sessionId);
        if (dial && message.kind === 'offer' && result) {
          dial.devices = result.devices;
          // Nobody to ring (no device), or nobody who can hear it ring (none seen lately, none push can
          // wake): call() rejects `unavailable` now instead of after its timeout. The stored offer is
          // withdrawn by a bye: a device that comes back gets both in one batch, so its ring ends at
          // once ('close' with 'cancelled': a missed call) instead of ringing for a call long gone.
          if (result.devices === 0) dial.call.end('unavailable', 'remote', false);
          else if (result.reachable === 0) dial.call.end('unavailable', 'remote', true);
        }
      },
      ended: (call: Call): void => {
        this.calls.delete(call.sessionId);
        if (this.dials.delete(call.sessionId)) {
          this.ended.set(call.sessionId, call.peer);
          if (this.ended.size > REMEMBERED_SESSIONS) this.ended.delete(this.ended.keys().next().value as string);
        }
        this.remember(call.sessionId);
      },
    };
  }

  /**
   * Sends one call message in its session's order. A failed send is reported; a failed offer or answer
   * ends the call (with the server's error, e.g. not_connected), since nothing can follow it.
   */
  private post(to: string, sessionId: string, message: CallMessage, toDevice: string | undefined): Promise<SendResult | null> {
    const key = `${sessionId}:${to}`;
    const previous = this.queues.get(key) ?? Promise.resolve();
    const me = this.host.me(); // now: a bye queued at sign-out still says which device it came from
    const sent = previous.then(() => {
      if (!me) throw new SignalboxError('signed_out', 'Not signed in.');
      const payload = encodeMessage(message);
      return this.host.send(to, signalTypeOf(message), payload, { sessionId, ...(toDevice ? { toDevice } : {}) });
    });
    const settled = sent.then(
      (result) => result,
      (err: unknown) => {
        const error = asError(err);
        const call = this.calls.get(sessionId);
        if (call && (message.kind === 'offer' || message.kind === 'answer')) call.end('failed', 'local', false, error);
        else this.host.report(error);
        return null;
      },
    );
    this.queues.set(key, settled);
    void settled.then(() => {
      if (this.queues.get(key) === settled) this.queues.delete(key);
    });
    return settled;
  }

  private async peerConnection(options: CallOptions): Promise<PeerConnectionLike> {
    const RTCPeerConnection = this.host.peerConnection;
    if (!RTCPeerConnection) {
      throw new SignalboxError('no_webrtc', 'No RTCPeerConnection here: calls need a browser, or react-native-webrtc passed as `rtc`.');
    }
    return new RTCPeerConnection({ iceServers: await this.iceServers(), ...(options.iceTransportPolicy ? { iceTransportPolicy: options.iceTransportPolicy } : {}) });
  }

  /** The ICE servers (TURN credentials included), fetched again when half their lifetime is gone. */
  private async iceServers(): Promise<IceServer[]> {
    if (this.ice && Date.now() < this.ice.until) return this.ice.servers;
    const { iceServers, ttl } = await this.host.iceServers();
    this.ice = { servers: iceServers, until: Date.now() + ttl * 1000 * ICE_REFRESH_SHARE };
    return iceServers;
  }

  private requireMe(): { username: string; deviceId: string } {
    const me = this.host.me();
    if (!me) throw new SignalboxError('signed_out', 'Not signed in: call login() or register() first.');
    return me;
  }

  private remember(sessionId: string): void {
    this.finished.add(sessionId);
    if (this.finished.size > REMEMBERED_SESSIONS) this.finished.delete(this.finished.values().next().value as string);
  }
}

/** Aborting `signal` ends `call` (cancelled while it rings, hung up once answered), the peer told. */
function abortable(call: Call, signal: AbortSignal | undefined): void {
  if (!signal) return;
  const abort = () => call.end(call.peerDevice ? 'hangup' : 'cancelled', 'local', true);
  if (signal.aborted) {
    abort();
    return;
  }
  signal.addEventListener('abort', abort, { once: true });
  call.on('close', () => signal.removeEventListener('abort', abort));
}

function channelInit(option: boolean | { label?: string; ordered?: boolean; maxPacketLifeTime?: number; maxRetransmits?: number; protocol?: string }) {
  if (typeof option === 'boolean') return undefined;
  const { label: _label, ...init } = option;
  return init;
}

function asError(err: unknown): SignalboxError {
  return err instanceof SignalboxError ? err : new SignalboxError('internal', err instanceof Error ? err.message : String(err), { cause: err });
}

/** 128 random bits, hex: the call's sessionId. */
function randomId(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
