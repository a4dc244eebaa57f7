import type Database from 'better-sqlite3';
import type { SqliteMailboxWrites } from './mailboxWrites.js';
import { rowMemo } from './rowMemo.js';
import { prefixUpperBound } from '../prefix.js';
import { DuplicateError, type PgpKeyRecord, type UserRecord, type UserStore } from '../types.js';
import { onRowChanged } from './rowChanges.js';

interface UserRow {
  id: string;
  username: string;
  email_index: string;
  email_enc: string;
  birthday_enc: string | null;
  password_hash: string;
  created_at: number;
  pgp_fingerprint: string | null;
  pgp_algorithm: string | null;
  pgp_created_at: number | null;
  pgp_expires_at: number | null;
  pgp_public_key: string | null;
  disabled_at: number | null;
}

/** The prefix search: a range on the lower-case username, so the UNIQUE index serves it (see the test). */
export const SEARCH_SQL = `SELECT username, pgp_fingerprint FROM users
   WHERE username >= @low AND username < @high AND id <> @excludeId
   ORDER BY username LIMIT @limit`;

const pgpColumns = (key: PgpKeyRecord | null) => ({
  pgpFingerprint: key?.fingerprint ?? null,
  pgpAlgorithm: key?.algorithm ?? null,
  pgpCreatedAt: key ? key.createdAt.getTime() : null,
  pgpExpiresAt: key?.expiresAt ? key.expiresAt.getTime() : null,
  pgpPublicKey: key?.publicKey ?? null,
});

/** The key columns of a users row (also read through joins, e.g. connection views). */
export const toPgp = (r: Pick<UserRow, 'pgp_fingerprint' | 'pgp_algorithm' | 'pgp_created_at' | 'pgp_expires_at' | 'pgp_public_key'>): PgpKeyRecord | null =>
  r.pgp_public_key === null
    ? null
    : {
        fingerprint: r.pgp_fingerprint!,
        algorithm: r.pgp_algorithm!,
        createdAt: new Date(r.pgp_created_at!),
        expiresAt: r.pgp_expires_at === null ? null : new Date(r.pgp_expires_at),
        publicKey: r.pgp_public_key,
      };

const toRecord = (r: UserRow): UserRecord => ({
  id: r.id,
  username: r.username,
  emailIndex: r.email_index,
  emailEnc: r.email_enc,
  birthdayEnc: r.birthday_enc,
  passwordHash: r.password_hash,
  createdAt: new Date(r.created_at),
  pgp: toPgp(r),
  disabledAt: r.disabled_at === null ? null : new Date(r.disabled_at),
});

/** How many users (each under its id and its username) the memo remembers before it starts over. */
const REMEMBERED_MAX = 100_000;

/**
 * Users found by id or username, remembered under both (rowMemo.ts): every change to a users row, a
 * password, a key, a disable, a deletion (or a rename, which no route makes), forgets both its keys.
 */
function userMemo(db: Database.Database) {
  const memo = rowMemo<UserRecord>(db, 2 * REMEMBERED_MAX);
  onRowChanged(db, 'users', ['id', 'username'], (id, username) => {
    memo.forget(`id ${String(id)}`);
    memo.forget(`name ${String(username)}`);
  });
  const remember = (row: UserRow | undefined): UserRecord | null => {
    if (!row) return null;
    const user = toRecord(row);
    if (user.pgp) Object.freeze(user.pgp);
    memo.remember(`name ${user.username}`, user);
    return memo.remember(`id ${user.id}`, user);
  };
  return {
    byId: (id: string, read: () => UserRow | undefined) => memo.get(`id ${id}`) ?? remember(read()),
    byUsername: (username: string, read: () => UserRow | undefined) => memo.get(`name ${username}`) ?? remember(read()),
  };
}

export function sqliteUsers(db: Database.Database, mailbox: SqliteMailboxWrites): UserStore {
  const memo = userMemo(db);
  const insert = db.prepare(
    `INSERT INTO users (id, username, email_index, email_enc, birthday_enc, password_hash, created_at,
                        pgp_fingerprint, pgp_algorithm, pgp_created_at, pgp_expires_at, pgp_public_key, disabled_at)
     VALUES (@id, @username, @emailIndex, @emailEnc, @birthdayEnc, @passwordHash, @createdAt,
             @pgpFingerprint, @pgpAlgorithm, @pgpCreatedAt, @pgpExpiresAt, @pgpPublicKey, @disabledAt)`,
  );
  const byId = db.prepare<[string], UserRow>('SELECT * FROM users WHERE id = ?');
  const byUsername = db.prepare<[string], UserRow>('SELECT * FROM users WHERE username = ?');
  const byEmailIndex = db.prepare<[string], UserRow>('SELECT * FROM users WHERE email_index = ?');
  const setHash = db.prepare('UPDATE users SET password_hash = ? WHERE id = ?');
  const setPgp = db.prepare(
    `UPDATE users SET pgp_fingerprint = @pgpFingerprint, pgp_algorithm = @pgpAlgorithm, pgp_created_at = @pgpCreatedAt,
                      pgp_expires_at = @pgpExpiresAt, pgp_public_key = @pgpPublicKey
     WHERE id = @id`,
  );
  const searchStmt = db.prepare<[{ low: string; high: string; excludeId: string; limit: number }], { username: string; pgp_fingerprint: string | null }>(SEARCH_SQL);
  // Sessions and refresh tokens go with the user through ON DELETE CASCADE, in the same statement.
  const remove = db.prepare('DELETE FROM users WHERE id = ?');
  const setDisabledAt = db.prepare<[number | null, string]>('UPDATE users SET disabled_at = ? WHERE id = ?');
  const endSessions = db.prepare<[string]>('DELETE FROM sessions WHERE user_id = ?');
  // One transaction: the flag and the end of every session land together (refresh tokens cascade).
  const setDisabled = db.transaction((id: string, at: number | null): boolean => {
    if (setDisabledAt.run(at, id).changes === 0) return false;
    if (at !== null) endSessions.run(id);
    return true;
  });
  const listStmt = db.prepare<[string, number], UserRow>('SELECT * FROM users WHERE username > ? ORDER BY username LIMIT ?');
  const countStmt = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM users');

  return {
    async create(user) {
      try {
        const { pgp, disabledAt, ...fields } = user;
        insert.run({ ...fields, createdAt: user.createdAt.getTime(), ...pgpColumns(pgp), disabledAt: disabledAt ? disabledAt.getTime() : null });
      } catch (err) {
        const e = err as { code?: string; message?: string };
        if (e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
          throw new DuplicateError(e.message?.includes('users.username') ? 'username' : 'email');
        }
        throw err;
      }
    },
    async findById(id) {
      return memo.byId(id, () => byId.get(id));
    },
    async findByUsername(username) {
      return memo.byUsername(username, () => byUsername.get(username));
    },
    async findByEmailIndex(emailIndex) {
      const row = byEmailIndex.get(emailIndex);
      return row ? toRecord(row) : null;
    },
    async setPasswordHash(id, passwordHash) {
      return setHash.run(passwordHash, id).changes > 0;
    },
    async setPgpKey(id, key, events) {
      // pgp.changed lands with the key: a connection never reads a key it was not told about, or vice versa.
      const changed = mailbox.withEvents(
        () => setPgp.run({ id, ...pgpColumns(key) }).changes > 0,
        (ok) => (ok && events ? events() : null),
      );
      return changed;
    },
    async search(prefix, excludeId, limit) {
      return searchStmt.all({ low: prefix, high: prefixUpperBound(prefix), excludeId, limit }).map((r) => ({ username: r.username, fingerprint: r.pgp_fingerprint }));
    },
    async delete(id) {
      return remove.run(id).changes > 0;
    },
    async setDisabled(id, disabledAt) {
      return setDisabled.immediate(id, disabledAt ? disabledAt.getTime() : null);
    },
    async list(afterUsername, limit) {
      // '' sorts before every username, so null starts from the first.
      return listStmt.all(afterUsername ?? '', limit).map(toRecord);
    },
    async count() {
      return countStmt.get()!.n;
    },
  };
}
