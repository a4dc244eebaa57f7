import type Database from 'better-sqlite3';
import type { RotateResult, SessionRecord, SessionStore } from '../types.js';
import type { GroupCommit } from './groupCommit.js';
import { otherWritersWatch } from './otherWriters.js';
import { onRowChanged } from './rowChanges.js';

interface SessionRow {
  id: string;
  user_id: string;
  created_at: number;
  expires_at: number;
  device_name_enc: string | null;
  device_platform_enc: string | null;
  last_seen: number | null;
}

interface TokenRow {
  session_id: string;
  used_at: number | null;
  expires_at: number;
}

const toRecord = (r: SessionRow): SessionRecord => ({
  id: r.id,
  userId: r.user_id,
  createdAt: new Date(r.created_at),
  expiresAt: new Date(r.expires_at),
  deviceNameEnc: r.device_name_enc,
  devicePlatformEnc: r.device_platform_enc,
  lastSeen: r.last_seen === null ? null : new Date(r.last_seen),
});

/** How many sessions the memo remembers; past it the memo starts over (a session not in it is simply read). */
const REMEMBERED_MAX = 100_000;

/**
 * Every authenticated request looks its session up (so logout, password change, account deletion and
 * device removal revoke at once); on SQLite that point read was ~11 % of an empty poll (bench/README.md), so
 * sessions found are remembered. The memo is sound because no change to a session can pass unseen:
 * - this connection's own changes, whichever module makes them (a delete here, a user's deletion that
 *   cascades, the admin's disable, a rotation that extends `expires_at`, a `lastSeen` touch), fire TEMP
 *   triggers that forget the session inside the very statement, before any later read can run;
 * - other connections' commits (the admin CLI, a second server on the file) change `data_version`,
 *   checked before every remembered answer, and then the whole memo is dropped;
 * - only sessions found are remembered, never an absence, so a session created later is always read.
 * Expiry and maximum age are judged by the caller on every request from the remembered times.
 * A rolled-back change has already made the memo forget: that costs one read, nothing else.
 */
function sessionMemo(db: Database.Database) {
  const remembered = new Map<string, SessionRecord>();
  const othersWrote = otherWritersWatch(db);
  onRowChanged(db, 'sessions', ['id'], (id) => remembered.delete(String(id)));
  return {
    get(id: string): SessionRecord | undefined {
      if (othersWrote()) {
        remembered.clear();
        return undefined;
      }
      return remembered.get(id);
    },
    remember(record: SessionRecord): SessionRecord {
      if (remembered.size >= REMEMBERED_MAX) remembered.clear();
      // Frozen: one object answers many requests, so no caller may change it for the others.
      const frozen = Object.freeze(record);
      remembered.set(record.id, frozen);
      return frozen;
    },
  };
}

export function sqliteSessions(db: Database.Database, commits: GroupCommit): SessionStore {
  const memo = sessionMemo(db);
  const insertSession = db.prepare(
    `INSERT INTO sessions (id, user_id, created_at, expires_at, device_name_enc, device_platform_enc, last_seen)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertToken = db.prepare('INSERT INTO refresh_tokens (hash, session_id, used_at, expires_at) VALUES (?, ?, NULL, ?)');
  const byId = db.prepare<[string], SessionRow>('SELECT * FROM sessions WHERE id = ?');
  const tokenByHash = db.prepare<[string], TokenRow>('SELECT session_id, used_at, expires_at FROM refresh_tokens WHERE hash = ?');
  const markUsed = db.prepare('UPDATE refresh_tokens SET used_at = ? WHERE hash = ? AND used_at IS NULL');
  const extend = db.prepare('UPDATE sessions SET expires_at = ? WHERE id = ?');
  const remove = db.prepare('DELETE FROM sessions WHERE id = ?');
  const removeOfUser = db.prepare('DELETE FROM sessions WHERE id = ? AND user_id = ?');
  const removeByUser = db.prepare('DELETE FROM sessions WHERE user_id = ? AND id IS NOT ?');
  const purgeSessions = db.prepare('DELETE FROM sessions WHERE expires_at <= ?');
  const purgeTokens = db.prepare('DELETE FROM refresh_tokens WHERE expires_at <= ?');
  const countLive = db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM sessions WHERE expires_at > ?');
  const isDisabled = db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM users WHERE id = ? AND disabled_at IS NOT NULL');
  const liveOfUser = db.prepare<[string, number], SessionRow>('SELECT * FROM sessions WHERE user_id = ? AND expires_at > ? ORDER BY created_at, id');
  const touchStmt = db.prepare('UPDATE sessions SET last_seen = ? WHERE id = ? AND (last_seen IS NULL OR last_seen < ?)');
  // Every session of the user, expired ones first, then least recently seen; the protected one last.
  const trimCandidates = db.prepare<[number, string, string], { id: string; live: number }>(
    `SELECT id, expires_at > ? AS live FROM sessions WHERE user_id = ?
     ORDER BY live, id = ?, coalesce(last_seen, created_at), created_at, id`,
  );

  // Run with .immediate: the write lock is taken before the disabled check, so an operator disabling
  // the account from another process (admin CLI) cannot slip in between the check and the insert.
  const create = db.transaction((s: SessionRecord, refreshHash: string): boolean => {
    if (isDisabled.get(s.userId)!.n > 0) return false;
    insertSession.run(s.id, s.userId, s.createdAt.getTime(), s.expiresAt.getTime(), s.deviceNameEnc, s.devicePlatformEnc, s.lastSeen ? s.lastSeen.getTime() : null);
    insertToken.run(refreshHash, s.id, s.expiresAt.getTime());
    return true;
  });

  // One transaction: SQLite serialises writers, so two concurrent rotations of one token cannot both win.
  const rotate = db.transaction((oldHash: string, newHash: string, now: number, expiresAt: number): RotateResult => {
    const token = tokenByHash.get(oldHash);
    if (!token) return { outcome: 'invalid' };
    if (token.used_at !== null) {
      remove.run(token.session_id);
      return { outcome: 'reused', sessionId: token.session_id };
    }
    const session = byId.get(token.session_id);
    if (!session || token.expires_at <= now || session.expires_at <= now) return { outcome: 'invalid' };
    markUsed.run(now, oldHash);
    insertToken.run(newHash, session.id, expiresAt);
    extend.run(expiresAt, session.id);
    return { outcome: 'rotated', session: toRecord({ ...session, expires_at: expiresAt }) };
  });

  // One write transaction: the count and the deletes see the same rows (refresh tokens cascade).
  const trim = db.transaction((userId: string, keep: number, protectId: string, now: number): string[] => {
    const all = trimCandidates.all(now, userId, protectId);
    const live = all.filter((o) => o.live === 1);
    // Expired ones all go; of the live ones the least recent go until `keep` are left (the protected
    // one sorts last, so it stays; when a concurrent trim already ended it, it takes no place).
    const ended = all.filter((o) => o.live === 0).concat(live.slice(0, Math.max(0, live.length - keep)));
    for (const o of ended) remove.run(o.id);
    return ended.map((o) => o.id);
  });

  return {
    async create(session, refreshHash) {
      try {
        return create.immediate(session, refreshHash);
      } catch (err) {
        // The user was deleted between the password check and here.
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_FOREIGNKEY') return false;
        throw err;
      }
    },
    async findById(id) {
      const known = memo.get(id);
      if (known) return known;
      const row = byId.get(id);
      return row ? memo.remember(toRecord(row)) : null;
    },
    async rotateRefreshToken(oldHash, newHash, now, expiresAt) {
      return rotate.immediate(oldHash, newHash, now.getTime(), expiresAt.getTime());
    },
    async delete(id) {
      return remove.run(id).changes > 0;
    },
    async deleteByUser(userId, keepSessionId) {
      return removeByUser.run(userId, keepSessionId ?? null).changes;
    },
    async listByUser(userId, now) {
      return liveOfUser.all(userId, now.getTime()).map(toRecord);
    },
    async deleteOfUser(id, userId) {
      return removeOfUser.run(id, userId).changes > 0;
    },
    // In the group commit: thousands of devices polling in share a commit instead of one each (bench/README.md).
    touch(id, at) {
      const t = at.getTime();
      const write = () => void touchStmt.run(t, id, t);
      return commits.enqueue(write, write);
    },
    async trimToMostRecent(userId, keep, protectId, now) {
      return trim.immediate(userId, keep, protectId, now.getTime());
    },
    async purgeExpired(now) {
      const t = now.getTime();
      purgeTokens.run(t);
      return purgeSessions.run(t).changes;
    },
    async countActive(now) {
      return countLive.get(now.getTime())!.n;
    },
  };
}
