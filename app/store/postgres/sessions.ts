import type pg from 'pg';
import type { RotateResult, SessionRecord, SessionStore } from '../types.js';
import { LockNamespace, lockName, transaction } from './db.js';
import { isForeignKeyViolation } from './errors.js';
import { watchNotifications } from './notifications.js';

interface SessionRow {
  id: string;
  user_id: string;
  created_at: Date;
  expires_at: Date;
  device_name_enc: string | null;
  device_platform_enc: string | null;
  last_seen: Date | null;
}

const toRecord = (r: SessionRow): SessionRecord => ({
  id: r.id,
  userId: r.user_id,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  deviceNameEnc: r.device_name_enc,
  devicePlatformEnc: r.device_platform_enc,
  lastSeen: r.last_seen,
});

/**
 * Sessions and their refresh tokens. Nothing is remembered in this instance's memory: every lookup reads
 * the row, so a logout, password change or account deletion through any instance ends the session on all
 * of them at once; and every ended session is announced (the sessions_ended trigger, migrations.ts), so
 * the polls other instances hold for it answer at once too (`watchEnded`).
 */
export function pgSessions(pool: pg.Pool, options: { url: string; channel: string }): SessionStore {
  return {
    watchEnded(listener, onFailure) {
      return watchNotifications(options.url, options.channel, (payload) => listener(payload.split(',').filter(Boolean)), { onFailure });
    },
    async create(s, refreshHash) {
      try {
        return await transaction(pool, async (q) => {
          // FOR SHARE: an operator disabling the account (an UPDATE of this row) waits for this sign-in to
          // commit and then ends its session with the others, or has already committed and this finds it
          // disabled; a deletion of the user waits likewise and cascades to the new session.
          const { rowCount } = await q.query('SELECT 1 FROM users WHERE id = $1 AND disabled_at IS NULL FOR SHARE', [s.userId]);
          if (!rowCount) return false;
          await q.query(
            `INSERT INTO sessions (id, user_id, created_at, expires_at, device_name_enc, device_platform_enc, last_seen)
             VALUES ($1, $2, $3, $4, $5, $6, $7)`,
            [s.id, s.userId, s.createdAt, s.expiresAt, s.deviceNameEnc, s.devicePlatformEnc, s.lastSeen],
          );
          await q.query('INSERT INTO refresh_tokens (hash, session_id, used_at, expires_at) VALUES ($1, $2, NULL, $3)', [refreshHash, s.id, s.expiresAt]);
          return true;
        });
      } catch (err) {
        if (isForeignKeyViolation(err)) return false; // the user was deleted between the check and the insert
        throw err;
      }
    },
    async findById(id) {
      const { rows } = await pool.query<SessionRow>('SELECT * FROM sessions WHERE id = $1', [id]);
      return rows[0] ? toRecord(rows[0]) : null;
    },
    async rotateRefreshToken(oldHash, newHash, now, expiresAt) {
      // Locks the session, then the token (the order of ON DELETE CASCADE, so a deletion racing it cannot
      // deadlock with it): of two concurrent rotations of one token the second waits, then sees it used.
      return transaction(pool, async (q): Promise<RotateResult> => {
        const owner = (await q.query<{ session_id: string }>('SELECT session_id FROM refresh_tokens WHERE hash = $1', [oldHash])).rows[0];
        if (!owner) return { outcome: 'invalid' };
        const session = (await q.query<SessionRow>('SELECT * FROM sessions WHERE id = $1 FOR UPDATE', [owner.session_id])).rows[0];
        const { rows } = await q.query<{ session_id: string; used_at: Date | null; expires_at: Date }>(
          'SELECT session_id, used_at, expires_at FROM refresh_tokens WHERE hash = $1 FOR UPDATE',
          [oldHash],
        );
        const token = rows[0];
        if (!token) return { outcome: 'invalid' };
        if (token.used_at !== null) {
          await q.query('DELETE FROM sessions WHERE id = $1', [token.session_id]);
          return { outcome: 'reused', sessionId: token.session_id };
        }
        if (!session || token.expires_at <= now || session.expires_at <= now) return { outcome: 'invalid' };
        await q.query('UPDATE refresh_tokens SET used_at = $1 WHERE hash = $2', [now, oldHash]);
        await q.query('INSERT INTO refresh_tokens (hash, session_id, used_at, expires_at) VALUES ($1, $2, NULL, $3)', [newHash, session.id, expiresAt]);
        await q.query('UPDATE sessions SET expires_at = $1 WHERE id = $2', [expiresAt, session.id]);
        return { outcome: 'rotated', session: toRecord({ ...session, expires_at: expiresAt }) };
      });
    },
    async delete(id) {
      return ((await pool.query('DELETE FROM sessions WHERE id = $1', [id])).rowCount ?? 0) > 0;
    },
    async deleteByUser(userId, keepSessionId) {
      return (await pool.query('DELETE FROM sessions WHERE user_id = $1 AND id IS DISTINCT FROM $2', [userId, keepSessionId ?? null])).rowCount ?? 0;
    },
    async listByUser(userId, now) {
      const { rows } = await pool.query<SessionRow>('SELECT * FROM sessions WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at, id', [userId, now]);
      return rows.map(toRecord);
    },
    async deleteOfUser(id, userId) {
      return ((await pool.query('DELETE FROM sessions WHERE id = $1 AND user_id = $2', [id, userId])).rowCount ?? 0) > 0;
    },
    async touch(id, at) {
      await pool.query('UPDATE sessions SET last_seen = $1 WHERE id = $2 AND (last_seen IS NULL OR last_seen < $1)', [at, id]);
    },
    async trimToMostRecent(userId, keep, protectId, now) {
      // One trim of a user at a time (advisory lock): each sees every session committed before it.
      return transaction(pool, async (q) => {
        await lockName(q, LockNamespace.UserSessions, userId);
        // Expired ones first, then least recently seen; the protected one last.
        const { rows } = await q.query<{ id: string; live: boolean }>(
          `SELECT id, expires_at > $1 AS live FROM sessions WHERE user_id = $2
           ORDER BY live, id = $3, coalesce(last_seen, created_at), created_at, id`,
          [now, userId, protectId],
        );
        const live = rows.filter((o) => o.live);
        const ended = rows.filter((o) => !o.live).concat(live.slice(0, Math.max(0, live.length - keep)));
        if (ended.length > 0) await q.query('DELETE FROM sessions WHERE id = ANY($1::text[])', [ended.map((o) => o.id)]);
        return ended.map((o) => o.id);
      });
    },
    async purgeExpired(now) {
      await pool.query('DELETE FROM refresh_tokens WHERE expires_at <= $1', [now]);
      return (await pool.query('DELETE FROM sessions WHERE expires_at <= $1', [now])).rowCount ?? 0;
    },
    async countActive(now) {
      return (await pool.query<{ n: number }>('SELECT count(*) AS n FROM sessions WHERE expires_at > $1', [now])).rows[0]!.n;
    },
  };
}
