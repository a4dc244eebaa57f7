import type pg from 'pg';
import type { ConnectionRecord, ConnectionRequestResult, ConnectionStore, ConnectionView } from '../types.js';
import { LockNamespace, lockName, type Queryable } from './db.js';
import { isForeignKeyViolation } from './errors.js';
import type { PgMailboxWrites } from './mailbox.js';
import { toPgp, type PgpColumns } from './users.js';

interface Row {
  id: string;
  low_id: string;
  high_id: string;
  state: 'pending' | 'accepted';
  requester_id: string;
  message: string | null;
  created_at: Date;
  expires_at: Date | null;
  accepted_at: Date | null;
}

type ViewRow = Row & PgpColumns & { peer_id: string; peer_username: string };

const toRecord = (r: Row): ConnectionRecord => ({
  id: r.id,
  lowId: r.low_id,
  highId: r.high_id,
  state: r.state,
  requesterId: r.requester_id,
  message: r.message,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  acceptedAt: r.accepted_at,
});

const toView = (row: ViewRow): ConnectionView => ({ ...toRecord(row), peerId: row.peer_id, peerUsername: row.peer_username, peerPgp: toPgp(row) });

/** The pair's key: the two ids in ascending order (plain string comparison, as COLLATE "C" orders them). */
const pair = (a: string, b: string): [string, string] => (a < b ? [a, b] : [b, a]);

/**
 * Every transition of a pair takes the pair's advisory lock first, so concurrent requests, accepts and
 * removals from both sides run one after the other and each sees what the previous one committed. A
 * request also takes its requester's lock (before the pair's, always in that order), so two requests
 * from one user cannot both fit under maxPending.
 */
const lockPair = (q: Queryable, low: string, high: string) => lockName(q, LockNamespace.Pair, `${low}\n${high}`);

const COLUMNS = 'id, low_id, high_id, state, requester_id, message, created_at, expires_at, accepted_at';

export function pgConnections(pool: pg.Pool, mailbox: PgMailboxWrites): ConnectionStore {
  const viewSelect = `SELECT c.*, u.id AS peer_id, u.username AS peer_username, u.pgp_fingerprint, u.pgp_algorithm,
       u.pgp_created_at, u.pgp_expires_at, u.pgp_public_key FROM connections c
     JOIN users u ON u.id = CASE WHEN c.low_id = $1 THEN c.high_id ELSE c.low_id END
     WHERE (c.low_id = $1 OR c.high_id = $1)`;

  return {
    // Each transition and the events it causes commit together (mailbox.withEvents): an event can
    // neither be lost nor be read before the change it reports.
    async request(i, events) {
      const [low, high] = pair(i.fromId, i.toId);
      return mailbox
        .withEvents(
          async (q): Promise<ConnectionRequestResult> => {
            await lockName(q, LockNamespace.Requester, i.fromId);
            await lockPair(q, low, high);
            const existing = (await q.query<Row>(`SELECT ${COLUMNS} FROM connections WHERE low_id = $1 AND high_id = $2`, [low, high])).rows[0];
            if (existing) {
              if (existing.state === 'accepted') return { outcome: 'already_connected', record: toRecord(existing) };
              if (existing.expires_at! > i.now) {
                if (existing.requester_id === i.fromId) return { outcome: 'pending', record: toRecord(existing) };
                const { rows } = await q.query<Row>(`UPDATE connections SET state = 'accepted', accepted_at = $1, expires_at = NULL WHERE id = $2 RETURNING ${COLUMNS}`, [
                  i.now,
                  existing.id,
                ]);
                return { outcome: 'accepted', record: toRecord(rows[0]!) };
              }
              await q.query('DELETE FROM connections WHERE id = $1', [existing.id]); // expired: a fresh request takes its place
            }
            const mine = (
              await q.query<{ n: number; oldest: Date | null }>(
                `SELECT count(*) AS n, min(expires_at) AS oldest FROM connections WHERE requester_id = $1 AND state = 'pending' AND expires_at > $2`,
                [i.fromId, i.now],
              )
            ).rows[0]!;
            if (mine.n >= i.maxPending) return { outcome: 'limit', freesAt: mine.oldest! };
            // Only when both users exist; one deleted while this runs fails the foreign key, and the retry
            // (mailbox.write) finds it gone.
            const { rows } = await q.query<Row>(
              `INSERT INTO connections (${COLUMNS})
             SELECT $1, $2, $3, 'pending', $4, $5, $6::timestamptz, $7::timestamptz, NULL
             WHERE EXISTS (SELECT 1 FROM users WHERE id = $2) AND EXISTS (SELECT 1 FROM users WHERE id = $3)
             RETURNING ${COLUMNS}`,
              [i.id, low, high, i.fromId, i.message, i.now, i.expiresAt],
            );
            return rows[0] ? { outcome: 'requested', record: toRecord(rows[0]) } : { outcome: 'gone' };
          },
          (r) => (events && (r.outcome === 'requested' || r.outcome === 'accepted') ? events(r) : null),
        )
        .catch((err: unknown) => {
          if (isForeignKeyViolation(err)) return { outcome: 'gone' } as const; // a user deleted while the insert ran
          throw err;
        });
    },
    async accept(requesterId, recipientId, now, events) {
      const [low, high] = pair(requesterId, recipientId);
      return mailbox.withEvents(
        async (q) => {
          await lockPair(q, low, high);
          const { rows } = await q.query<Row>(
            `UPDATE connections SET state = 'accepted', accepted_at = $4, expires_at = NULL
             WHERE low_id = $1 AND high_id = $2 AND state = 'pending' AND requester_id = $3 AND expires_at > $4
             RETURNING ${COLUMNS}`,
            [low, high, requesterId, now],
          );
          return rows[0] ? toRecord(rows[0]) : null;
        },
        (record) => (record && events ? events(record) : null),
      );
    },
    async reject(requesterId, recipientId, now, events) {
      const [low, high] = pair(requesterId, recipientId);
      return mailbox.withEvents(
        async (q) => {
          await lockPair(q, low, high);
          const { rowCount } = await q.query(
            `DELETE FROM connections WHERE low_id = $1 AND high_id = $2 AND state = 'pending' AND requester_id = $3 AND expires_at > $4`,
            [low, high, requesterId, now],
          );
          return (rowCount ?? 0) > 0;
        },
        (rejected) => (rejected && events ? events() : null),
      );
    },
    async remove(userId, otherId, now, events) {
      const [low, high] = pair(userId, otherId);
      return mailbox.withEvents(
        async (q): Promise<'connection' | 'request' | null> => {
          await lockPair(q, low, high);
          const { rows } = await q.query<{ state: 'pending' | 'accepted' }>(
            `DELETE FROM connections WHERE low_id = $1 AND high_id = $2
               AND (state = 'accepted' OR (state = 'pending' AND requester_id = $3 AND expires_at > $4))
             RETURNING state`,
            [low, high, userId, now],
          );
          if (!rows[0]) return null;
          return rows[0].state === 'accepted' ? 'connection' : 'request';
        },
        (removed) => (removed && events ? events(removed) : null),
      );
    },
    async find(a, b, now) {
      const [low, high] = pair(a, b);
      const { rows } = await pool.query<Row>(`SELECT ${COLUMNS} FROM connections WHERE low_id = $1 AND high_id = $2 AND (state = 'accepted' OR expires_at > $3)`, [
        low,
        high,
        now,
      ]);
      return rows[0] ? toRecord(rows[0]) : null;
    },
    async listConnections(userId) {
      return (await pool.query<ViewRow>(`${viewSelect} AND c.state = 'accepted' ORDER BY u.username`, [userId])).rows.map(toView);
    },
    async listPending(userId, now) {
      const { rows } = await pool.query<ViewRow>(`${viewSelect} AND c.state = 'pending' AND c.expires_at > $2 ORDER BY c.created_at DESC, c.id`, [userId, now]);
      return rows.map(toView);
    },
    async purgeExpired(now) {
      return (await pool.query(`DELETE FROM connections WHERE state = 'pending' AND expires_at <= $1`, [now])).rowCount ?? 0;
    },
    async count(now) {
      const { rows } = await pool.query<{ accepted: number; pending: number }>(
        `SELECT count(*) FILTER (WHERE state = 'accepted') AS accepted, count(*) FILTER (WHERE state = 'pending' AND expires_at > $1) AS pending FROM connections`,
        [now],
      );
      return rows[0]!;
    },
  };
}
