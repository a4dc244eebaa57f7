import type Database from 'better-sqlite3';
import type { Arrivals } from '../arrivals.js';
import type { AppendRefusal, MailboxEntryType, SendInput, SendResult, SignalRecord, SignalStore } from '../types.js';
import type { SqliteMailboxWrites } from './mailboxWrites.js';
import type { GroupCommit } from './groupCommit.js';
import { otherWritersWatch } from './otherWriters.js';

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

/**
 * How many devices the "known empty" memo remembers; past it the memo starts over (correct either way:
 * a device not in it is simply read).
 */
const KNOWN_EMPTY_MAX = 200_000;

/**
 * Per-device mailboxes (device_signals, numbered by device_mailboxes) and the idempotency keys of sends.
 *
 * Most polls find their mailbox empty, so the adapter remembers which mailboxes it last read empty and
 * answers those without a read (bench/README.md). That is only sound because it knows every write: every
 * entry enters through `mailboxWrites.deliver` inside a transaction of this connection, and every such
 * commit is announced on `arrivals` (which forgets those devices) in the same synchronous call, before
 * any other read can run. Writes by *other* connections to the file (the admin CLI, a second store
 * opened on it) are not announced: SQLite's `PRAGMA data_version` changes when another connection
 * commits, and then the whole memo is dropped before it is believed. A restart starts with an empty
 * memo. Entries only ever leave by acknowledgement, clearing, expiry or session end, none of which can
 * make an empty mailbox non-empty; a clock that goes back (tests) is not trusted either.
 */
export function sqliteSignals(db: Database.Database, mailbox: SqliteMailboxWrites, arrivals: Arrivals, commits: GroupCommit): SignalStore {
  const othersWrote = otherWritersWatch(db);
  /** Device id → the time (ms) at which its mailbox was read and held no live entry. */
  const knownEmpty = new Map<string, number>();
  arrivals.listen((deviceIds) => {
    for (const id of deviceIds) knownEmpty.delete(id);
  });
  const emptyAt = (deviceId: string, now: number): boolean => {
    if (othersWrote()) {
      knownEmpty.clear();
      return false;
    }
    const since = knownEmpty.get(deviceId);
    return since !== undefined && since <= now;
  };

  const pending = db.prepare<[string, number, number], Row>(
    `SELECT d.seq, d.id, d.sender_id, d.sender_username, d.sender_device_id, d.type, b.payload, d.session_id, d.created_at, d.expires_at
     FROM device_signals d JOIN signal_bodies b ON b.id = d.id
     WHERE d.device_id = ? AND d.expires_at > ? ORDER BY d.seq LIMIT ?`,
  );
  // Acknowledging the last copy of an entry removes its payload too: gone for good, not at expiry.
  const ackedIds = db.prepare<[string, number], { id: string }>('SELECT id FROM device_signals WHERE device_id = ? AND seq <= ?');
  const ack = db.prepare<[string, number]>('DELETE FROM device_signals WHERE device_id = ? AND seq <= ?');
  const dropBodyIfUnread = db.prepare<[string]>(
    'DELETE FROM signal_bodies WHERE id = ? AND NOT EXISTS (SELECT 1 FROM device_signals WHERE device_signals.id = signal_bodies.id)',
  );
  const countAll = db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM device_signals WHERE expires_at > ?');
  const purge = db.prepare<[number]>('DELETE FROM device_signals WHERE expires_at <= ?');
  // Expired bodies, and bodies whose copies all ended with their sessions.
  const purgeBodies = db.prepare<[number]>(
    `DELETE FROM signal_bodies WHERE expires_at <= ?
       OR NOT EXISTS (SELECT 1 FROM device_signals WHERE device_signals.id = signal_bodies.id)`,
  );
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
  const sendOne = (i: SendInput): SendResult => {
    const s = i.signal;
    const now = i.now.getTime();
    if (i.idempotencyKey !== undefined) {
      const first = sentWithKey.get(s.senderId, i.idempotencyKey, now);
      if (first) return { outcome: 'repeat', id: first.signal_id, expiresAt: new Date(first.expires_at), devices: first.devices };
    }
    // A device never receives its own signals. One named device is looked up alone (a user may have
    // many), the others all at once.
    let targets: string[];
    if (i.toDevice !== undefined) {
      if (i.toDevice === s.senderDeviceId || !mailbox.isDeviceOf(i.toUserId, i.toDevice, now)) return { outcome: 'no_device' };
      targets = [i.toDevice];
    } else {
      targets = mailbox.devicesOf(i.toUserId, now).filter((id) => id !== s.senderDeviceId);
    }
    const stored: string[] = [];
    let refusal: AppendRefusal | undefined;
    for (const deviceId of targets) {
      const full = mailbox.refusal(deviceId, s.senderId, now, i.limits);
      if (full) refusal ??= full;
      else stored.push(deviceId);
    }
    if (refusal && stored.length === 0) return { outcome: 'refused', reason: refusal };
    mailbox.deliver(s, stored);
    if (i.idempotencyKey !== undefined) rememberKey.run(s.senderId, i.idempotencyKey, s.id, s.expiresAt.getTime(), stored.length);
    return { outcome: 'stored', devices: stored };
  };
  const send = db.transaction(sendOne);

  const removeUpToOne = (deviceId: string, upTo: number): number => {
    const ids = ackedIds.all(deviceId, upTo);
    const removed = ack.run(deviceId, upTo).changes;
    for (const { id } of ids) dropBodyIfUnread.run(id);
    return removed;
  };
  const removeUpTo = db.transaction(removeUpToOne);

  const storedDevices = (r: SendResult) => (r.outcome === 'stored' ? r.devices : []);

  const purgeAll = db.transaction((now: number): number => {
    purgeKeys.run(now);
    const removed = purge.run(now).changes;
    purgeBodies.run(now);
    return removed;
  });

  return {
    send(input) {
      return commits.enqueue(
        () => sendOne(input),
        () => send.immediate(input),
        storedDevices,
      );
    },
    async pending(deviceId, now, limit) {
      const at = now.getTime();
      if (emptyAt(deviceId, at)) return [];
      const rows = pending.all(deviceId, at, limit);
      if (rows.length === 0) {
        if (knownEmpty.size >= KNOWN_EMPTY_MAX) knownEmpty.clear();
        knownEmpty.set(deviceId, at);
      }
      return rows.map(toRecord);
    },
    ack(deviceId, upTo) {
      return commits.enqueue(
        () => removeUpToOne(deviceId, upTo),
        () => removeUpTo.immediate(deviceId, upTo),
      );
    },
    async clear(deviceId) {
      return removeUpTo.immediate(deviceId, Number.MAX_SAFE_INTEGER);
    },
    async countPending(now) {
      return countAll.get(now.getTime())!.n;
    },
    async purgeExpired(now) {
      return purgeAll.immediate(now.getTime());
    },
    onArrival(listener) {
      return arrivals.listen(listener);
    },
  };
}
