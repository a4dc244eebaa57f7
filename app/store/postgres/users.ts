import type pg from 'pg';
import { prefixUpperBound } from '../prefix.js';
import { DuplicateError, type PgpKeyRecord, type UserRecord, type UserStore } from '../types.js';
import { transaction } from './db.js';
import { isUniqueViolation } from './errors.js';
import type { PgMailboxWrites } from './mailbox.js';

export interface PgpColumns {
  pgp_fingerprint: string | null;
  pgp_algorithm: string | null;
  pgp_created_at: Date | null;
  pgp_expires_at: Date | null;
  pgp_public_key: string | null;
}

interface UserRow extends PgpColumns {
  id: string;
  username: string;
  email_index: string;
  email_enc: string;
  birthday_enc: string | null;
  password_hash: string;
  created_at: Date;
  disabled_at: Date | null;
}

const pgpValues = (key: PgpKeyRecord | null) => [
  key?.fingerprint ?? null,
  key?.algorithm ?? null,
  key?.createdAt ?? null,
  key?.expiresAt ?? null,
  key?.publicKey ?? null,
];

/** The key columns of a users row (also read through joins, e.g. connection views). */
export const toPgp = (r: PgpColumns): PgpKeyRecord | null =>
  r.pgp_public_key === null
    ? null
    : { fingerprint: r.pgp_fingerprint!, algorithm: r.pgp_algorithm!, createdAt: r.pgp_created_at!, expiresAt: r.pgp_expires_at, publicKey: r.pgp_public_key };

const toRecord = (r: UserRow): UserRecord => ({
  id: r.id,
  username: r.username,
  emailIndex: r.email_index,
  emailEnc: r.email_enc,
  birthdayEnc: r.birthday_enc,
  passwordHash: r.password_hash,
  createdAt: r.created_at,
  pgp: toPgp(r),
  disabledAt: r.disabled_at,
});

export function pgUsers(pool: pg.Pool, mailbox: PgMailboxWrites): UserStore {
  const one = async (sql: string, value: string) => {
    const { rows } = await pool.query<UserRow>(sql, [value]);
    return rows[0] ? toRecord(rows[0]) : null;
  };
  return {
    async create(u) {
      try {
        await pool.query(
          `INSERT INTO users (id, username, email_index, email_enc, birthday_enc, password_hash, created_at,
                              pgp_fingerprint, pgp_algorithm, pgp_created_at, pgp_expires_at, pgp_public_key, disabled_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
          [u.id, u.username, u.emailIndex, u.emailEnc, u.birthdayEnc, u.passwordHash, u.createdAt, ...pgpValues(u.pgp), u.disabledAt],
        );
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new DuplicateError((err as { constraint?: string }).constraint === 'users_username_key' ? 'username' : 'email');
        }
        throw err;
      }
    },
    findById: (id) => one('SELECT * FROM users WHERE id = $1', id),
    findByUsername: (username) => one('SELECT * FROM users WHERE username = $1', username),
    findByEmailIndex: (emailIndex) => one('SELECT * FROM users WHERE email_index = $1', emailIndex),
    async setPasswordHash(id, passwordHash) {
      return ((await pool.query('UPDATE users SET password_hash = $1 WHERE id = $2', [passwordHash, id])).rowCount ?? 0) > 0;
    },
    async setPgpKey(id, key, events) {
      // pgp.changed lands with the key: a connection never reads a key it was not told about, or vice versa.
      return mailbox.withEvents(
        async (q) =>
          ((
            await q.query(`UPDATE users SET pgp_fingerprint = $2, pgp_algorithm = $3, pgp_created_at = $4, pgp_expires_at = $5, pgp_public_key = $6 WHERE id = $1`, [
              id,
              ...pgpValues(key),
            ])
          ).rowCount ?? 0) > 0,
        (ok) => (ok && events ? events() : null),
      );
    },
    async search(prefix, excludeId, limit) {
      // A range on the byte-ordered (COLLATE "C") username: the unique index serves it.
      const { rows } = await pool.query<{ username: string; pgp_fingerprint: string | null }>(
        `SELECT username, pgp_fingerprint FROM users WHERE username >= $1 AND username < $2 AND id <> $3 ORDER BY username LIMIT $4`,
        [prefix, prefixUpperBound(prefix), excludeId, limit],
      );
      return rows.map((r) => ({ username: r.username, fingerprint: r.pgp_fingerprint }));
    },
    async delete(id) {
      // Sessions, tokens, mailboxes and everything else the user owns go with it (ON DELETE CASCADE), in one
      // statement; in a transaction so that, chosen as a deadlock's victim against a racing sign-in or
      // refresh, it runs again rather than failing.
      return transaction(pool, async (q) => ((await q.query('DELETE FROM users WHERE id = $1', [id])).rowCount ?? 0) > 0);
    },
    async setDisabled(id, disabledAt) {
      // The flag and the end of every session land together (refresh tokens cascade).
      return transaction(pool, async (q) => {
        if (!(await q.query('UPDATE users SET disabled_at = $1 WHERE id = $2', [disabledAt, id])).rowCount) return false;
        if (disabledAt !== null) await q.query('DELETE FROM sessions WHERE user_id = $1', [id]);
        return true;
      });
    },
    async list(afterUsername, limit) {
      const { rows } = await pool.query<UserRow>('SELECT * FROM users WHERE username > $1 ORDER BY username LIMIT $2', [afterUsername ?? '', limit]);
      return rows.map(toRecord);
    },
    async count() {
      return (await pool.query<{ n: number }>('SELECT count(*) AS n FROM users')).rows[0]!.n;
    },
  };
}
