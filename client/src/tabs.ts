import { SignalboxError, type SignalboxErrorCode } from './errors.js';
import type { ConnectionState, StateDetail } from './events.js';
import type { Inbox } from './inbox.js';
import type { PollLoop } from './pollLoop.js';
import type { Session } from './session.js';
import type { WireSignal } from './types.js';

// Several tabs of one site over one shared storage (localStorage) are one session, so one device:
// one refresh token and one mailbox. Two things keep them from fighting over it (client/README.md
// "Several tabs"):
//
// - Refresh: `exclusive()` runs each refresh under a Web Lock named after the device, and Session
//   re-reads the stored tokens inside it, so a tab adopts the tokens another tab just rotated instead
//   of presenting the old refresh token again (which ends the session: theft detection).
// - Polling: `TabPolling` runs the poll loop only in the tab holding the device's poll lock (the leader);
//   the other tabs wait for that lock and get a copy of every batch the leader polls through a
//   BroadcastChannel named after the device, which they hand to their own inbox (so 'signal', 'event'
//   and 'call' fire in every tab). Calls: the first tab to accept or decline a ringing call claims it
//   (another Web Lock), and the others stop ringing.
//
// Both need the Web Locks API (`navigator.locks`); polling also needs BroadcastChannel. Without them
// (Node 20 and 22, React Native) nothing here is used and every instance runs on its own. Node 24 has
// both: instances over one storage in one process (and its workers) then share one loop, like tabs.

/** The part of the Web Locks API (navigator.locks) used here. */
export interface LockManagerLike {
  request<T>(name: string, options: { signal?: AbortSignal; ifAvailable?: boolean }, callback: (lock: unknown) => T | Promise<T>): Promise<T>;
  query(): Promise<{ held?: Array<{ name?: string }> }>;
}

/** The part of BroadcastChannel used here. */
export interface ChannelLike {
  postMessage(message: unknown): void;
  close(): void;
  onmessage: ((event: { data: unknown }) => void) | null;
}
export type ChannelConstructor = new (name: string) => ChannelLike;

/** The lock manager (browsers, Node 24), or null (Node 20 and 22, React Native, old browsers). */
export function webLocks(): LockManagerLike | null {
  const locks = (globalThis as { navigator?: { locks?: Partial<LockManagerLike> } }).navigator?.locks;
  return typeof locks?.request === 'function' ? (locks as LockManagerLike) : null;
}

function broadcastChannel(): ChannelConstructor | null {
  const Channel = (globalThis as unknown as { BroadcastChannel?: ChannelConstructor }).BroadcastChannel;
  return typeof Channel === 'function' ? Channel : null;
}

/** Lock and channel names of one device of one server: tabs of other sessions (other storage) do not contend. */
const deviceScope = (baseUrl: string, deviceId: string) => `signalbox:${baseUrl}:${deviceId}`;
export const refreshLockName = (baseUrl: string, deviceId: string) => `${deviceScope(baseUrl, deviceId)}:refresh`;

/** Runs `body` holding the lock `name` across this origin's tabs (and workers); at once where there are no Web Locks. */
export async function exclusive<T>(name: string, body: () => Promise<T>, locks: LockManagerLike | null = webLocks()): Promise<T> {
  if (!locks) return body();
  return locks.request(name, {}, body);
}

/**
 * How long a tab that rotated the refresh token says so (a held lock named after the old token).
 * localStorage is only eventually consistent between a browser's processes: the next tab to take the
 * refresh lock may still read the old tokens for a few milliseconds. The lock manager is not: a tab
 * that finds this mark knows its refresh token is spent and waits for the new one instead of presenting it.
 */
const ROTATED_MARK_MS = 60_000;
/** How long a tab waits for rotated tokens to show in its storage before giving up this once. */
const ROTATED_WAIT_MS = 3_000;

async function rotatedMarkName(baseUrl: string, deviceId: string, refreshToken: string): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(refreshToken));
  const hex = Array.from(new Uint8Array(digest).slice(0, 16), (b) => b.toString(16).padStart(2, '0')).join('');
  return `${deviceScope(baseUrl, deviceId)}:rotated:${hex}`;
}

/** Called inside the refresh lock after rotating `oldRefreshToken` (and storing the new tokens): marks it spent for the other tabs. */
export async function markRotated(baseUrl: string, deviceId: string, oldRefreshToken: string, locks: LockManagerLike | null = webLocks()): Promise<void> {
  if (!locks) return;
  const name = await rotatedMarkName(baseUrl, deviceId, oldRefreshToken);
  await new Promise<void>((granted) => {
    locks
      .request(name, {}, () => {
        granted();
        return new Promise<void>((release) => setTimeout(release, ROTATED_MARK_MS));
      })
      .catch(() => granted());
  });
}

/**
 * Called inside the refresh lock when storage still shows `refreshToken`: whether another tab rotated
 * it already (then `adopt` is retried until storage shows the new tokens, up to a few seconds: true
 * once adopted; false with nothing adopted means: do not present it, it is spent).
 */
export async function rotatedElsewhere(
  baseUrl: string,
  deviceId: string,
  refreshToken: string,
  adopt: () => Promise<boolean>,
  locks: LockManagerLike | null = webLocks(),
): Promise<'no' | 'adopted' | 'not-yet-visible'> {
  if (!locks) return 'no';
  const name = await rotatedMarkName(baseUrl, deviceId, refreshToken);
  const { held = [] } = await locks.query();
  if (!held.some((lock) => lock.name === name)) return 'no';
  for (const deadline = Date.now() + ROTATED_WAIT_MS; Date.now() < deadline;) {
    if (await adopt()) return 'adopted';
    await new Promise((r) => setTimeout(r, 20));
  }
  return 'not-yet-visible';
}

/** How long a claim on a call stays taken: beyond any ringing (RING_FOR_MS, 45 s), so a late accept in another tab cannot take it again. */
const CALL_CLAIM_MS = 5 * 60_000;

export type CallClaim = 'accepted' | 'rejected';

/** What tabs tell each other on the device's channel. */
type TabMessage =
  | { kind: 'signals'; signals: WireSignal[] }
  | { kind: 'state'; state: ConnectionState; retryInMs?: number; error?: { code: SignalboxErrorCode; message: string; status?: number } }
  | { kind: 'call'; sessionId: string; as: CallClaim }
  /** A tab that starts following asks the leader for its state. */
  | { kind: 'hello' };

export interface TabPollingDeps {
  baseUrl: string;
  session: Session;
  inbox: Inbox;
  loop: PollLoop;
  setState: (state: ConnectionState, detail?: StateDetail) => void;
  reportError: (error: SignalboxError) => void;
}

/**
 * One poll loop per device across tabs: `start()` waits for the device's poll lock and runs the loop
 * while holding it; meanwhile (a follower) it hands the batches the leader shares to this tab's inbox.
 * `stop()`, or the leader tab closing, releases the lock and the next waiting tab takes over.
 */
export class TabPolling {
  private running: { stop: AbortController; done: Promise<void> } | null = null;
  private channel: ChannelLike | null = null;
  private leading = false;
  /** Copies from the leader, handed to the inbox one batch after the other. */
  private chain: Promise<void> = Promise.resolve();
  private readonly callTaken = new Set<(sessionId: string, as: CallClaim) => void>();
  /** What this tab's loop last said, for a tab that starts following later. */
  private lastState: TabMessage | null = null;

  /** The coordinator, or null where Web Locks or BroadcastChannel are missing (then the loop runs as before). */
  static create(deps: TabPollingDeps, env: { locks?: LockManagerLike | null; Channel?: ChannelConstructor | null } = {}): TabPolling | null {
    const locks = env.locks === undefined ? webLocks() : env.locks;
    const Channel = env.Channel === undefined ? broadcastChannel() : env.Channel;
    return locks && Channel ? new TabPolling(deps, locks, Channel) : null;
  }

  private constructor(
    private readonly d: TabPollingDeps,
    private readonly locks: LockManagerLike,
    private readonly Channel: ChannelConstructor,
  ) {}

  /** Whether this tab runs the device's poll loop now. */
  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    if (this.running) return;
    const stop = new AbortController();
    const done = this.run(stop.signal).finally(() => {
      if (this.running?.stop === stop) this.running = null;
    });
    this.running = { stop, done };
  }

  /** Stops following or leading; as leader, the loop stops (acknowledging what was handled) and the lock goes to the next tab. */
  async stop(): Promise<void> {
    const running = this.running;
    if (!running) return;
    running.stop.abort();
    await this.d.loop.stop();
    await running.done;
  }

  /** The leader's poll loop got a batch: every other tab of the device gets a copy. */
  share(signals: readonly WireSignal[]): void {
    if (this.leading && signals.length > 0) this.post({ kind: 'signals', signals: [...signals] });
  }

  /** The leader's connection state, for the other tabs' 'state' handlers. */
  shareState(state: ConnectionState, detail: StateDetail = {}): void {
    if (state !== 'online' && state !== 'offline') return;
    const { error, retryInMs } = detail;
    this.lastState = {
      kind: 'state',
      state,
      ...(retryInMs === undefined ? {} : { retryInMs }),
      ...(error ? { error: { code: error.code, message: error.message, status: error.status } } : {}),
    };
    if (this.leading) this.post(this.lastState);
  }

  /**
   * Claims a ringing call for this tab (accept or decline): true for the first tab of the device to
   * ask, false for any later one. The others are told, and stop ringing.
   */
  async claimCall(sessionId: string, as: CallClaim): Promise<boolean> {
    const deviceId = this.d.session.deviceId;
    if (!deviceId) return true;
    const claimed = await new Promise<boolean>((resolve) => {
      this.locks
        .request(`${deviceScope(this.d.baseUrl, deviceId)}:call:${sessionId}`, { ifAvailable: true }, (lock) => {
          resolve(lock !== null);
          // Held for a while after: a tab that had not heard of the claim yet cannot take the call again.
          return lock === null ? undefined : new Promise<void>((release) => setTimeout(release, CALL_CLAIM_MS));
        })
        .catch(() => resolve(true)); // no lock to be had (a tab being closed): nobody else could claim either
    });
    if (claimed) this.post({ kind: 'call', sessionId, as });
    return claimed;
  }

  /** Called when another tab of this device claimed a call (the calls module stops it ringing here). */
  onCallTaken(listener: (sessionId: string, as: CallClaim) => void): void {
    this.callTaken.add(listener);
  }

  private async run(stop: AbortSignal): Promise<void> {
    await this.d.session.load();
    const deviceId = this.d.session.deviceId;
    if (!deviceId) {
      // Not signed in: the loop says so (signed_out on 'error') as it always did.
      await this.d.loop.start();
      return;
    }
    const channel = new this.Channel(`${deviceScope(this.d.baseUrl, deviceId)}:poll`);
    channel.onmessage = (event) => this.received(event.data as TabMessage);
    this.channel = channel;
    this.post({ kind: 'hello' });
    try {
      await this.locks.request(`${deviceScope(this.d.baseUrl, deviceId)}:poll`, { signal: stop }, async () => {
        if (stop.aborted) return;
        await this.chain; // copies received as a follower are handled before this tab polls itself
        this.leading = true;
        try {
          await this.d.loop.start();
        } finally {
          this.leading = false;
        }
      });
    } catch (err) {
      if (!stop.aborted) this.d.reportError(new SignalboxError('internal', `Could not take the poll lock: ${String(err)}`, { cause: err }));
    } finally {
      channel.onmessage = null;
      channel.close();
      if (this.channel === channel) this.channel = null;
    }
  }

  private post(message: TabMessage): void {
    try {
      this.channel?.postMessage(message);
    } catch {
      // A closed channel (the tab stopping): the others take over and poll for themselves.
    }
  }

  private received(message: TabMessage): void {
    if (message.kind === 'call') {
      for (const listener of this.callTaken) listener(message.sessionId, message.as);
      return;
    }
    if (message.kind === 'hello') {
      if (this.leading && this.lastState) this.post(this.lastState);
      return;
    }
    if (this.leading) return; // a copy from a leader that just stepped down: this tab's own polls bring it
    if (message.kind === 'state') {
      const error = message.error ? new SignalboxError(message.error.code, message.error.message, { status: message.error.status }) : undefined;
      this.d.setState(message.state, { ...(message.retryInMs === undefined ? {} : { retryInMs: message.retryInMs }), ...(error ? { error } : {}) });
      return;
    }
    if (message.kind === 'signals') this.chain = this.chain.then(() => this.takeCopy(message.signals));
  }

  /**
   * A follower's copy of a batch: each signal goes through this tab's inbox (decrypted, verified, each
   * id once, taps, handlers). The leader acknowledges; a signal a handler here throws on is reported
   * and comes again only if the leader's poll delivers it again.
   */
  private async takeCopy(signals: readonly WireSignal[]): Promise<void> {
    for (const signal of signals) {
      try {
        await this.d.inbox.take([signal]);
      } catch (err) {
        this.d.reportError(err instanceof SignalboxError ? err : new SignalboxError('internal', String(err), { cause: err }));
      }
    }
  }
}
