import type Database from 'better-sqlite3';
import type { AppendRefusal, MailboxLimits, SignalRecord, SignalStore, SignalType } from '../types.js';

interface Row {
  seq: number;
  id: string;
  sender_id: string;
  sender_username: string;
  type: SignalType;
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
  type: r.type,
  payload: r.payload,
  sessionId: r.session_id,
  createdAt: new Date(r.created_at),
  expiresAt: new Date(r.expires_at),
});

export function sqliteSignals(db: Database.Database): SignalStore {
  const countLive = db.prepare<[string, number], { n: number }>('SELECT COUNT(*) AS n FROM signals WHERE recipient_id = ? AND expires_at > ?');
  // Covered by the signals_live_by_sender index: no payload is read to count a sender's share.
  const countLiveFrom = db.prepare<[string, string, number], { n: number }>(
    'SELECT COUNT(*) AS n FROM signals WHERE recipient_id = ? AND sender_id = ? AND expires_at > ?',
  );
  const nextSeq = db.prepare<[string], { last_seq: number }>(
    `INSERT INTO mailboxes (user_id, last_seq) VALUES (?, 1)
     ON CONFLICT(user_id) DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq`,
  );
  const insert = db.prepare(
    `INSERT INTO signals (recipient_id, seq, id, sender_id, sender_username, type, payload, session_id, created_at, expires_at)
     VALUES (@recipientId, @seq, @id, @senderId, @senderUsername, @type, @payload, @sessionId, @createdAt, @expiresAt)`,
  );
  const pending = db.prepare<[string, number, number], Row>(
    'SELECT * FROM signals WHERE recipient_id = ? AND expires_at > ? ORDER BY seq LIMIT ?',
  );
  const ack = db.prepare<[string, number]>('DELETE FROM signals WHERE recipient_id = ? AND seq <= ?');
  const clear = db.prepare<[string]>('DELETE FROM signals WHERE recipient_id = ?');
  const countAll = db.prepare<[number], { n: number }>('SELECT COUNT(*) AS n FROM signals WHERE expires_at > ?');
  const purge = db.prepare<[number]>('DELETE FROM signals WHERE expires_at <= ?');

  // Count, number and insert in one IMMEDIATE transaction: the cap holds and sequence numbers are
  // visible in order (a reader never sees seq n+1 before n), which the cursor relies on.
  const append = db.transaction((recipientId: string, s: Omit<SignalRecord, 'seq'>, now: number, limits: MailboxLimits): number | AppendRefusal => {
    if (countLive.get(recipientId, now)!.n >= limits.max) return 'mailbox_full';
    if (countLiveFrom.get(recipientId, s.senderId, now)!.n >= limits.perSender) return 'sender_share';
    const seq = nextSeq.get(recipientId)!.last_seq;
    insert.run({
      recipientId,
      seq,
      id: s.id,
      senderId: s.senderId,
      senderUsername: s.senderUsername,
      type: s.type,
      payload: s.payload,
      sessionId: s.sessionId,
      createdAt: s.createdAt.getTime(),
      expiresAt: s.expiresAt.getTime(),
    });
    return seq;
  });

  return {
    async append(recipientId, signal, now, limits) {
      return append.immediate(recipientId, signal, now.getTime(), limits);
    },
    async pending(recipientId, now, limit) {
      return pending.all(recipientId, now.getTime(), limit).map(toRecord);
    },
    async ack(recipientId, upTo) {
      return ack.run(recipientId, upTo).changes;
    },
    async clear(recipientId) {
      return clear.run(recipientId).changes;
    },
    async countPending(now) {
      return countAll.get(now.getTime())!.n;
    },
    async purgeExpired(now) {
      return purge.run(now.getTime()).changes;
    },
  };
}
