import type Database from 'better-sqlite3';
import type { Arrivals } from '../arrivals.js';
import type { AppendRefusal, EventAudience, MailboxEntry, MailboxLimits, ServerEvent } from '../types.js';

/**
 * The one way anything enters a device's mailbox, shared by sends (signals.ts) and by the changes that
 * cause server events (connections.ts, users.ts). Everything here is synchronous and runs inside the
 * caller's transaction; `withEvents` is how a change and its events commit together.
 */
export interface SqliteMailboxWrites {
  /** The user's live devices (sessions not expired at `now`), oldest first. */
  devicesOf(userId: string, now: number): string[];
  /** Whether `deviceId` is one of the user's live devices at `now` (the same rule as `devicesOf`). */
  isDeviceOf(userId: string, deviceId: string, now: number): boolean;
  /** Why the device cannot take another signal from `senderId` (`max` live signals, or `perSender` from them), or null. Events count apart. */
  refusal(deviceId: string, senderId: string, now: number, limits: MailboxLimits): AppendRefusal | null;
  /**
   * Stores `entry` once (its payload) and numbers a copy of it into each device's mailbox (its next seq);
   * `pairKey` marks a connection request's events (ServerEvent.requestPair). Returns each copy's seq, in
   * the order of `deviceIds`.
   */
  deliver(entry: MailboxEntry, deviceIds: readonly string[], pairKey?: string | null): number[];
  /**
   * Runs `change` in one IMMEDIATE transaction with the events `events` builds from its outcome
   * (null: nothing changed, no events), then wakes the devices that received them. Each event goes to
   * its audience's devices live at the event's `createdAt`, under the bounds for events (ServerEvent).
   */
  withEvents<R>(change: () => R, events: ((outcome: R) => ServerEvent[] | null) | undefined): R;
}

/** Server events have dotted types, which no client can send (store/types.ts EventType). */
const isEventType = (type: string) => type.includes('.');

export function sqliteMailboxWrites(db: Database.Database, arrivals: Arrivals): SqliteMailboxWrites {
  const devices = db.prepare<[string, number], { id: string }>('SELECT id FROM sessions WHERE user_id = ? AND expires_at > ? ORDER BY created_at, id');
  const device = db.prepare<[string, string, number], { one: number }>('SELECT 1 AS one FROM sessions WHERE id = ? AND user_id = ? AND expires_at > ?');
  // Every live device of every accepted connection of the user (pgp.changed).
  const devicesOfConnections = db.prepare<{ user: string; now: number }, { id: string }>(
    `SELECT s.id FROM connections c
     JOIN sessions s ON s.user_id = CASE WHEN c.low_id = @user THEN c.high_id ELSE c.low_id END
     WHERE (c.low_id = @user OR c.high_id = @user) AND c.state = 'accepted' AND s.expires_at > @now
     ORDER BY s.user_id, s.created_at, s.id`,
  );
  // Both counts are covered by indexes on (device_id, event, expires_at) and (device_id, sender_id, event,
  // expires_at): no payload is read to check a cap. They count signals only: events have a bound of their own.
  const countLive = db.prepare<[string, number], { n: number }>('SELECT count(*) AS n FROM device_signals WHERE device_id = ? AND event = 0 AND expires_at > ?');
  const countLiveFrom = db.prepare<[string, string, number], { n: number }>(
    'SELECT count(*) AS n FROM device_signals WHERE device_id = ? AND sender_id = ? AND event = 0 AND expires_at > ?',
  );
  // A device's pending `connection.requested` of one pair (at most one, since each new one replaces it).
  const pendingRequestOfPair = db.prepare<{ device: string; pair: string; now: number }, { seq: number; id: string }>(
    `SELECT seq, id FROM device_signals
     WHERE device_id = @device AND pair_key = @pair AND type = 'connection.requested' AND expires_at > @now`,
  );
  // The device's pending events past the newest `keep`, oldest first: what EVENTS_MAX drops.
  const eventsPastBound = db.prepare<{ device: string; now: number; keep: number }, { seq: number; id: string }>(
    `SELECT seq, id FROM device_signals WHERE device_id = @device AND event = 1 AND expires_at > @now
     ORDER BY seq DESC LIMIT -1 OFFSET @keep`,
  );
  const deleteCopy = db.prepare<[string, number]>('DELETE FROM device_signals WHERE device_id = ? AND seq = ?');
  const dropBodyIfUnread = db.prepare<[string]>(
    'DELETE FROM signal_bodies WHERE id = ? AND NOT EXISTS (SELECT 1 FROM device_signals WHERE device_signals.id = signal_bodies.id)',
  );
  // last_seq survives acknowledgement, so a device's sequence (its cursor) never goes back.
  const nextSeq = db.prepare<[string], { last_seq: number }>(
    `INSERT INTO device_mailboxes (device_id, last_seq) VALUES (?, 1)
     ON CONFLICT(device_id) DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq`,
  );
  const insertBody = db.prepare<[string, string, string, number]>('INSERT INTO signal_bodies (id, sender_id, payload, expires_at) VALUES (?, ?, ?, ?)');
  // One device's copy: everything of the entry but its payload, which signal_bodies holds once. Positional
  // parameters: binding twelve named ones from an object cost ~5 us per send (bench/README.md, "Third round").
  const insertCopy = db.prepare<[string, number, string, string, string, string | null, string, string | null, number, number, number, string | null]>(
    `INSERT INTO device_signals (device_id, seq, id, sender_id, sender_username, sender_device_id, type, session_id, created_at, expires_at, event, pair_key)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );

  const devicesOf = (userId: string, now: number) => devices.all(userId, now).map((r) => r.id);
  const audience = (to: EventAudience, now: number): string[] => {
    if ('connectionsOf' in to) return devicesOfConnections.all({ user: to.connectionsOf, now }).map((r) => r.id);
    return devicesOf(to.userId, now).filter((id) => id !== to.exceptDevice);
  };

  const refusal = (deviceId: string, senderId: string, now: number, limits: MailboxLimits): AppendRefusal | null => {
    if (countLive.get(deviceId, now)!.n >= limits.max) return 'mailbox_full';
    if (countLiveFrom.get(deviceId, senderId, now)!.n >= limits.perSender) return 'sender_share';
    return null;
  };

  /** Removes one copy, and its payload with the last copy: gone as if acknowledged. */
  const removeCopy = (deviceId: string, copy: { seq: number; id: string }): void => {
    deleteCopy.run(deviceId, copy.seq);
    dropBodyIfUnread.run(copy.id);
  };
  /** Removes the device's pending `connection.requested` of `pair`; whether there was one. */
  const removePendingRequest = (deviceId: string, pair: string, now: number): boolean => {
    const found = pendingRequestOfPair.all({ device: deviceId, pair, now });
    for (const copy of found) removeCopy(deviceId, copy);
    return found.length > 0;
  };

  const deliver = (e: MailboxEntry, deviceIds: readonly string[], pairKey: string | null = null): number[] => {
    if (deviceIds.length === 0) return [];
    const expiresAt = e.expiresAt.getTime();
    insertBody.run(e.id, e.senderId, e.payload, expiresAt);
    const createdAt = e.createdAt.getTime();
    // 1 for a server event (a dotted type), 0 for a signal.
    const event = isEventType(e.type) ? 1 : 0;
    return deviceIds.map((deviceId) => {
      const seq = nextSeq.get(deviceId)!.last_seq;
      insertCopy.run(deviceId, seq, e.id, e.senderId, e.senderUsername, e.senderDeviceId, e.type, e.sessionId, createdAt, expiresAt, event, pairKey);
      return seq;
    });
  };

  return {
    devicesOf,
    isDeviceOf: (userId, deviceId, now) => device.get(deviceId, userId, now) !== undefined,
    refusal,
    deliver,
    withEvents(change, events) {
      let woken: string[] = [];
      const run = db.transaction(() => {
        const outcome = change();
        woken = [];
        // Events are never refused and never refuse a signal: they count apart, and each device keeps only
        // its newest `eventsMax` pending ones (docs/security.md, "Mailbox bounds for strangers").
        for (const event of (events && events(outcome)) ?? []) {
          const now = event.entry.createdAt.getTime();
          let devices = audience(event.to, now);
          const pair = event.requestPair ?? null;
          if (pair !== null && event.entry.type === 'connection.removed') {
            // A request the device never took out: both go, and the device hears of neither.
            devices = devices.filter((id) => !removePendingRequest(id, pair, now));
          } else if (pair !== null && event.entry.type === 'connection.requested') {
            for (const id of devices) removePendingRequest(id, pair, now);
          }
          deliver(event.entry, devices, pair);
          for (const id of devices) {
            for (const copy of eventsPastBound.all({ device: id, now, keep: event.eventsMax })) removeCopy(id, copy);
          }
          woken.push(...devices);
        }
        return outcome;
      });
      const outcome = run.immediate();
      arrivals.emit(woken);
      return outcome;
    },
  };
}
