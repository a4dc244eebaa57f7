import { seal, unseal, type PrivateKey, type PublicKey } from './crypto.js';
import { SignalboxError } from './errors.js';
import type { KeyValueStorage } from './storage.js';

// The one envelope every SDK payload travels in (docs/protocol.md "The envelope"): plain signals, call
// messages and device-link messages alike. The server's signal says who sent what to whom, of which
// type and session, but none of that is signed; the envelope repeats it under the sender's OpenPGP
// signature, with a time and a nonce, and the receiver checks the two against each other. So a server
// cannot re-label a signal (another type or session), re-address it (another account or device),
// pass it off as another device's, or replay it under a new id or long after it was sent.

/** The envelope format this SDK writes and the only one it reads. */
export const ENVELOPE_VERSION = 1;

/** How far a sender's clock may run ahead of the receiver's (and how far past SIGNAL_TTL a signal may be). */
export const CLOCK_SKEW_MS = 60_000;

/** The server's default SIGNAL_TTL (docs/api.md): how long a signal can wait in a mailbox. */
export const DEFAULT_SIGNAL_TTL_MS = 300_000;

/** What the outer (server's) signal must agree with, as the sender states it. */
export interface EnvelopeAddress {
  /** The sending account (lower-case username). */
  from: string;
  /** The sending device's id. */
  fromDevice: string;
  /** The receiving account (lower-case username); the sender's own for its other devices. */
  to: string;
  /** The receiving device, or null for every device of `to`. */
  toDevice: string | null;
  /** The signal type it travels as: offer, answer, ice, bye or custom. */
  type: string;
  sessionId: string | null;
}

/** The signed plaintext of every SDK payload, in this field order (docs/protocol.md). */
export interface Envelope extends EnvelopeAddress {
  v: typeof ENVELOPE_VERSION;
  /** When it was sealed: integer milliseconds since the Unix epoch, by the sender's clock. */
  ts: number;
  /** 128 random bits, 32 lower-case hex digits: unique per envelope. */
  nonce: string;
  /** The payload itself (the app's text, or a call or link message's JSON). */
  body: string;
}

/** The outer signal as the server delivered it, and who this device is: what an envelope is checked against. */
export interface OpenContext {
  /** The signal's id: a nonce seen before under this same id is the mailbox's redelivery, not a replay. */
  id: string;
  from: string;
  fromDevice: string | null;
  type: string;
  sessionId: string | null;
  /** This account (lower-case username). */
  me: string;
  /** This device's id. */
  myDevice: string;
}

export interface OpenOptions {
  /** The receiver's clock, ms since the epoch (default Date.now()). */
  now?: number;
  /** The server's SIGNAL_TTL in ms (default 300 000). */
  signalTtlMs?: number;
}

/** The envelope's JSON text: the fields in the one order docs/protocol.md gives. */
export function encodeEnvelope(e: Envelope): string {
  return JSON.stringify({
    v: e.v,
    from: e.from,
    fromDevice: e.fromDevice,
    to: e.to,
    toDevice: e.toDevice,
    type: e.type,
    sessionId: e.sessionId,
    ts: e.ts,
    nonce: e.nonce,
    body: e.body,
  });
}

/** A new envelope for `body` to `address`, stamped now with a fresh nonce. */
export function makeEnvelope(address: EnvelopeAddress, body: string, now: number = Date.now()): Envelope {
  return { v: ENVELOPE_VERSION, ...address, ts: Math.floor(now), nonce: randomNonce(), body };
}

/**
 * Seals `body` for `address`: the envelope, signed with `signer` then encrypted to `recipient`, ASCII-armored.
 * Returns the armored message (the signal's payload) and the envelope it carries.
 */
export async function sealEnvelope(
  address: EnvelopeAddress,
  body: string,
  recipient: PublicKey,
  signer: PrivateKey,
  now: number = Date.now(),
): Promise<{ armored: string; envelope: Envelope }> {
  const envelope = makeEnvelope(address, body, now);
  return { armored: await seal(encodeEnvelope(envelope), recipient, signer), envelope };
}

/**
 * Decrypts `armored` with `me`, verifies it against `sender`'s key, and checks its envelope against the
 * outer signal (`checkEnvelope`). Throws the crypto codes of `unseal`, or `bad_envelope`.
 */
export async function openEnvelope(
  armored: string,
  me: PrivateKey,
  sender: PublicKey,
  context: OpenContext,
  seen: NonceLog,
  options: OpenOptions = {},
): Promise<Envelope> {
  const plaintext = await unseal(armored, me, sender);
  const envelope = parseEnvelope(plaintext);
  checkEnvelope(envelope, context, options);
  // The same clock as the time check: a log pruned by another clock could forget a nonce still in the window.
  await seen.check(envelope.nonce, context.id, envelope.ts, options.now);
  return envelope;
}

/** The envelope in a signed plaintext; `bad_envelope` when it is not one (malformed, another version). */
export function parseEnvelope(plaintext: string): Envelope {
  let value: unknown;
  try {
    value = JSON.parse(plaintext);
  } catch {
    throw badEnvelope('the signed payload is not an envelope (not JSON)');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badEnvelope('the signed payload is not an envelope');
  const e = value as Record<string, unknown>;
  const str = (v: unknown) => typeof v === 'string';
  const strOrNull = (v: unknown) => v === null || typeof v === 'string';
  if (e.v !== ENVELOPE_VERSION) throw badEnvelope(`envelope version ${String(e.v)} is not ${ENVELOPE_VERSION}`);
  if (
    !str(e.from) ||
    !str(e.fromDevice) ||
    !str(e.to) ||
    !strOrNull(e.toDevice) ||
    !str(e.type) ||
    !strOrNull(e.sessionId) ||
    typeof e.ts !== 'number' ||
    !Number.isSafeInteger(e.ts) ||
    !str(e.nonce) ||
    !NONCE_FORMAT.test(e.nonce) ||
    !str(e.body)
  ) {
    throw badEnvelope('the envelope has a missing or mistyped field');
  }
  return e as unknown as Envelope;
}

/**
 * The checks that need no state: the envelope agrees with the outer signal, names this account (and
 * this device, or none), and was made within the acceptance window. `bad_envelope` otherwise.
 */
export function checkEnvelope(e: Envelope, c: OpenContext, options: OpenOptions = {}): void {
  const now = options.now ?? Date.now();
  const ttl = options.signalTtlMs ?? DEFAULT_SIGNAL_TTL_MS;
  const differs: string[] = [];
  if (e.from !== c.from) differs.push('from');
  if (e.fromDevice !== c.fromDevice) differs.push('fromDevice');
  if (e.type !== c.type) differs.push('type');
  if (e.sessionId !== c.sessionId) differs.push('sessionId');
  if (differs.length > 0) throw badEnvelope(`the signed ${differs.join(', ')} disagree${differs.length === 1 ? 's' : ''} with the signal's`, { fields: differs });
  if (e.to !== c.me) throw badEnvelope(`it is addressed to ${e.to}, not to this account`, { fields: ['to'] });
  if (e.toDevice !== null && e.toDevice !== c.myDevice) throw badEnvelope('it is addressed to another device of this account', { fields: ['toDevice'] });
  if (e.ts < now - ttl - CLOCK_SKEW_MS) throw badEnvelope('it is older than a signal can wait in a mailbox (a replay)', { fields: ['ts'] });
  if (e.ts > now + CLOCK_SKEW_MS) throw badEnvelope("it is dated more than a minute in this device's future", { fields: ['ts'] });
}

/** 128 bits as 32 lower-case hex digits. */
export const NONCE_FORMAT = /^[0-9a-f]{32}$/;

export function randomNonce(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** [nonce, signal id, envelope ts] of each envelope accepted within the window. */
type NonceEntries = Array<[string, string, number]>;

/**
 * The nonces this account's device accepted, with the signal id each came under and its time, kept in
 * `storage` so a restart does not reopen replays. An entry is needed only while its envelope's `ts`
 * is inside the acceptance window (older ones fail the time check anyway), so it is pruned after that;
 * at most `max` entries are kept (oldest dropped first), far more than a mailbox holds in one window.
 * Each check re-reads storage, so several tabs (one localStorage) add to one log instead of overwriting;
 * the parsed log is reused while storage still holds the text this instance last read or wrote, and a
 * new entry is appended to that text, so a check costs a lookup and one write, not a JSON round trip.
 */
export class NonceLog {
  /** The log as last read or written, and the storage key it is under (the account may change). */
  private parsed: { text: string; entries: NonceEntries; ids: Map<string, string> } | null = null;
  private parsedKey: string | null = null;

  constructor(
    private readonly storage: KeyValueStorage,
    private readonly key: () => string,
    private readonly signalTtlMs: () => number = () => DEFAULT_SIGNAL_TTL_MS,
    private readonly max = 4096,
  ) {}

  /**
   * Records `nonce` as seen under signal `id`; `bad_envelope` when it was seen under another id (a
   * replay). The same id again is the mailbox's at-least-once redelivery, which the inbox dedups by id.
   */
  async check(nonce: string, id: string, ts: number, now: number = Date.now()): Promise<void> {
    const key = this.key();
    const log = this.read(key, (await this.storage.getItem(key)) ?? '');
    const earlier = log.ids.get(nonce);
    if (earlier !== undefined) {
      if (earlier === id) return;
      throw badEnvelope(`it repeats the nonce of signal ${earlier} (a replay)`, { fields: ['nonce'], replayOf: earlier });
    }
    const entry: [string, string, number] = [nonce, id, ts];
    const oldest = now - this.signalTtlMs() - CLOCK_SKEW_MS; // as checkEnvelope's lower bound
    const first = log.entries[0];
    let text: string;
    if (first && (first[2] < oldest || log.entries.length >= this.max)) {
      // Arrival order is roughly time order: pruning starts when the first entry expires (or the log is full).
      // A full log sheds a tenth at once, so pruning (a JSON round trip) is paid once per max/10 checks.
      const kept = log.entries.filter((e) => e[2] >= oldest).slice(-Math.max(1, Math.floor(this.max * 0.9) - 1));
      kept.push(entry);
      text = JSON.stringify(kept);
      this.parsed = { text, entries: kept, ids: new Map(kept.map((e) => [e[0], e[1]])) };
    } else {
      text = log.entries.length === 0 ? JSON.stringify([entry]) : `${log.text.slice(0, -1)},${JSON.stringify(entry)}]`;
      log.entries.push(entry);
      log.ids.set(nonce, id);
      log.text = text;
    }
    await this.storage.setItem(key, text);
  }

  /** The log in `text`: the one parsed before when storage still holds it, else parsed now (a bad value counts as empty). */
  private read(key: string, text: string): { text: string; entries: NonceEntries; ids: Map<string, string> } {
    if (this.parsed?.text === text && this.parsedKey === key) return this.parsed;
    let entries: NonceEntries = [];
    try {
      const value = JSON.parse(text) as unknown;
      if (Array.isArray(value)) {
        entries = value.filter(
          (e): e is [string, string, number] => Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'string' && typeof e[2] === 'number',
        );
      }
    } catch {
      // absent or written by something else: an empty log
    }
    // Text that is not exactly a clean array of entries is rewritten from the parsed entries.
    const clean = JSON.stringify(entries);
    this.parsedKey = key;
    this.parsed = { text: clean === text ? text : clean, entries, ids: new Map(entries.map((e) => [e[0], e[1]])) };
    return this.parsed;
  }
}

function badEnvelope(why: string, details: Record<string, unknown> = {}): SignalboxError {
  return new SignalboxError('bad_envelope', `Bad envelope: ${why}.`, { details });
}
