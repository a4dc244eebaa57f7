import { openEnvelope, type Envelope, type NonceLog } from './envelope.js';
import { SignalboxError, isTransient } from './errors.js';
import type { Emitter, KeyChange, ReceivedSignal, ServerEvent, SignalboxEventMap } from './events.js';
import type { DeviceKeys } from './keys.js';
import type { PeerKeys } from './peers.js';
import type { ServerEventType, WireSignal } from './types.js';

/**
 * Sees each decrypted signal before the app's 'signal' handlers; returning true consumes it. This is
 * where the calls module plugs in (offer/answer/ice/bye of its sessions become calls, not signals).
 */
export type SignalTap = (signal: ReceivedSignal, envelope: Envelope) => boolean | Promise<boolean>;

/**
 * Sees each signal as the server delivered it, before decryption; returning true consumes it. For
 * messages not signed with the sender's published key: device linking (linking.ts), whose request is
 * signed with a one-time key.
 */
export type WireTap = (signal: WireSignal) => boolean | Promise<boolean>;

/** Failures of a received signal that no retry can mend: it is dropped, reported on 'error', and acknowledged. */
const DROPPED: ReadonlySet<string> = new Set(['not_encrypted', 'undecryptable', 'unsigned', 'bad_signature', 'bad_envelope', 'key_changed', 'no_peer_key', 'no_key']);

/** A signal whose handlers threw this many times is given up (reported), so one bad signal cannot block the mailbox until it expires. */
export const MAX_HANDLER_ATTEMPTS = 5;

/** Ids remembered as handled: far more than a device's mailbox holds (MAILBOX_MAX, default 500 per device) within a SIGNAL_TTL. */
const REMEMBERED_IDS = 4096;

/** Thrown by an app handler (or a 'pgp.changed' handler refusing a new key): the signal comes again later. */
class HandlerFailure extends Error {
  constructor(readonly original: unknown) {
    super('a handler threw');
  }
}

export interface InboxDeps {
  keys: DeviceKeys;
  peers: PeerKeys;
  emitter: Emitter<SignalboxEventMap>;
  reportError: (error: SignalboxError) => void;
  /** This account and device: what each envelope must be addressed to. */
  me: () => { username: string; deviceId: string };
  /** The nonces accepted lately (envelope.ts), kept in storage. */
  nonces: NonceLog;
  /** The server's SIGNAL_TTL, ms: how old an envelope may be (plus a minute). */
  signalTtlMs: number;
}

/**
 * Turns a poll's batch into the app's 'signal' and 'event' calls: each id handed out once (delivery
 * is at least once), in order, decrypted and verified; server events parsed. It says whether every
 * signal of the batch was handled, which is what allows the poll loop to acknowledge the batch.
 */
export class Inbox {
  private readonly handled = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly taps: SignalTap[] = [];
  private readonly wireTaps: WireTap[] = [];

  constructor(private readonly d: InboxDeps) {}

  /** Adds a tap (see SignalTap); returns its removal. */
  addTap(tap: SignalTap): () => void {
    this.taps.push(tap);
    return () => {
      const at = this.taps.indexOf(tap);
      if (at >= 0) this.taps.splice(at, 1);
    };
  }

  /** Adds a tap on signals before decryption (see WireTap). */
  addWireTap(tap: WireTap): void {
    this.wireTaps.push(tap);
  }

  /**
   * Handles the batch in order; true when every signal in it was handled (or dropped), false when a
   * handler threw, so the batch stays unacknowledged and its remaining signals come again. Network
   * trouble and an ended session are thrown to the poll loop.
   */
  async take(batch: readonly WireSignal[]): Promise<boolean> {
    for (const signal of batch) {
      if (this.handled.has(signal.id)) continue;
      try {
        await this.takeOne(signal);
      } catch (err) {
        if (err instanceof SignalboxError && DROPPED.has(err.code)) {
          this.d.reportError(describeDrop(err, signal));
        } else if (err instanceof SignalboxError && (isTransient(err) || err.code === 'signed_out' || err.status === 429)) {
          throw err; // not the signal's fault: the loop waits and the signal comes again
        } else if (!this.giveUpAfterFailure(signal, err instanceof HandlerFailure ? err.original : err)) {
          return false;
        }
      }
      this.remember(signal.id);
    }
    return true;
  }

  /** Counts a failed attempt and reports it; true when that was the last attempt and the signal is given up. */
  private giveUpAfterFailure(signal: WireSignal, cause: unknown): boolean {
    const attempts = (this.failures.get(signal.id) ?? 0) + 1;
    const last = attempts >= MAX_HANDLER_ATTEMPTS;
    if (last) this.failures.delete(signal.id);
    else this.failures.set(signal.id, attempts);
    const what = last ? `gave up after ${attempts} attempts` : 'it will be delivered again';
    this.d.reportError(
      new SignalboxError('handler_failed', `A handler failed on ${signal.type} ${signal.id} from ${signal.from}: ${what}.`, {
        details: { signal: summary(signal), attempts, givenUp: last },
        cause,
      }),
    );
    return last;
  }

  private remember(id: string): void {
    this.failures.delete(id);
    this.handled.add(id);
    // A Set iterates in insertion order: the oldest id goes first.
    if (this.handled.size > REMEMBERED_IDS) this.handled.delete(this.handled.values().next().value as string);
  }

  private async takeOne(wire: WireSignal): Promise<void> {
    if (isServerEvent(wire.type)) {
      const { event } = await this.eventFrom({ ...wire, type: wire.type });
      if (event) await runHandlers(() => this.d.emitter.emitInOrder('event', event));
      return;
    }
    for (const tap of this.wireTaps) if (await tap(wire)) return;
    const envelope = await this.open(wire);
    const signal: ReceivedSignal = {
      id: wire.id,
      from: wire.from,
      fromDevice: wire.fromDevice ?? null,
      type: wire.type,
      payload: envelope.body,
      sessionId: wire.sessionId,
      createdAt: wire.createdAt,
    };
    await runHandlers(async () => {
      for (const tap of this.taps) if (await tap(signal, envelope)) return;
      await this.d.emitter.emitInOrder('signal', signal);
    });
  }

  private open(wire: WireSignal): Promise<Envelope> {
    return openSignal(wire, this.d);
  }

  /** The event for the app; a `pgp.changed` described with the fingerprint pinned here (it only informs: nothing is trusted by it). */
  private async eventFrom(wire: WireSignal & { type: ServerEventType }): Promise<{ event: ServerEvent | null }> {
    let payload: unknown = wire.payload;
    try {
      payload = JSON.parse(wire.payload) as unknown;
    } catch {
      // not JSON: handed on as the text it is
    }
    if (wire.type === 'pgp.changed' && isKeyChangePayload(payload)) {
      const change: KeyChange = await this.d.peers.serverReportedChange(payload.username, payload.fingerprint);
      payload = { ...payload, ...change };
    }
    return { event: { id: wire.id, type: wire.type, payload, createdAt: wire.createdAt } };
  }
}

/** What opening a received signal needs: this device's key, the sender's pinned key, who we are, the nonce log. */
export interface ReceiveDeps {
  keys: Pick<DeviceKeys, 'privateKey'>;
  peers: Pick<PeerKeys, 'trustedKey' | 'keyOf'>;
  me: () => { username: string; deviceId: string };
  nonces: NonceLog;
  signalTtlMs: number;
}

/**
 * The receive path of every signal (docs/protocol.md "Receiving"): the payload decrypted with this
 * device's key, verified against the sender's pinned key and its envelope checked against the signal.
 * When the pinned key does not verify it, the server's key is fetched again: the same key means a
 * forgery (`bad_signature`), another one `key_changed` (never trusted here). Exported so the protocol's
 * test vectors (docs/protocol-vectors/) run through exactly this code.
 */
export async function openSignal(wire: WireSignal, d: ReceiveDeps, options: { now?: number } = {}): Promise<Envelope> {
  const me = await d.keys.privateKey();
  const self = d.me();
  const context = {
    id: wire.id,
    from: wire.from,
    fromDevice: wire.fromDevice ?? null,
    type: wire.type,
    sessionId: wire.sessionId ?? null,
    me: self.username,
    myDevice: self.deviceId,
  };
  const senderKey = async (fresh: boolean) => {
    try {
      return fresh ? await d.peers.keyOf(wire.from, { fresh }) : await d.peers.trustedKey(wire.from);
    } catch (err) {
      // The sender's account is gone since it sent: nothing left to verify against.
      if (err instanceof SignalboxError && err.status === 404) throw new SignalboxError('no_peer_key', `${wire.from} no longer exists.`);
      throw err;
    }
  };
  const attempt = async (fresh: boolean) =>
    openEnvelope(wire.payload, me, await senderKey(fresh), context, d.nonces, { signalTtlMs: d.signalTtlMs, ...(options.now !== undefined ? { now: options.now } : {}) });
  try {
    return await attempt(false);
  } catch (err) {
    if (!(err instanceof SignalboxError) || err.code !== 'bad_signature') throw err;
    return attempt(true);
  }
}

/** Server events have dotted types (`connection.accepted`); clients can only send the plain ones. */
const isServerEvent = (type: string): type is ServerEventType => type.includes('.');

function isKeyChangePayload(p: unknown): p is { username: string; fingerprint: string | null } {
  if (typeof p !== 'object' || p === null) return false;
  const { username, fingerprint } = p as Record<string, unknown>;
  return typeof username === 'string' && (typeof fingerprint === 'string' || fingerprint === null);
}

/** Runs app code, marking what it throws (all of it, or what `isAppError` picks) as a handler failure. */
async function runHandlers<T>(body: () => Promise<T>, isAppError: (err: unknown) => boolean = () => true): Promise<T> {
  try {
    return await body();
  } catch (err) {
    throw isAppError(err) ? new HandlerFailure(err) : err;
  }
}

const summary = (s: WireSignal) => ({ id: s.id, from: s.from, fromDevice: s.fromDevice ?? null, type: s.type, sessionId: s.sessionId });

function describeDrop(err: SignalboxError, signal: WireSignal): SignalboxError {
  return new SignalboxError(err.code, `Dropped ${signal.type} ${signal.id} from ${signal.from}: ${err.message}`, {
    details: { signal: summary(signal) },
    cause: err,
  });
}
