import type Database from 'better-sqlite3';
import type { Arrivals } from '../arrivals.js';
import type { AppendRefusal, MailboxEntryType, SendInput, SendResult, SignalRecord, SignalStore } from '../types.js';
import type { SqliteMailboxWrites } from './mailboxWrites.js';

interface Row {
  seq: number;
  id: string;
  sender_id: string;
  sender_username: string;
  sender_device_id: string | null;
  type: MailboxEntryType;
  payload: string;
  session_id: string | null;
  created_at: number;
  expires_at: number;
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
  createdAt: new Date(r.created_at),
  expiresAt: new Date(r.expires_at),
});

/** Per-device mailboxes (device_signals, numbered by device_mailboxes) and the idempotency keys of sends. */
export function sqliteSignals(db: Database.Database, mailbox: SqliteMailboxWrites, arrivals: Arrivals): SignalStore {
  const pending = db.prepare<[string, number, number], Row>(
    `SELECT seq, id, sender_id, sender_username, sender_device_id, type, payload, session_id, created_at, expires_at
     FROM device_signals WHERE device_id = ? AND expires_at > ? ORDER BY seq LIMIT ?`,
  );
  const ack = db.prepare<[string, number]>('DELETE FROM device_signals WHERE device_id = ? AND seq <= ?');
  const clear = db.prepare<[string]>('DELETE FROM device_signals WHERE device_id = ?');
  const countAll = db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM device_signals WHERE expires_at > ?');
  const purge = db.prepare<[number]>('DELETE FROM device_signals WHERE expires_at <= ?');
  const purgeKeys = db.prepare<[number]>('DELETE FROM sent_signals WHERE expires_at <= ?');
  const sentWithKey = db.prepare<[string, string, number], { signal_id: string; expires_at: number; devices: number }>(
    'SELECT signal_id, expires_at, devices FROM sent_signals WHERE sender_id = ? AND idempotency_key = ? AND expires_at > ?',
  );
  // REPLACE: an expired key row (not purged yet) gives way to the new send.
  const rememberKey = db.prepare<[string, string, string, number, number]>(
    'INSERT OR REPLACE INTO sent_signals (sender_id, idempotency_key, signal_id, expires_at, devices) VALUES (?, ?, ?, ?, ?)',
  );

  // The key check, the fan-out and the key itself in one IMMEDIATE transaction: every device gets the
  // signal or none does, and two concurrent retries with one key cannot both store it.
  const send = db.transaction((i: SendInput): SendResult => {
    const s = i.signal;
    const now = i.now.getTime();
    if (i.idempotencyKey !== undefined) {
      const first = sentWithKey.get(s.senderId, i.idempotencyKey, now);
      if (first) return { outcome: 'repeat', id: first.signal_id, expiresAt: new Date(first.expires_at), devices: first.devices };
    }
    // A device never receives its own signals.
    let targets = mailbox.devicesOf(i.toUserId, now).filter((id) => id !== s.senderDeviceId);
    if (i.toDevice !== undefined) {
      if (!targets.includes(i.toDevice)) return { outcome: 'no_device' };
      targets = [i.toDevice];
    }
    const stored: string[] = [];
    let refusal: AppendRefusal | undefined;
    for (const deviceId of targets) {
      const result = mailbox.appendTo(deviceId, s, now, i.limits);
      if (typeof result === 'number') stored.push(deviceId);
      else refusal ??= result;
    }
    if (refusal && stored.length === 0) return { outcome: 'refused', reason: refusal };
    if (i.idempotencyKey !== undefined) rememberKey.run(s.senderId, i.idempotencyKey, s.id, s.expiresAt.getTime(), stored.length);
    return { outcome: 'stored', devices: stored };
  });

  return {
    async send(input) {
      const result = send.immediate(input);
      if (result.outcome === 'stored') arrivals.emit(result.devices);
      return result;
    },
    async pending(deviceId, now, limit) {
      return pending.all(deviceId, now.getTime(), limit).map(toRecord);
    },
    async ack(deviceId, upTo) {
      return ack.run(deviceId, upTo).changes;
    },
    async clear(deviceId) {
      return clear.run(deviceId).changes;
    },
    async countPending(now) {
      return countAll.get(now.getTime())!.n;
    },
    async purgeExpired(now) {
      purgeKeys.run(now.getTime());
      return purge.run(now.getTime()).changes;
    },
    onArrival(listener) {
      return arrivals.listen(listener);
    },
  };
}
