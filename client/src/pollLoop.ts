import { backoffDelay, pause, type Pause, type RetryPolicy } from './backoff.js';
import { SignalboxError, isTransient } from './errors.js';
import type { ConnectionState, StateDetail } from './events.js';
import { AbortedError } from './http.js';
import type { Inbox } from './inbox.js';
import type { Session } from './session.js';
import type { PollAnswer, WireSignal } from './types.js';

export interface PollLoopDeps {
  session: Session;
  inbox: Inbox;
  retry: RetryPolicy;
  /** How long each poll may be held by the server (0-30 s). */
  waitSeconds: number;
  setState: (state: ConnectionState, detail?: StateDetail) => void;
  reportError: (error: SignalboxError) => void;
  random?: () => number;
  /** Waits between attempts; default `pause` (real timers). */
  pause?: Pause;
  /** Sees each answered poll's batch before the inbox does (tabLeader.ts shares it with the device's other tabs). */
  onBatch?: (signals: readonly WireSignal[]) => void;
}

/** Above Retry-After, up to this share more: clients told the same Retry-After do not return in one burst. */
const RETRY_AFTER_SPREAD = 0.1;

/**
 * The one loop a device runs: long-poll the mailbox, hand the batch to the inbox, and acknowledge it
 * (the next poll's `after`) only once every handler has run. Network errors and 5xx wait with
 * exponential backoff and jitter; 429 and 503 wait what `Retry-After` says; an ended session stops it.
 */
export class PollLoop {
  private controller: AbortController | null = null;
  private finished: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;

  constructor(private readonly d: PollLoopDeps) {}

  get running(): boolean {
    return this.finished !== null;
  }

  /** Starts the loop (nothing if it runs already); the promise resolves when it has exited. */
  start(): Promise<void> {
    if (this.finished) return this.finished;
    const controller = new AbortController();
    this.controller = controller;
    this.finished = this.run(controller.signal).finally(() => {
      this.finished = null;
      this.controller = null;
    });
    return this.finished;
  }

  /**
   * Ends the poll in flight at once, lets a handler that is running finish, acknowledges what was
   * handled, and resolves when the loop has exited.
   */
  async stop(): Promise<void> {
    this.controller?.abort();
    await this.finished;
  }

  private async run(stop: AbortSignal): Promise<void> {
    let handled: string | undefined; // the cursor covering only signals whose handlers finished
    let acknowledged: string | undefined; // the cursor the server was last given
    let failures = 0;
    const onOnline = () => this.wakeUp?.(); // a browser back online: retry now rather than at the end of the backoff
    const events = globalThis as { addEventListener?: (t: string, h: () => void) => void; removeEventListener?: (t: string, h: () => void) => void };
    events.addEventListener?.('online', onOnline);
    try {
      while (!stop.aborted) {
        let delay: number | undefined;
        let error: SignalboxError | undefined;
        try {
          const after = handled === undefined ? '' : `&after=${encodeURIComponent(handled)}`;
          const answer = await this.d.session.request<PollAnswer>('GET', `/signaling/poll?wait=${this.d.waitSeconds}${after}`, { signal: stop });
          acknowledged = handled;
          this.d.setState('online');
          this.d.onBatch?.(answer.signals);
          if (await this.d.inbox.take(answer.signals)) {
            handled = answer.cursor;
            failures = 0;
          } else {
            delay = backoffDelay(++failures, this.d.retry, this.d.random); // a handler threw: not in a tight loop
          }
        } catch (err) {
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- narrowed by the loop's check, but the signal can abort during the awaits after it
          if (err instanceof AbortedError || stop.aborted) break;
          if (err instanceof SignalboxError && err.code === 'signed_out') {
            this.d.reportError(err); // 'state' said signed-out when the session ended; this says why the loop stopped
            break;
          }
          error = err instanceof SignalboxError ? err : new SignalboxError('internal', String(err), { cause: err });
          if ((error.status === 429 || error.status === 503) && error.retryAfterMs !== undefined) {
            delay = error.retryAfterMs * (1 + RETRY_AFTER_SPREAD * (this.d.random ?? Math.random)());
          } else {
            delay = backoffDelay(++failures, this.d.retry, this.d.random);
            // Anything but the network or the server's own trouble is worth the app's attention.
            if (!isTransient(error)) this.d.reportError(error);
            // A cursor the server refuses (400) would be refused forever: start again from the oldest pending signal.
            if (error.status === 400) handled = undefined;
          }
        }
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- narrowed by the loop's check, but the signal can abort during the awaits after it
        if (delay !== undefined && !stop.aborted) {
          if (error) this.d.setState('offline', { retryInMs: Math.round(delay), error });
          const sleep = (this.d.pause ?? pause)(delay, stop);
          this.wakeUp = sleep.wake;
          await sleep.done;
          this.wakeUp = null;
        }
      }
    } finally {
      events.removeEventListener?.('online', onOnline);
      if (handled !== undefined && handled !== acknowledged) await this.acknowledge(handled);
    }
  }

  /** On the way out: what was handled since the last poll is acknowledged, so it is not delivered again. */
  private async acknowledge(cursor: string): Promise<void> {
    if (!this.d.session.user) return;
    try {
      await this.d.session.request('POST', '/signaling/ack', { body: { upTo: cursor } });
    } catch (err) {
      // Not fatal: those signals come once more and are handled again (delivery is at least once).
      if (err instanceof SignalboxError && err.code !== 'signed_out') this.d.reportError(err);
    }
  }
}
