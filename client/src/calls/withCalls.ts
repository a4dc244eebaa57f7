import { Signalbox as CoreSignalbox, type SignalboxOptions } from '../signalbox.js';
import type { Call } from './call.js';
import type { Calls } from './calls.js';
import { createCalls } from './index.js';
import type { CallOptions } from './options.js';

/**
 * The public Signalbox: the core with calls (client/README.md "Extending: where calls plug in", the
 * subclass way). The calls module taps the inbox from construction, so an offer is recognised whenever
 * the poll loop runs; it rings only when the app listens for 'call'.
 */
export class Signalbox extends CoreSignalbox {
  private readonly calls: Calls;

  constructor(options: SignalboxOptions = {}) {
    super(options);
    this.calls = createCalls(this);
  }

  /**
   * Calls `username`: rings every device of theirs and resolves once the first to accept is connected
   * (and the data channel, unless `dataChannel: false`, is open). Rejects with `call_rejected`,
   * `unavailable` (at once: no device of theirs can be reached, client/README.md "Calls"), `key_changed`
   * (their key is not the pinned one), `timeout` (`timeoutMs`, default 30 s) or the server's error.
   */
  call(username: string, options: CallOptions = {}): Promise<Call> {
    return this.calls.call(username, options);
  }

  /** Hangs up every call and ringing of this device, then signs out. */
  override async logout(): Promise<void> {
    await this.calls.endAll(); // the byes need the session, so they go before it ends
    await super.logout();
  }
}
