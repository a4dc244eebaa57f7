import type Database from 'better-sqlite3';
import type { Arrivals } from '../arrivals.js';
import type { AppendRefusal, MailboxEntry, MailboxEntryType, SendInput, SendResult, SignalRecord, SignalStore } from '../types.js';
import { KnownMailboxes } from './knownMailboxes.js';
import type { SqliteMailboxWrites } from './mailboxWrites.js';
import type { GroupCommit } from './groupCommit.js';
import { otherWritersWatch } from './otherWriters.js';
import { onRowChanged } from './rowChanges.js';

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

/** A send's outcome inside the adapter: when stored, also the entry and each device's seq, in `devices` order. */
type Sent = Exclude<SendResult, { outcome: 'stored' }> | { outcome: 'stored'; devices: string[]; entry: MailboxEntry; seqs: number[] };

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
 * Per-device mailboxes (device_signals, numbered by device_mailboxes) and the idempotency keys of sends.
 *
 * Most polls find their mailbox empty, and a held poll woken by a send finds exactly that send: the adapter
 * knows both without a read (knownMailboxes.ts, bench/README.md). That is only sound because it sees every
 * change: every entry enters through `mailboxWrites.deliver` inside a transaction of this connection, and
 * every such commit is announced on `arrivals` in the same synchronous call, before any other read can
 * run, a send's with the entries it stored (`justStored`), any other's without (those devices are
 * forgotten). Every entry that leaves, however (acknowledgement, clearing, expiry purge, an event replaced,
 * a session's or sender's deletion cascading), fires a TEMP trigger that forgets its device in the very
 * statement. Writes by *other* connections to the file (the admin CLI, a second store opened on it) are
 * not announced: SQLite's `PRAGMA data_version` changes when another connection commits, and then the whole
 * memo is dropped before it is believed. A restart starts with an empty memo; a clock that goes back
 * (tests) is not trusted either.
 */
export function sqliteSignals(db: Database.Database, mailbox: SqliteMailboxWrites, arrivals: Arrivals, commits: GroupCommit): SignalStore {
  const othersWrote = otherWritersWatch(db);
  const known = new KnownMailboxes();
  onRowChanged(db, 'device_signals', ['device_id'], (deviceId) => known.forget(String(deviceId)));
  /** The entries the sends of the commit being announced stored, by device; emptied by the announcement. */
  const justStored = new Map<string, SignalRecord[]>();
  arrivals.listen((deviceIds) => {
    // A device appears once per send of the group that reached it; its entries are all in justStored.
    for (const id of new Set(deviceIds)) known.committed(id, justStored.get(id) ?? null);
    justStored.clear();
  });

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
  // signal or none does, and two concurrent retries with one key cannot both store it. A send that stored
  // says what, for the announcement of its commit (`announce`).
  const sendOne = (i: SendInput): Sent => {
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
    const seqs = mailbox.deliver(s, stored);
    if (i.idempotencyKey !== undefined) rememberKey.run(s.senderId, i.idempotencyKey, s.id, s.expiresAt.getTime(), stored.length);
    return { outcome: 'stored', devices: stored, entry: s, seqs };
  };
  const send = db.transaction(sendOne);

  const removeUpToOne = (deviceId: string, upTo: number): number => {
    const ids = ackedIds.all(deviceId, upTo);
    const removed = ack.run(deviceId, upTo).changes;
    for (const { id } of ids) dropBodyIfUnread.run(id);
    return removed;
  };
  const removeUpTo = db.transaction(removeUpToOne);

  /** Runs after the commit, just before its announcement: what each device received, then who to wake. */
  const announce = (r: Sent): readonly string[] => {
    if (r.outcome !== 'stored') return [];
    r.devices.forEach((deviceId, n) => {
      const record: SignalRecord = { ...r.entry, seq: r.seqs[n]! };
      const list = justStored.get(deviceId);
      if (list) list.push(record);
      else justStored.set(deviceId, [record]);
    });
    return r.devices;
  };
  const asResult = (r: Sent): SendResult => (r.outcome === 'stored' ? { outcome: 'stored', devices: r.devices } : r);

  const purgeAll = db.transaction((now: number): number => {
    purgeKeys.run(now);
    const removed = purge.run(now).changes;
    purgeBodies.run(now);
    return removed;
  });

  return {
    async send(input) {
      return asResult(
        await commits.enqueue(
          () => sendOne(input),
          () => send.immediate(input),
          announce,
        ),
      );
    },
    async pending(deviceId, now, limit) {
      const at = now.getTime();
      if (othersWrote()) known.clear();
      else {
        const remembered = known.entries(deviceId, at, limit);
        if (remembered) return remembered;
      }
      const rows = pending.all(deviceId, at, limit);
      if (rows.length === 0) known.readEmpty(deviceId, at);
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
