import type { SignalboxError } from './errors.js';
import type { ServerEventType, SignalType } from './types.js';

/** A signal as the app's 'signal' handlers receive it: decrypted, its signature verified. */
export interface ReceivedSignal {
  id: string;
  from: string;
  /** The sending device (v1.1); null from a server before v1.1. */
  fromDevice: string | null;
  type: SignalType;
  /** The plaintext the sender passed to `send`. */
  payload: string;
  sessionId: string | null;
  createdAt: string;
}

/**
 * A server event from the mailbox (`connection.requested`, `connection.accepted`, `connection.removed`, `key-backup.changed`,
 * `pgp.changed`), or one the SDK makes itself (then `id` is null): a `pgp.changed` it noticed when it fetched a
 * peer's key, or `link.requested` (`{deviceId, expiresAt}`) when a new device of the account asks for the key
 * (docs/protocol.md "Device linking").
 */
export interface ServerEvent {
  id: string | null;
  /** The server's event types (from its OpenAPI document), and the one the SDK makes itself. */
  type: ServerEventType | 'link.requested';
  /** The event's JSON payload, parsed (the text itself if it was not JSON). */
  payload: unknown;
  createdAt: string;
}

/** `pgp.changed` payload as the SDK hands it on: the server's, with the fingerprint this device had pinned. */
export interface KeyChange {
  username: string;
  fingerprint: string | null;
  /** The fingerprint pinned before; null when this peer had not been pinned on this device. */
  previousFingerprint: string | null;
}

/**
 * - `signed-in`: a session, no poll loop running.
 * - `online`: the poll loop's last poll was answered.
 * - `offline`: the poll loop is waiting to try again (network error, 5xx, 429/503 with Retry-After).
 * - `signed-out`: no session (logout, or it ended and could not be refreshed): the poll loop has stopped.
 */
export type ConnectionState = 'signed-in' | 'online' | 'offline' | 'signed-out';

/** Why the state is what it is, when there is more to say. */
export interface StateDetail {
  /** offline: how long until the next attempt. */
  retryInMs?: number;
  /** offline, signed-out: what happened. */
  error?: SignalboxError;
}

/**
 * Each event name with the arguments its handlers get. The calls module adds `call` to this map
 * (declaration merging), so `sb.on('call', ...)` type-checks once calls exist and not before.
 */
export interface SignalboxEventMap {
  signal: [signal: ReceivedSignal];
  event: [event: ServerEvent];
  state: [state: ConnectionState, detail: StateDetail];
  error: [error: SignalboxError];
}

export type Handler<A extends unknown[]> = (...args: A) => unknown;

/**
 * A small typed emitter. `emitInOrder` awaits each handler in turn and lets a throw through: that is
 * how the poll loop knows a signal was handled before acknowledging it. `notify` is for 'state' and
 * 'error', whose handlers cannot fail the SDK.
 */
export class Emitter<M extends { [K in keyof M]: unknown[] }> {
  private readonly handlers = new Map<keyof M, Set<Handler<never[]>>>();

  on<K extends keyof M>(name: K, handler: Handler<M[K]>): void {
    let set = this.handlers.get(name);
    if (!set) this.handlers.set(name, (set = new Set()));
    set.add(handler);
  }

  off<K extends keyof M>(name: K, handler: Handler<M[K]>): void {
    this.handlers.get(name)?.delete(handler);
  }

  count(name: keyof M): number {
    return this.handlers.get(name)?.size ?? 0;
  }

  async emitInOrder<K extends keyof M>(name: K, ...args: M[K]): Promise<void> {
    for (const handler of [...(this.handlers.get(name) ?? [])]) await (handler as Handler<M[K]>)(...args);
  }

  notify<K extends keyof M>(name: K, ...args: M[K]): void {
    for (const handler of [...(this.handlers.get(name) ?? [])]) {
      try {
        const result = (handler as Handler<M[K]>)(...args);
        if (result instanceof Promise) result.catch(() => {});
      } catch {
        // A broken state or error handler must not break the loop that reports to it.
      }
    }
  }
}
