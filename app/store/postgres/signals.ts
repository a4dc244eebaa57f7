import type pg from 'pg';
import type { Arrivals } from '../arrivals.js';
import type { AppendRefusal, MailboxEntryType, SendInput, SendResult, SignalRecord, SignalStore } from '../types.js';
import { LockNamespace, lockName, transaction, type Queryable } from './db.js';
import type { PgMailboxWrites } from './mailbox.js';
import { watchNotifications } from './notifications.js';

interface Row {
  seq: number;
  id: string;
  sender_id: string;
  sender_username: string;
  sender_device_id: string | null;
  type: MailboxEntryType;
  payload: string;
  session_id: string | null;
  created_at: Date;
  expires_at: Date;
}

const toRecord = (r: Row): SignalRecord => ({
  id: r.id,
  seq: r.seq,
  senderId: r.sender_id,
  senderUsername: r.sender_username,
  senderDeviceId: r.sender_device_id,
  type: r.type,
  payload: r.payload,
  sessionId: r.session_id,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

/** Removes the device's entries up to `upTo`, and each payload with its last copy. */
async function removeUpTo(q: Queryable, deviceId: string, upTo: number): Promise<number> {
  const { rows } = await q.query<{ id: string }>('DELETE FROM device_signals WHERE device_id = $1 AND seq <= $2 RETURNING id', [deviceId, upTo]);
  if (rows.length > 0) {
    await q.query('DELETE FROM signal_bodies b WHERE b.id = ANY($1::text[]) AND NOT EXISTS (SELECT 1 FROM device_signals d WHERE d.id = b.id)', [
      [...new Set(rows.map((r) => r.id))],
    ]);
  }
  return rows.length;
}

export interface PgSignalsOptions {
  url: string;
  channel: string;
}

/** Per-device mailboxes (device_signals, numbered by device_mailboxes) and the idempotency keys of sends. */
export function pgSignals(pool: pg.Pool, mailbox: PgMailboxWrites, arrivals: Arrivals, options: PgSignalsOptions): SignalStore {
  // The key check, the fan-out and the key itself in one transaction: every device gets the signal or none
  // does, and two concurrent retries with one key cannot both store it (the key's advisory lock).
  const sendIn = async (q: Queryable, i: SendInput): Promise<SendResult> => {
    const s = i.signal;
    if (i.idempotencyKey !== undefined) {
      await lockName(q, LockNamespace.Idempotency, `${s.senderId}\n${i.idempotencyKey}`);
      const { rows } = await q.query<{ signal_id: string; expires_at: Date; devices: number }>(
        'SELECT signal_id, expires_at, devices FROM sent_signals WHERE sender_id = $1 AND idempotency_key = $2 AND expires_at > $3',
        [s.senderId, i.idempotencyKey, i.now],
      );
      const first = rows[0];
      if (first) return { outcome: 'repeat', id: first.signal_id, expiresAt: first.expires_at, devices: first.devices };
    }
    // A device never receives its own signals.
    let targets: string[];
    if (i.toDevice !== undefined) {
      if (i.toDevice === s.senderDeviceId || !(await mailbox.isDeviceOf(q, i.toUserId, i.toDevice, i.now))) return { outcome: 'no_device' };
      targets = [i.toDevice];
    } else {
      targets = (await mailbox.devicesOf(q, i.toUserId, i.now)).filter((id) => id !== s.senderDeviceId);
    }
    await mailbox.lockMailboxes(q, targets);
    const refused = await mailbox.refusals(q, targets, s.senderId, i.now, i.limits);
    const stored = targets.filter((id) => !refused.has(id));
    const refusal: AppendRefusal | undefined = targets.map((id) => refused.get(id)).find((r) => r !== undefined);
    if (refusal && stored.length === 0) return { outcome: 'refused', reason: refusal };
    await mailbox.deliver(q, s, stored);
    await mailbox.announce(q, stored);
    if (i.idempotencyKey !== undefined) {
      // An expired key row (not purged yet) gives way to the new send.
      await q.query(
        `INSERT INTO sent_signals (sender_id, idempotency_key, signal_id, expires_at, devices) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (sender_id, idempotency_key) DO UPDATE SET signal_id = excluded.signal_id, expires_at = excluded.expires_at, devices = excluded.devices`,
        [s.senderId, i.idempotencyKey, s.id, s.expiresAt, stored.length],
      );
    }
    return { outcome: 'stored', devices: stored };
  };

  return {
    async send(input) {
      const result = await mailbox.write((q) => sendIn(q, input));
      if (result.outcome === 'stored') arrivals.emit(result.devices);
      return result;
    },
    async pending(deviceId, now, limit) {
      const { rows } = await pool.query<Row>(
        `SELECT d.seq, d.id, d.sender_id, d.sender_username, d.sender_device_id, d.type, b.payload, d.session_id, d.created_at, d.expires_at
         FROM device_signals d JOIN signal_bodies b ON b.id = d.id
         WHERE d.device_id = $1 AND d.expires_at > $2 ORDER BY d.seq LIMIT $3`,
        [deviceId, now, limit],
      );
      return rows.map(toRecord);
    },
    async ack(deviceId, upTo) {
      return transaction(pool, (q) => removeUpTo(q, deviceId, upTo));
    },
    async clear(deviceId) {
      return transaction(pool, (q) => removeUpTo(q, deviceId, Number.MAX_SAFE_INTEGER));
    },
    async countPending(now) {
      return (await pool.query<{ n: number }>('SELECT count(*) AS n FROM device_signals WHERE expires_at > $1', [now])).rows[0]!.n;
    },
    async purgeExpired(now) {
      return transaction(pool, async (q) => {
        await q.query('DELETE FROM sent_signals WHERE expires_at <= $1', [now]);
        const removed = (await q.query('DELETE FROM device_signals WHERE expires_at <= $1', [now])).rowCount ?? 0;
        // Expired bodies, and bodies whose copies all ended with their sessions.
        await q.query(
          `DELETE FROM signal_bodies b WHERE b.expires_at <= $1
             OR NOT EXISTS (SELECT 1 FROM device_signals d WHERE d.id = b.id)`,
          [now],
        );
        return removed;
      });
    },
    onArrival(listener) {
      return arrivals.listen(listener);
    },
    watchArrivals(listener, onFailure, onRecovered) {
      return watchNotifications(
        options.url,
        options.channel,
        (payload) => {
          for (const id of payload.split(',')) if (id) listener(id);
        },
        { onFailure, onRecovered },
      );
    },
  };
}
