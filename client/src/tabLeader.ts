import { SignalboxError, type SignalboxErrorCode } from './errors.js';
import type { ConnectionState, StateDetail } from './events.js';
import type { Inbox } from './inbox.js';
import type { PollLoop } from './pollLoop.js';
import type { Session } from './session.js';
import { deviceScope, webLocks, type LockManagerLike } from './tabLocks.js';
import type { WireSignal } from './types.js';

// Several tabs of one site over one shared storage (localStorage) are one session, so one device with one
// mailbox (client/README.md "Several tabs"). `TabPolling` runs the poll loop only in the tab holding the
// device's poll lock (the leader); the other tabs wait for that lock and get a copy of every batch the
// leader polls through a BroadcastChannel named after the device, which they hand to their own inbox (so
// 'signal', 'event' and 'call' fire in every tab). Calls: the first tab to accept or decline a ringing call
// claims it (another Web Lock), and the others stop ringing. Refreshes across tabs are tabLocks.ts.
//
// This needs the Web Locks API (`navigator.locks`) and BroadcastChannel. Without them (Node 20 and 22,
// React Native) every instance runs its own loop. Node 24 has both: instances over one storage in one
// process (and its workers) then share one loop, like tabs.

/** The part of BroadcastChannel used here. */
export interface ChannelLike {
  postMessage(message: unknown): void;
  close(): void;
  onmessage: ((event: { data: unknown }) => void) | null;
}
export type ChannelConstructor = new (name: string) => ChannelLike;

function broadcastChannel(): ChannelConstructor | null {
  const Channel = (globalThis as unknown as { BroadcastChannel?: ChannelConstructor }).BroadcastChannel;
  return typeof Channel === 'function' ? Channel : null;
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
    this.chain = this.chain.then(() => this.takeCopy(message.signals)); // the one kind left: 'signals'
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
