import type pg from 'pg';
import type { Arrivals } from '../arrivals.js';
import type { AppendRefusal, EventAudience, MailboxEntry, MailboxLimits, ServerEvent } from '../types.js';
import { transaction, type Queryable } from './db.js';
import { isForeignKeyViolation } from './errors.js';

/**
 * The one way anything enters a device's mailbox, shared by sends (signals.ts) and by the changes that
 * cause server events (connections.ts, users.ts, keyBackups.ts). Every method runs inside the caller's
 * transaction (`q`); `withEvents` is how a change and its events commit together.
 *
 * A device's row in device_mailboxes is its lock: a write numbers, counts and bounds a mailbox only after
 * locking that row (`lockMailboxes`, or the numbering upsert of `deliver`), so two sends to one device
 * cannot both see room for one more, and two events cannot both stay under EVENTS_MAX. READ COMMITTED
 * gives each statement after the lock a snapshot that includes what the previous holder committed.
 */
export interface PgMailboxWrites {
  /** The user's live devices (sessions not expired at `now`), oldest first. */
  devicesOf(q: Queryable, userId: string, now: Date): Promise<string[]>;
  /** Whether `deviceId` is one of the user's live devices at `now`. */
  isDeviceOf(q: Queryable, userId: string, deviceId: string, now: Date): Promise<boolean>;
  /** Locks the mailboxes of these devices (creating them), in one order for every writer, for the rest of the transaction. */
  lockMailboxes(q: Queryable, deviceIds: readonly string[]): Promise<void>;
  /** Why each device cannot take another signal from `senderId` (absent: it can). Events count apart. */
  refusals(q: Queryable, deviceIds: readonly string[], senderId: string, now: Date, limits: MailboxLimits): Promise<Map<string, AppendRefusal>>;
  /** Stores `entry` once (its payload) and numbers a copy of it into each device's mailbox (its next seq). */
  deliver(q: Queryable, entry: MailboxEntry, deviceIds: readonly string[], pairKey?: string | null): Promise<void>;
  /** Tells every instance (LISTEN/NOTIFY, delivered at COMMIT only) which devices received entries. */
  announce(q: Queryable, deviceIds: readonly string[]): Promise<void>;
  /**
   * Runs `change` in one transaction with the events `events` builds from its outcome (null: nothing
   * changed, no events), announces the devices that received them, and after COMMIT wakes this
   * instance's polls of them. Each event goes to its audience's devices live at the event's `createdAt`,
   * under the bounds for events (ServerEvent).
   */
  withEvents<R>(change: (q: Queryable) => Promise<R>, events: ((outcome: R) => ServerEvent[] | null) | undefined): Promise<R>;
  /** A transaction that writes mailboxes: retried when a device it read as live was deleted meanwhile. */
  write<R>(work: (q: Queryable) => Promise<R>): Promise<R>;
}

/** Server events have dotted types, which no client can send (store/types.ts EventType). */
const isEventType = (type: string) => type.includes('.');

/** NOTIFY payloads are limited to 8000 bytes: device ids go out in chunks well below that. */
const IDS_PER_NOTIFICATION = 100;

export function pgMailboxWrites(pool: pg.Pool, arrivals: Arrivals, channel: string): PgMailboxWrites {
  const devicesOf = async (q: Queryable, userId: string, now: Date) =>
    (await q.query<{ id: string }>('SELECT id FROM sessions WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at, id', [userId, now])).rows.map((r) => r.id);

  const audience = async (q: Queryable, to: EventAudience, now: Date): Promise<string[]> => {
    if ('connectionsOf' in to) {
      // Every live device of every accepted connection of the user (pgp.changed).
      const { rows } = await q.query<{ id: string }>(
        `SELECT s.id FROM connections c
         JOIN sessions s ON s.user_id = CASE WHEN c.low_id = $1 THEN c.high_id ELSE c.low_id END
         WHERE (c.low_id = $1 OR c.high_id = $1) AND c.state = 'accepted' AND s.expires_at > $2
         ORDER BY s.user_id, s.created_at, s.id`,
        [to.connectionsOf, now],
      );
      return rows.map((r) => r.id);
    }
    return (await devicesOf(q, to.userId, now)).filter((id) => id !== to.exceptDevice);
  };

  /** Removes copies, and each payload with its last copy: gone as if acknowledged. */
  const dropUnreadBodies = async (q: Queryable, ids: readonly string[]) => {
    if (ids.length === 0) return;
    await q.query('DELETE FROM signal_bodies b WHERE b.id = ANY($1::text[]) AND NOT EXISTS (SELECT 1 FROM device_signals d WHERE d.id = b.id)', [[...new Set(ids)]]);
  };

  const lockMailboxes = async (q: Queryable, deviceIds: readonly string[]) => {
    if (deviceIds.length === 0) return;
    // Sorted, so two writers lock shared mailboxes in the same order; only rows of existing sessions.
    await q.query(
      `INSERT INTO device_mailboxes (device_id, last_seq)
       SELECT id, 0 FROM sessions WHERE id = ANY($1::text[]) ORDER BY id
       ON CONFLICT (device_id) DO UPDATE SET last_seq = device_mailboxes.last_seq`,
      [[...deviceIds]],
    );
  };

  const deliver = async (q: Queryable, e: MailboxEntry, deviceIds: readonly string[], pairKey: string | null = null) => {
    if (deviceIds.length === 0) return;
    await q.query('INSERT INTO signal_bodies (id, sender_id, payload, expires_at) VALUES ($1, $2, $3, $4)', [e.id, e.senderId, e.payload, e.expiresAt]);
    // last_seq survives acknowledgement, so a device's sequence (its cursor) never goes back.
    await q.query(
      `WITH numbered AS (
         INSERT INTO device_mailboxes (device_id, last_seq) SELECT d, 1 FROM unnest($1::text[]) AS d ORDER BY d
         ON CONFLICT (device_id) DO UPDATE SET last_seq = device_mailboxes.last_seq + 1
         RETURNING device_id, last_seq)
       INSERT INTO device_signals (device_id, seq, id, sender_id, sender_username, sender_device_id, type, session_id, created_at, expires_at, event, pair_key)
       SELECT device_id, last_seq, $2, $3, $4, $5, $6, $7, $8::timestamptz, $9::timestamptz, $10::boolean, $11 FROM numbered`,
      [[...deviceIds], e.id, e.senderId, e.senderUsername, e.senderDeviceId, e.type, e.sessionId, e.createdAt, e.expiresAt, isEventType(e.type), pairKey],
    );
  };

  const announce = async (q: Queryable, deviceIds: readonly string[]) => {
    const unique = [...new Set(deviceIds)];
    for (let i = 0; i < unique.length; i += IDS_PER_NOTIFICATION) {
      await q.query('SELECT pg_notify($1, $2)', [channel, unique.slice(i, i + IDS_PER_NOTIFICATION).join(',')]);
    }
  };

  /** Removes the devices' pending `connection.requested` of `pair`; answers the devices that held one. */
  const removePendingRequests = async (q: Queryable, deviceIds: readonly string[], pair: string, now: Date): Promise<Set<string>> => {
    if (deviceIds.length === 0) return new Set();
    const { rows } = await q.query<{ device_id: string; id: string }>(
      `DELETE FROM device_signals WHERE device_id = ANY($1::text[]) AND pair_key = $2 AND type = 'connection.requested' AND expires_at > $3
       RETURNING device_id, id`,
      [[...deviceIds], pair, now],
    );
    await dropUnreadBodies(
      q,
      rows.map((r) => r.id),
    );
    return new Set(rows.map((r) => r.device_id));
  };

  /** Drops each device's pending events past its newest `keep` (EVENTS_MAX), oldest first. */
  const boundEvents = async (q: Queryable, deviceIds: readonly string[], now: Date, keep: number) => {
    if (deviceIds.length === 0) return;
    const { rows } = await q.query<{ id: string }>(
      `DELETE FROM device_signals d USING (
         SELECT device_id, seq FROM (
           SELECT device_id, seq, row_number() OVER (PARTITION BY device_id ORDER BY seq DESC) AS newer
           FROM device_signals WHERE device_id = ANY($1::text[]) AND event AND expires_at > $2) ranked
         WHERE newer > $3) past
       WHERE d.device_id = past.device_id AND d.seq = past.seq
       RETURNING d.id`,
      [[...deviceIds], now, keep],
    );
    await dropUnreadBodies(
      q,
      rows.map((r) => r.id),
    );
  };

  // A device read as live whose session ends before the write (a logout, a deleted account) fails its
  // foreign key: the whole write runs again and no longer sees that device.
  const write = <R>(work: (q: Queryable) => Promise<R>) => transaction(pool, work, isForeignKeyViolation);

  return {
    devicesOf,
    async isDeviceOf(q, userId, deviceId, now) {
      const { rowCount } = await q.query('SELECT 1 FROM sessions WHERE id = $1 AND user_id = $2 AND expires_at > $3', [deviceId, userId, now]);
      return (rowCount ?? 0) > 0;
    },
    lockMailboxes,
    async refusals(q, deviceIds, senderId, now, limits) {
      const refused = new Map<string, AppendRefusal>();
      if (deviceIds.length === 0) return refused;
      // Both counts from the indexes on (device_id, event, expires_at) and (device_id, sender_id, event, expires_at).
      const { rows } = await q.query<{ device_id: string; all: number; mine: number }>(
        `SELECT device_id, count(*) AS all, count(*) FILTER (WHERE sender_id = $2) AS mine
         FROM device_signals WHERE device_id = ANY($1::text[]) AND NOT event AND expires_at > $3 GROUP BY device_id`,
        [[...deviceIds], senderId, now],
      );
      for (const r of rows) {
        if (r.all >= limits.max) refused.set(r.device_id, 'mailbox_full');
        else if (r.mine >= limits.perSender) refused.set(r.device_id, 'sender_share');
      }
      return refused;
    },
    deliver,
    announce,
    write,
    async withEvents(change, events) {
      let woken: string[] = [];
      const outcome = await write(async (q) => {
        const result = await change(q);
        woken = [];
        // Events are never refused and never refuse a signal: they count apart, and each device keeps only
        // its newest `eventsMax` pending ones (docs/security.md, "Mailbox bounds for strangers").
        for (const event of (events && events(result)) ?? []) {
          const now = event.entry.createdAt;
          let devices = await audience(q, event.to, now);
          await lockMailboxes(q, devices);
          const pair = event.requestPair ?? null;
          if (pair !== null && event.entry.type === 'connection.removed') {
            // A request the device never took out: both go, and the device hears of neither.
            const held = await removePendingRequests(q, devices, pair, now);
            devices = devices.filter((id) => !held.has(id));
          } else if (pair !== null && event.entry.type === 'connection.requested') {
            await removePendingRequests(q, devices, pair, now);
          }
          await deliver(q, event.entry, devices, pair);
          await boundEvents(q, devices, now, event.eventsMax);
          woken.push(...devices);
        }
        await announce(q, woken);
        return result;
      });
      arrivals.emit([...new Set(woken)]);
      return outcome;
    },
  };
}
