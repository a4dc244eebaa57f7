import { DEFAULT_RETRY, backoffDelay, pause, type Pause, type RetryPolicy } from './backoff.js';
import { Connections } from './connections.js';
import type { Argon2Params } from './crypto.js';
import { DEFAULT_SIGNAL_TTL_MS, NonceLog, sealEnvelope } from './envelope.js';
import { SignalboxError, isTransient } from './errors.js';
import { Emitter, type ConnectionState, type Handler, type KeyChange, type SignalboxEventMap, type StateDetail } from './events.js';
import { HttpClient, type FetchLike } from './http.js';
import { Devices } from './devices.js';
import { Inbox } from './inbox.js';
import { DeviceKeys } from './keys.js';
import { Linking } from './linking.js';
import { Push } from './push.js';
import { PeerKeys } from './peers.js';
import { Peers } from './trust.js';
import { PollLoop } from './pollLoop.js';
import { Session } from './session.js';
import { MemoryStorage, storageKeys, type KeyValueStorage } from './storage.js';
import { TabPolling } from './tabLeader.js';
import type { LoginInput, RegisterInput, SendResult, SignalType, TokenGrant, User } from './types.js';
import { normaliseUsername } from './usernames.js';

/**
 * The WebRTC classes calls will use: the browser's globals by default; on React Native those of
 * react-native-webrtc. Signalling alone (and Node) needs none.
 */
export interface RtcImplementation {
  RTCPeerConnection: new (...args: never[]) => object;
  RTCSessionDescription?: new (...args: never[]) => object;
  RTCIceCandidate?: new (...args: never[]) => object;
}

export interface SignalboxOptions {
  /** The server, e.g. `https://signal.example.org`. Default: the page's origin (browsers only). */
  baseUrl?: string;
  /** Tokens, this device's private key and peers' pins. Default: in memory (forgotten when the process ends). */
  storage?: KeyValueStorage;
  /** WebRTC classes for calls (React Native); default: the globals. */
  rtc?: RtcImplementation;
  /** Default: the global fetch. */
  fetch?: FetchLike;
  /** Waits after network errors and 5xx: exponential from `baseMs` (1 s) to `maxMs` (30 s), with jitter. */
  retry?: Partial<RetryPolicy>;
  /** How long the server may hold each poll, 0-30 s. Default 25: below common proxy and client read timeouts. */
  pollWaitSeconds?: number;
  /** The clock, ms since the epoch, for device-link expiry and envelope times. Default `Date.now`; tests inject one. */
  now?: () => number;
  /**
   * The server's SIGNAL_TTL (default 300 s): a received envelope older than this plus a minute is
   * refused as stale (docs/protocol.md "The envelope"). Set it when the server's is longer.
   */
  signalTtlSeconds?: number;
  /**
   * @internal How the SDK waits between attempts (poll backoff, Retry-After, send retries); default
   * real timers. Tests stand in for it to read the wait asked for and end it without waiting it out.
   * Not public API: stripped from the published types.
   */
  pause?: Pause;
  /**
   * @internal The argon2 parameters of key backups this client saves; default openpgp's (64 MiB, 3
   * passes, 4 lanes: docs/protocol.md "Key backup"). Tests use small ones so each save and load takes
   * milliseconds; loading reads the parameters from the backup, whatever this says. Not public API.
   */
  keyBackupArgon2?: Argon2Params;
}

export interface SendOptions {
  /** Only this device of the recipient (its `fromDevice`); default every device. */
  toDevice?: string;
  /** Ties signals of one call (or other exchange) together; at most 128 characters. */
  sessionId?: string;
}

/** Retries of one send after network errors or 5xx, with the same idempotencyKey (so never stored twice). */
const SEND_ATTEMPTS = 3;

/**
 * Everything for sending and receiving through one Signalbox server, as one object
 * (client/README.md). Calls (WebRTC) build on it from their own module.
 */
export class Signalbox {
  readonly keys: Pick<DeviceKeys, 'ensure' | 'export' | 'import' | 'forget' | 'saveBackup' | 'loadBackup'>;
  readonly connections: Connections;
  /** The account's devices: list, remove, and linking a new one (docs/protocol.md "Device linking"). */
  readonly devices: Devices;
  /** Trust in peers' keys: state, safety numbers, verification, consent to a change (docs/protocol.md). */
  readonly peers: Peers;
  /** Push wake-ups for this device (docs/push.md). */
  readonly push: Push;
  /** The WebRTC classes for calls, when given. */
  readonly rtc: RtcImplementation | undefined;

  private readonly emitter = new Emitter<SignalboxEventMap>();
  private readonly http: HttpClient;
  private readonly session: Session;
  private readonly deviceKeys: DeviceKeys;
  private readonly peerKeys: PeerKeys;
  private readonly inbox: Inbox;
  private readonly linking: Linking;
  private readonly loop: PollLoop;
  /** One poll loop per device across browser tabs (tabLeader.ts); null without Web Locks and BroadcastChannel. */
  private readonly tabs: TabPolling | null;
  private readonly retry: RetryPolicy;
  private readonly pause: Pause;
  private state: ConnectionState = 'signed-out';

  constructor(options: SignalboxOptions = {}) {
    const baseUrl = (options.baseUrl ?? pageOrigin())?.replace(/\/+$/, '');
    if (!baseUrl) throw new SignalboxError('validation_failed', 'baseUrl is required outside a browser page.');
    // Typed as always there, but some runtimes the SDK runs on have no global fetch.
    const fetchFn = options.fetch ?? (globalThis as { fetch?: typeof fetch }).fetch?.bind(globalThis);
    if (!fetchFn) throw new SignalboxError('validation_failed', 'No fetch here: pass options.fetch.');
    const storage = options.storage ?? new MemoryStorage();
    this.rtc = options.rtc;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.pause = options.pause ?? pause;

    this.http = new HttpClient(baseUrl, fetchFn);
    this.session = new Session(this.http, storage, (error) => this.setState('signed-out', error ? { error } : {}));
    this.peerKeys = new PeerKeys(this.session, storage, (change) => this.reportKeyChange(change));
    this.deviceKeys = new DeviceKeys(this.session, storage, this.peerKeys, options.keyBackupArgon2);
    this.keys = this.deviceKeys;
    this.peers = new Peers(this.session, this.deviceKeys, this.peerKeys);
    const signalTtlMs = options.signalTtlSeconds === undefined ? DEFAULT_SIGNAL_TTL_MS : options.signalTtlSeconds * 1000;
    this.connections = new Connections(this.session);
    this.push = new Push(this.session);
    this.inbox = new Inbox({
      keys: this.deviceKeys,
      peers: this.peerKeys,
      emitter: this.emitter,
      reportError: (e) => this.reportError(e),
      me: () => this.me(),
      nonces: new NonceLog(
        storage,
        () => storageKeys.nonces(this.me().username),
        () => signalTtlMs,
      ),
      signalTtlMs,
    });
    this.linking = new Linking({
      session: this.session,
      keys: this.deviceKeys,
      storage,
      now: options.now ?? (() => Date.now()),
      signalTtlMs,
      ensurePolling: () => this.start(),
      emitEvent: (event) => this.emitter.emitInOrder('event', event),
      reportError: (e) => this.reportError(e),
    });
    this.inbox.addWireTap((wire) => this.linking.take(wire));
    this.devices = new Devices(this.session, this.linking);
    this.loop = new PollLoop({
      session: this.session,
      inbox: this.inbox,
      retry: this.retry,
      pause: this.pause,
      waitSeconds: options.pollWaitSeconds ?? 25,
      setState: (state, detail) => {
        this.setState(state, detail);
        this.tabs?.shareState(state, detail);
      },
      reportError: (e) => this.reportError(e),
      onBatch: (signals) => this.tabs?.share(signals),
    });
    this.tabs = TabPolling.create({
      baseUrl,
      session: this.session,
      inbox: this.inbox,
      loop: this.loop,
      setState: (state, detail) => this.setState(state, detail),
      reportError: (e) => this.reportError(e),
    });
  }

  /** The signed-in user, or null (before sign-in, or before `restore()` read a stored session). */
  get user(): User | null {
    return this.session.user;
  }

  /** This session's device id (v1.1), or null. */
  get deviceId(): string | null {
    return this.session.deviceId;
  }

  /** Creates the account and signs in; resolves to the user. */
  async register(input: RegisterInput): Promise<User> {
    return this.signedIn(await this.sessionless<TokenGrant>('/auth/register', input));
  }

  async login(input: LoginInput): Promise<User> {
    return this.signedIn(await this.sessionless<TokenGrant>('/auth/login', input));
  }

  /** Resumes the session kept in storage (a reloaded page, a restarted app); resolves to its user or null. */
  async restore(): Promise<User | null> {
    await this.session.load();
    if (this.session.user && this.state === 'signed-out') this.setState('signed-in');
    return this.session.user;
  }

  /** Stops the poll loop and ends the session on the server; the private key stays in storage for the next sign-in. */
  async logout(): Promise<void> {
    await this.stopLoop();
    try {
      await this.session.request('POST', '/auth/logout', { body: {} });
    } catch (err) {
      if (!(err instanceof SignalboxError && err.code === 'signed_out')) throw err;
    } finally {
      this.linking.reset();
      await this.session.end(null);
    }
  }

  /**
   * Starts the poll loop (nothing if it runs already). In a browser, tabs sharing this session (one
   * storage) run one loop between them: the others get a copy of what it receives (README "Several tabs").
   */
  start(): void {
    if (this.tabs) this.tabs.start();
    else void this.loop.start();
  }

  /** Stops the poll loop; resolves once a running handler finished and the handled signals were acknowledged. */
  async stop(): Promise<void> {
    this.linking.stop();
    await this.stopLoop();
    if (this.session.user) this.setState('signed-in');
  }

  on<K extends keyof SignalboxEventMap>(name: K, handler: Handler<SignalboxEventMap[K]>): void {
    this.emitter.on(name, handler);
  }

  off<K extends keyof SignalboxEventMap>(name: K, handler: Handler<SignalboxEventMap[K]>): void {
    this.emitter.off(name, handler);
  }

  /**
   * Sends `payload` to `username` (to another of your own devices when it is your own name) in a signed
   * envelope (docs/protocol.md), encrypted to their pinned key and signed with this device's; rejects
   * `key_changed` when the server serves another key for them than the pinned one. Retries network
   * errors and 5xx a few times with the same idempotency key, so a retry never stores a second copy;
   * after a 503 it waits what Retry-After says.
   */
  async send(username: string, type: SignalType, payload: string, options: SendOptions = {}): Promise<SendResult> {
    if (typeof payload !== 'string' || payload.length === 0) throw new SignalboxError('validation_failed', 'payload must be a non-empty string.');
    const to = normaliseUsername(username);
    const signer = await this.deviceKeys.privateKey(); // first: without it nothing can be sent, whoever the peer
    const me = this.me();
    const address = { from: me.username, fromDevice: me.deviceId, to, toDevice: options.toDevice ?? null, type, sessionId: options.sessionId ?? null };
    const { armored } = await sealEnvelope(address, payload, await this.peerKeys.keyOf(to), signer);
    const body = {
      to,
      type,
      payload: armored,
      ...(options.toDevice === undefined ? {} : { toDevice: options.toDevice }),
      ...(options.sessionId === undefined ? {} : { sessionId: options.sessionId }),
      idempotencyKey: randomKey(),
    };
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.session.request<SendResult>('POST', '/signaling/send', { body });
      } catch (err) {
        if (attempt >= SEND_ATTEMPTS || !isTransient(err)) throw err;
        // A 503 says when to come back (docs/protocol.md "HTTP answers"): sooner is refused again, and a
        // backoff step longer than that delays the signal (a ringing call) for nothing.
        const retryAfter = err instanceof SignalboxError && err.status === 503 ? err.retryAfterMs : undefined;
        await this.pause(retryAfter ?? backoffDelay(attempt, this.retry)).done;
      }
    }
  }

  /**
   * @internal The parts the calls module (client/src/calls.ts, next) builds on: authenticated requests
   * (ICE servers), the inbox's taps (offer/answer/ice/bye of its sessions), and the emitter ('call').
   * Not public API: stripped from the published types.
   */
  get internals(): { session: Session; inbox: Inbox; emitter: Emitter<SignalboxEventMap>; tabs: TabPolling | null } {
    return { session: this.session, inbox: this.inbox, emitter: this.emitter, tabs: this.tabs };
  }

  /** Stops this tab's part in polling: the loop if it runs here, the following of another tab's otherwise. */
  private async stopLoop(): Promise<void> {
    await this.tabs?.stop();
    await this.loop.stop();
  }

  /** register and login: no token, they make one. */
  private sessionless<T>(path: string, body: RegisterInput | LoginInput): Promise<T> {
    return this.http.request<T>('POST', path, { body });
  }

  /** The signed-in account and this device: `signed_out` otherwise. */
  private me(): { username: string; deviceId: string } {
    const user = this.session.user;
    const deviceId = this.session.deviceId;
    if (!user || !deviceId) throw new SignalboxError('signed_out', 'Not signed in: call login() or register() first.');
    return { username: user.username, deviceId };
  }

  private async signedIn(grant: TokenGrant): Promise<User> {
    await this.stopLoop(); // a loop of an earlier session must not poll with the new one's tokens
    this.peerKeys.reset();
    this.linking.reset();
    await this.session.begin(grant);
    this.setState('signed-in');
    return grant.user;
  }

  /** A peer's served key differs from the pin: the app is told (once per new key). It only informs; nothing is trusted. */
  private reportKeyChange(change: KeyChange): void {
    this.emitter.notify('event', { id: null, type: 'pgp.changed', payload: change, createdAt: new Date().toISOString() });
  }

  private setState(state: ConnectionState, detail: StateDetail = {}): void {
    // 'offline' is told at every retry (its wait changes); the others once per change.
    if (state === this.state && state !== 'offline') return;
    this.state = state;
    this.emitter.notify('state', state, detail);
  }

  private reportError(error: SignalboxError): void {
    if (this.emitter.count('error') > 0) this.emitter.notify('error', error);
    // Nobody listens: say it somewhere rather than lose a dropped signal silently.
    else console.warn(`[signalbox] ${error.code}: ${error.message}`);
  }
}

function pageOrigin(): string | undefined {
  return (globalThis as { location?: { origin?: string } }).location?.origin;
}

/** 128 random bits, hex: an idempotency key no other send of this sender will have. */
function randomKey(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
