import { fingerprintOf, generateDeviceKey, peekPlaintext, readPrivate, readPublicKey, type PrivateKey, type PublicKey } from './crypto.js';
import { NonceLog, openEnvelope, parseEnvelope, randomNonce, sealEnvelope, type EnvelopeAddress } from './envelope.js';
import { SignalboxError, isTransient } from './errors.js';
import type { ServerEvent } from './events.js';
import type { DeviceKeys, KeyInfo } from './keys.js';
import { formatCode, linkDigest, LINK_QR_PREFIX, parseCode } from './linkCode.js';
import type { Session } from './session.js';
import { storageKeys, type KeyValueStorage } from './storage.js';
import type { User, WireSignal } from './types.js';

// Device linking (docs/protocol.md "Device linking"), as Signal links a desktop to a phone: the new
// device makes a one-time key pair and shows a code committing to it; a device that has the account key
// is given the code by its user, finds the link request carrying that one-time key, and sends the
// account's private key encrypted to it, signed with the account key, to that one device. Both messages
// travel as signals to the account's own username, each in the SDK's one envelope (envelope.ts).

/** How long a link request can be approved, and the new device waits: 10 minutes. */
export const LINK_TTL_MS = 10 * 60_000;
/**
 * The new device sends its request again this often while it waits, so a device that starts polling
 * later (or was offline longer than SIGNAL_TTL, 5 minutes by default) still finds one in its mailbox.
 */
const RESEND_MS = 2 * 60_000;
/** How long approveLink waits for a link request to arrive when none has yet. */
const APPROVE_WAIT_MS = 30_000;
/** The sessionId of both link messages: this prefix and the link's id (32 hex digits). */
export const LINK_SESSION_PREFIX = 'signalbox-link:';
/** The outer signal type of link messages (docs/api.md: clients send only offer, answer, ice, bye or custom). */
const LINK_SIGNAL_TYPE = 'custom';

/** The new device's request, inside the envelope's `body`. */
interface LinkRequestBody {
  kind: 'link.request';
  linkId: string;
  /** The one-time public key, armored: the code commits to its fingerprint. */
  oneTimeKey: string;
  /** ms since the epoch: when the new device stops waiting. */
  expiresAt: number;
}

/** The answer, inside the envelope's `body`: sealed to the one-time key, signed with the account key. */
interface LinkResponseBody {
  kind: 'link.response';
  linkId: string;
  /** The account's private key, armored and unlocked (the encryption to the one-time key protects it). */
  privateKey: string;
}

/** What `devices.requestLink()` answers on the new device. */
export interface LinkRequest {
  /** 16 characters in 4 groups (`ABCD-EFGH-IJKL-MNOP`): show it, to be typed on a device that has the key. */
  code: string;
  /** The same code as a QR payload (`signalbox-link:1:` and the 16 characters). */
  qr: string;
  /** When the request lapses (ISO-8601). */
  expiresAt: string;
  /** Resolves once the account key arrived, was checked and stored; rejects `link_expired` after 10 minutes. */
  done: Promise<KeyInfo>;
}

/** What `devices.approveLink()` answers on the approving device. */
export interface LinkApproval {
  /** The new device the key was sent to. */
  deviceId: string;
  /** The account key's fingerprint it was given. */
  fingerprint: string;
}

/** A link request received on a device that has the key, until approved or lapsed. */
interface Received {
  linkId: string;
  deviceId: string;
  oneTimeKey: PublicKey;
  /** The 16 code characters its one-time key gives. */
  digest: string;
  expiresAt: number;
  used: boolean;
}

/** The request this (new) device is waiting on. */
interface Outgoing {
  linkId: string;
  owner: string;
  oneTime: PrivateKey;
  oneTimePublic: string;
  expiresAt: number;
  resolve: (info: KeyInfo) => void;
  reject: (error: SignalboxError) => void;
  timers: Array<ReturnType<typeof setTimeout>>;
}

export interface LinkingDeps {
  session: Session;
  keys: DeviceKeys;
  storage: KeyValueStorage;
  /** The clock (ms since the epoch); tests inject one. */
  now: () => number;
  /** The server's SIGNAL_TTL in ms: the envelope's age limit (envelope.ts). */
  signalTtlMs: number;
  /** Starts the poll loop if it is not running: link messages arrive through it. */
  ensurePolling: () => void;
  /** Hands an event to the app's 'event' handlers (`link.requested`). */
  emitEvent: (event: ServerEvent) => Promise<void>;
  reportError: (error: SignalboxError) => void;
}

/** Both ends of device linking; `take` is the inbox's tap for link messages. */
export class Linking {
  private outgoing: Outgoing | null = null;
  private received: Received[] = [];
  private readonly arrivals = new Set<() => void>();
  private readonly nonces: NonceLog;

  constructor(private readonly d: LinkingDeps) {
    this.nonces = new NonceLog(
      d.storage,
      () => storageKeys.nonces(this.me().username),
      () => d.signalTtlMs,
    );
  }

  /** New device: a one-time key, its code, and the request sent to the account's other devices. */
  async request(): Promise<LinkRequest> {
    const user = await this.currentUser();
    if (!user.pgp) throw new SignalboxError('no_key', 'The account has no published key to link to: call keys.ensure() to make one.');
    this.cancel(new SignalboxError('link_expired', 'A newer link request replaced this one.'));
    const made = await generateDeviceKey(`${user.username} (one-time link key)`);
    const digest = await linkDigest(made.fingerprint);
    const linkId = randomNonce();
    const expiresAt = this.d.now() + LINK_TTL_MS;
    let resolve!: (info: KeyInfo) => void;
    let reject!: (error: SignalboxError) => void;
    const done = new Promise<KeyInfo>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    done.catch(() => {}); // an app that never awaits `done` must not see an unhandled rejection at expiry
    const out: Outgoing = {
      linkId,
      owner: user.username,
      oneTime: await readPrivate(made.privateKey),
      oneTimePublic: made.publicKey,
      expiresAt,
      resolve,
      reject,
      timers: [],
    };
    this.outgoing = out;
    const accountKey = await readPublicKey(user.pgp.publicKey);
    await this.sendRequest(out, accountKey);
    out.timers.push(
      unref(setTimeout(() => this.finish(out, new SignalboxError('link_expired', 'No device approved the link within 10 minutes.')), LINK_TTL_MS)),
      unref(setInterval(() => void this.sendRequest(out, accountKey).catch((e: unknown) => this.report(e)), RESEND_MS)),
    );
    this.d.ensurePolling();
    return { code: formatCode(digest), qr: LINK_QR_PREFIX + digest, expiresAt: new Date(expiresAt).toISOString(), done };
  }

  /** A device with the key: sends it to the new device whose one-time key the code commits to. */
  async approve(code: string): Promise<LinkApproval> {
    const digest = parseCode(code);
    const accountKey = await this.d.keys.privateKey();
    // Only the account's published key is worth sending: the new device would refuse any other.
    const published = (await this.currentUser()).pgp;
    if (published?.fingerprint !== fingerprintOf(accountKey)) {
      throw new SignalboxError('key_mismatch', "This device's key is not the account's published key: it cannot approve a link.", {
        details: { deviceFingerprint: fingerprintOf(accountKey), publishedFingerprint: published?.fingerprint ?? null },
      });
    }
    this.d.ensurePolling();
    const request = await this.find(digest);
    request.used = true; // before sending: a second approval racing this one finds it used
    try {
      const me = this.me();
      const body: LinkResponseBody = { kind: 'link.response', linkId: request.linkId, privateKey: accountKey.armor() };
      const address: EnvelopeAddress = {
        from: me.username,
        fromDevice: this.myDevice(),
        to: me.username,
        toDevice: request.deviceId,
        type: LINK_SIGNAL_TYPE,
        sessionId: LINK_SESSION_PREFIX + request.linkId,
      };
      const { armored } = await sealEnvelope(address, JSON.stringify(body), request.oneTimeKey, accountKey, this.d.now());
      await this.d.session.request('POST', '/signaling/send', {
        body: { to: me.username, toDevice: request.deviceId, type: LINK_SIGNAL_TYPE, payload: armored, sessionId: address.sessionId, idempotencyKey: randomNonce() },
      });
    } catch (err) {
      request.used = false; // nothing was sent: the user may try again
      throw err;
    }
    return { deviceId: request.deviceId, fingerprint: fingerprintOf(accountKey) };
  }

  /**
   * The inbox's tap, before decryption: true for a link message of this account (consumed here),
   * false for anything else. Failures of a link message are reported on 'error' and the message dropped,
   * except network trouble and an ended session, which the poll loop retries.
   */
  async take(wire: WireSignal): Promise<boolean> {
    if (wire.type !== LINK_SIGNAL_TYPE || !wire.sessionId?.startsWith(LINK_SESSION_PREFIX)) return false;
    const me = this.d.session.user?.username;
    if (!me || wire.from !== me) return false; // a peer's custom signal: not ours to read
    const linkId = wire.sessionId.slice(LINK_SESSION_PREFIX.length);
    try {
      if (this.outgoing?.linkId === linkId && this.outgoing.owner === me) await this.takeResponse(wire, this.outgoing);
      else await this.takeRequest(wire, linkId);
    } catch (err) {
      if (!(err instanceof SignalboxError) || isTransient(err) || err.code === 'signed_out' || err.status === 429) throw err;
      this.d.reportError(
        new SignalboxError(err.code, `Dropped link message ${wire.id}: ${err.message}`, {
          details: { signal: { id: wire.id, fromDevice: wire.fromDevice ?? null } },
          cause: err,
        }),
      );
    }
    return true;
  }

  /**
   * The app stopped the client (`sb.stop()`): a new device's pending request ends (`done` rejects
   * `link_expired`) and is no longer re-sent, since no answer can arrive without polling.
   */
  stop(): void {
    this.cancel(new SignalboxError('link_expired', 'The client was stopped while waiting for a device link.'));
  }

  /** Forgets everything in flight (sign-out, another account). */
  reset(): void {
    this.cancel(new SignalboxError('signed_out', 'Signed out while waiting for a device link.'));
    this.received = [];
  }

  private async sendRequest(out: Outgoing, accountKey: PublicKey): Promise<void> {
    const body: LinkRequestBody = { kind: 'link.request', linkId: out.linkId, oneTimeKey: out.oneTimePublic, expiresAt: out.expiresAt };
    const address: EnvelopeAddress = {
      from: out.owner,
      fromDevice: this.myDevice(),
      to: out.owner,
      toDevice: null,
      type: LINK_SIGNAL_TYPE,
      sessionId: LINK_SESSION_PREFIX + out.linkId,
    };
    // Encrypted to the account key (only devices that hold it can read it), signed with the one-time key.
    const { armored } = await sealEnvelope(address, JSON.stringify(body), accountKey, out.oneTime, this.d.now());
    await this.d.session.request('POST', '/signaling/send', {
      body: { to: out.owner, type: LINK_SIGNAL_TYPE, payload: armored, sessionId: address.sessionId, idempotencyKey: randomNonce() },
    });
  }

  private async takeRequest(wire: WireSignal, linkId: string): Promise<void> {
    let accountKey: PrivateKey;
    try {
      accountKey = await this.d.keys.privateKey();
    } catch (err) {
      if (err instanceof SignalboxError && err.code === 'no_key') return; // another new device's request: nothing to give
      throw err;
    }
    // The request names the one-time key that signed it: read it first, then verify the whole envelope with it.
    const claimed = parseBody<LinkRequestBody>(parseEnvelope(await peekPlaintext(wire.payload, accountKey)).body, 'link.request');
    if (claimed.linkId !== linkId || typeof claimed.oneTimeKey !== 'string' || typeof claimed.expiresAt !== 'number') {
      throw new SignalboxError('bad_envelope', 'The link request is malformed.');
    }
    const oneTimeKey = await readPublicKey(claimed.oneTimeKey).catch((err: unknown) => {
      throw new SignalboxError('bad_envelope', 'The link request carries no readable public key.', { cause: err });
    });
    if (oneTimeKey.isPrivate()) throw new SignalboxError('bad_envelope', 'The link request carries a private key.');
    const envelope = await openEnvelope(wire.payload, accountKey, oneTimeKey, this.context(wire), this.nonces, { now: this.d.now(), signalTtlMs: this.d.signalTtlMs });
    const body = parseBody<LinkRequestBody>(envelope.body, 'link.request');
    // The signed lifetime, but never past 10 minutes from when it was sealed.
    const expiresAt = Math.min(body.expiresAt, envelope.ts + LINK_TTL_MS);
    if (expiresAt <= this.d.now()) return;
    const digest = await linkDigest(fingerprintOf(oneTimeKey));
    const known = this.received.find((r) => r.linkId === linkId && r.digest === digest);
    if (known) return; // a resend of a request this device has
    this.received = this.received.filter((r) => r.expiresAt > this.d.now());
    this.received.push({ linkId, deviceId: envelope.fromDevice, oneTimeKey, digest, expiresAt, used: false });
    for (const arrived of [...this.arrivals]) arrived();
    try {
      await this.d.emitEvent({
        id: null,
        type: 'link.requested',
        payload: { deviceId: envelope.fromDevice, expiresAt: new Date(expiresAt).toISOString() },
        createdAt: new Date(this.d.now()).toISOString(),
      });
    } catch (err) {
      this.d.reportError(new SignalboxError('handler_failed', 'A link.requested handler failed.', { cause: err }));
    }
  }

  private async takeResponse(wire: WireSignal, out: Outgoing): Promise<void> {
    if (this.d.now() >= out.expiresAt) {
      // Whatever the answer holds, the request is over (its envelope would fail the time check anyway).
      this.finish(out, new SignalboxError('link_expired', 'The link answer came after the 10 minutes the request was open.'));
      return;
    }
    const user = await this.currentUser();
    if (!user.pgp) throw new SignalboxError('no_peer_key', 'The account has no published key to check the link answer against.');
    const envelope = await openEnvelope(wire.payload, out.oneTime, await readPublicKey(user.pgp.publicKey), this.context(wire), this.nonces, {
      now: this.d.now(),
      signalTtlMs: this.d.signalTtlMs,
    });
    if (envelope.toDevice !== this.myDevice()) throw new SignalboxError('bad_envelope', 'A link answer must name this device.');
    const body = parseBody<LinkResponseBody>(envelope.body, 'link.response');
    if (body.linkId !== out.linkId || typeof body.privateKey !== 'string') throw new SignalboxError('bad_envelope', 'The link answer is malformed.');
    const key = await readPrivate(body.privateKey).catch((err: unknown) => {
      throw new SignalboxError('link_mismatch', 'The link answer holds no readable private key.', { cause: err });
    });
    if (fingerprintOf(key) !== user.pgp.fingerprint) {
      throw new SignalboxError('link_mismatch', "The link answer holds a key that is not the account's published key.");
    }
    const info = await this.d.keys.import(body.privateKey);
    this.finish(out, null, info);
  }

  /** The request matching `digest`, waiting up to APPROVE_WAIT_MS for one when none has arrived. */
  private async find(digest: string): Promise<Received> {
    const deadline = Date.now() + APPROVE_WAIT_MS;
    for (;;) {
      const match = this.received.find((r) => r.digest === digest);
      if (match?.used) throw new SignalboxError('link_used', 'This code was used already: a link code works once.');
      if (match && match.expiresAt <= this.d.now())
        throw new SignalboxError('link_expired', 'This link request is older than 10 minutes: start again on the new device.');
      if (match) return match;
      if (this.received.some((r) => !r.used && r.expiresAt > this.d.now())) {
        throw new SignalboxError('link_mismatch', "No link request carries the key this code commits to: check the code, or someone substituted the new device's key.");
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new SignalboxError('link_not_found', 'No link request arrived: call devices.requestLink() on the new device, signed in to this account.');
      await new Promise<void>((resolve) => {
        const timer = unref(setTimeout(done, left));
        function done() {
          clearTimeout(timer);
          arrivals.delete(done);
          resolve();
        }
        const arrivals = this.arrivals;
        arrivals.add(done);
      });
    }
  }

  private finish(out: Outgoing, error: SignalboxError | null, info?: KeyInfo): void {
    for (const timer of out.timers) clearTimeout(timer);
    if (this.outgoing === out) this.outgoing = null;
    if (error) out.reject(error);
    else out.resolve(info!);
  }

  private cancel(error: SignalboxError): void {
    if (this.outgoing) this.finish(this.outgoing, error);
  }

  private context(wire: WireSignal) {
    return {
      id: wire.id,
      from: wire.from,
      fromDevice: wire.fromDevice ?? null,
      type: wire.type,
      sessionId: wire.sessionId,
      me: this.me().username,
      myDevice: this.myDevice(),
    };
  }

  private me(): User {
    const user = this.d.session.user;
    if (!user) throw new SignalboxError('signed_out', 'Not signed in: call login() or register() first.');
    return user;
  }

  private myDevice(): string {
    const id = this.d.session.deviceId;
    if (!id) throw new SignalboxError('signed_out', 'Not signed in: call login() or register() first.');
    return id;
  }

  private async currentUser(): Promise<User> {
    this.me();
    const { user } = await this.d.session.request<{ user: User }>('GET', '/users/me');
    return user;
  }

  private report(err: unknown): void {
    if (err instanceof SignalboxError) this.d.reportError(err);
  }
}

function parseBody<T extends { kind: string }>(text: string, kind: T['kind']): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = null;
  }
  if (typeof value !== 'object' || value === null || (value as { kind?: unknown }).kind !== kind) {
    throw new SignalboxError('bad_envelope', `The envelope's body is not a ${kind}.`);
  }
  return value as T;
}

/** Timers of a link must not keep a Node process alive. */
function unref<T>(timer: T): T {
  (timer as { unref?: () => void }).unref?.();
  return timer;
}
