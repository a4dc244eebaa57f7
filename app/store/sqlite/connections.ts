import type Database from 'better-sqlite3';
import type { SqliteMailboxWrites } from './mailboxWrites.js';
import { rowMemo } from './rowMemo.js';
import { toPgp } from './users.js';
import type { ConnectionRecord, ConnectionRequestInput, ConnectionRequestResult, ConnectionStore, ConnectionView } from '../types.js';
import { onRowChanged } from './rowChanges.js';

interface Row {
  id: string;
  low_id: string;
  high_id: string;
  state: 'pending' | 'accepted';
  requester_id: string;
  message: string | null;
  created_at: number;
  expires_at: number | null;
  accepted_at: number | null;
}

type PgpRow = Parameters<typeof toPgp>[0];
type ViewRow = Row & PgpRow & { peer_id: string; peer_username: string };

const toRecord = (r: Row): ConnectionRecord => ({
  id: r.id,
  lowId: r.low_id,
  highId: r.high_id,
  state: r.state,
  requesterId: r.requester_id,
  message: r.message,
  createdAt: new Date(r.created_at),
  expiresAt: r.expires_at === null ? null : new Date(r.expires_at),
  acceptedAt: r.accepted_at === null ? null : new Date(r.accepted_at),
});

const toView = (row: ViewRow): ConnectionView => ({
  ...toRecord(row),
  peerId: row.peer_id,
  peerUsername: row.peer_username,
  peerPgp: toPgp(row),
});

/** The pair's key: the two ids in ascending order, whoever is asking. */
const pair = (a: string, b: string): [string, string] => (a < b ? [a, b] : [b, a]);

// "Live" in SQL: accepted, or pending and not yet expired. Every read and transition uses it, so an
// expired request is absent whether or not purgeExpired has run.
const LIVE = `(state = 'accepted' OR expires_at > @now)`;

/** How many pairs the memo remembers before it starts over. */
const REMEMBERED_MAX = 100_000;

/**
 * Connections found live by `find`, remembered by pair (rowMemo.ts): every accept, rejection, cancel,
 * removal, replacement of an expired request, purge and account deletion (ON DELETE CASCADE) updates or
 * deletes the row, which forgets it. A remembered pending request is live only until its expiry, judged on
 * every answer as the SQL does.
 */
function connectionMemo(db: Database.Database) {
  const memo = rowMemo<ConnectionRecord>(db, REMEMBERED_MAX);
  onRowChanged(db, 'connections', ['low_id', 'high_id'], (low, high) => memo.forget(`${String(low)} ${String(high)}`));
  return {
    find(low: string, high: string, now: number, read: () => Row | undefined): ConnectionRecord | null {
      const known = memo.get(`${low} ${high}`);
      if (known && (known.state === 'accepted' || known.expiresAt!.getTime() > now)) return known;
      const row = read();
      return row ? memo.remember(`${low} ${high}`, toRecord(row)) : null;
    },
  };
}

export function sqliteConnections(db: Database.Database, mailbox: SqliteMailboxWrites): ConnectionStore {
  const memo = connectionMemo(db);
  const counts = db.prepare<{ now: number }, { accepted: number; pending: number }>(
    `SELECT count(*) FILTER (WHERE state = 'accepted') AS accepted,
            count(*) FILTER (WHERE state = 'pending' AND expires_at > @now) AS pending
     FROM connections`,
  );
  const byPair = db.prepare<[string, string], Row>('SELECT * FROM connections WHERE low_id = ? AND high_id = ?');
  const liveByPair = db.prepare<{ low: string; high: string; now: number }, Row>(`SELECT * FROM connections WHERE low_id = @low AND high_id = @high AND ${LIVE}`);
  const deleteById = db.prepare<[string]>('DELETE FROM connections WHERE id = ?');
  const acceptById = db.prepare<[number, string], Row>(`UPDATE connections SET state = 'accepted', accepted_at = ?, expires_at = NULL WHERE id = ? RETURNING *`);
  const outgoing = db.prepare<{ from: string; now: number }, { n: number; oldest: number | null }>(
    `SELECT count(*) AS n, min(expires_at) AS oldest FROM connections
     WHERE requester_id = @from AND state = 'pending' AND expires_at > @now`,
  );
  const insert = db.prepare(
    `INSERT INTO connections (id, low_id, high_id, state, requester_id, message, created_at, expires_at, accepted_at)
     VALUES (@id, @low, @high, 'pending', @from, @message, @now, @expiresAt, NULL) RETURNING *`,
  );
  // Each of these is one conditional statement: of two concurrent transitions only one can match.
  const accept = db.prepare<{ low: string; high: string; requester: string; now: number }, Row>(
    `UPDATE connections SET state = 'accepted', accepted_at = @now, expires_at = NULL
     WHERE low_id = @low AND high_id = @high AND state = 'pending' AND requester_id = @requester AND expires_at > @now
     RETURNING *`,
  );
  const reject = db.prepare<{ low: string; high: string; requester: string; now: number }>(
    `DELETE FROM connections
     WHERE low_id = @low AND high_id = @high AND state = 'pending' AND requester_id = @requester AND expires_at > @now`,
  );
  const remove = db.prepare<{ low: string; high: string; user: string; now: number }, { state: 'pending' | 'accepted' }>(
    `DELETE FROM connections
     WHERE low_id = @low AND high_id = @high
       AND (state = 'accepted' OR (state = 'pending' AND requester_id = @user AND expires_at > @now))
     RETURNING state`,
  );
  // The peer is whichever member of the pair is not the caller; the join drops nothing in practice
  // (both ids cascade from users) but keeps a half-deleted pair from ever showing.
  const viewSelect = `SELECT c.*, u.id AS peer_id, u.username AS peer_username, u.pgp_fingerprint, u.pgp_algorithm,
       u.pgp_created_at, u.pgp_expires_at, u.pgp_public_key FROM connections c
     JOIN users u ON u.id = CASE WHEN c.low_id = @user THEN c.high_id ELSE c.low_id END
     WHERE (c.low_id = @user OR c.high_id = @user)`;
  const listConnections = db.prepare<{ user: string }, ViewRow>(`${viewSelect} AND c.state = 'accepted' ORDER BY u.username`);
  const listPending = db.prepare<{ user: string; now: number }, ViewRow>(
    `${viewSelect} AND c.state = 'pending' AND c.expires_at > @now ORDER BY c.created_at DESC, c.id`,
  );
  const purge = db.prepare<[number]>(`DELETE FROM connections WHERE state = 'pending' AND expires_at <= ?`);

  // Read-decide-write in one IMMEDIATE transaction: the write lock is taken at BEGIN, so a
  // concurrent request from the other side (or another process on the same file) waits its turn.
  const request = db.transaction((i: ConnectionRequestInput): ConnectionRequestResult => {
    const [low, high] = pair(i.fromId, i.toId);
    const now = i.now.getTime();
    const existing = byPair.get(low, high);
    if (existing) {
      if (existing.state === 'accepted') return { outcome: 'already_connected', record: toRecord(existing) };
      if (existing.expires_at! > now) {
        if (existing.requester_id === i.fromId) return { outcome: 'pending', record: toRecord(existing) };
        return { outcome: 'accepted', record: toRecord(acceptById.get(now, existing.id)!) };
      }
      deleteById.run(existing.id); // expired: a fresh request takes its place
    }
    const mine = outgoing.get({ from: i.fromId, now })!;
    if (mine.n >= i.maxPending) return { outcome: 'limit', freesAt: new Date(mine.oldest!) };
    try {
      const row = insert.get({ id: i.id, low, high, from: i.fromId, message: i.message, now, expiresAt: i.expiresAt.getTime() }) as Row;
      return { outcome: 'requested', record: toRecord(row) };
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_FOREIGNKEY') return { outcome: 'gone' };
      throw err;
    }
  });

  return {
    // Each transition and the events it causes commit together (mailbox.withEvents): an event can
    // neither be lost nor be read before the change it reports.
    async request(input, events) {
      return mailbox.withEvents(
        () => request(input),
        (r) => (events && (r.outcome === 'requested' || r.outcome === 'accepted') ? events(r) : null),
      );
    },
    async accept(requesterId, recipientId, now, events) {
      const [low, high] = pair(requesterId, recipientId);
      return mailbox.withEvents(
        () => {
          const row = accept.get({ low, high, requester: requesterId, now: now.getTime() });
          return row ? toRecord(row) : null;
        },
        (record) => (record && events ? events(record) : null),
      );
    },
    async reject(requesterId, recipientId, now, events) {
      const [low, high] = pair(requesterId, recipientId);
      return mailbox.withEvents(
        () => reject.run({ low, high, requester: requesterId, now: now.getTime() }).changes > 0,
        (rejected) => (rejected && events ? events() : null),
      );
    },
    async remove(userId, otherId, now, events) {
      const [low, high] = pair(userId, otherId);
      return mailbox.withEvents(
        (): 'connection' | 'request' | null => {
          const row = remove.get({ low, high, user: userId, now: now.getTime() });
          if (!row) return null;
          return row.state === 'accepted' ? 'connection' : 'request';
        },
        (removed) => (removed && events ? events(removed) : null),
      );
    },
    async find(a, b, now) {
      const [low, high] = pair(a, b);
      const at = now.getTime();
      return memo.find(low, high, at, () => liveByPair.get({ low, high, now: at }));
    },
    async listConnections(userId) {
      return listConnections.all({ user: userId }).map(toView);
    },
    async listPending(userId, now) {
      return listPending.all({ user: userId, now: now.getTime() }).map(toView);
    },
    async purgeExpired(now) {
      return purge.run(now.getTime()).changes;
    },
    async count(now) {
      return counts.get({ now: now.getTime() })!;
    },
  };
}
