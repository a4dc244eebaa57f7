import type Database from 'better-sqlite3';
import { DuplicateError, type UserRecord, type UserStore } from '../types.js';

interface UserRow {
  id: string;
  username: string;
  email_index: string;
  email_enc: string;
  birthday_enc: string | null;
  password_hash: string;
  created_at: number;
}

const toRecord = (r: UserRow): UserRecord => ({
  id: r.id,
  username: r.username,
  emailIndex: r.email_index,
  emailEnc: r.email_enc,
  birthdayEnc: r.birthday_enc,
  passwordHash: r.password_hash,
  createdAt: new Date(r.created_at),
});

export function sqliteUsers(db: Database.Database): UserStore {
  const insert = db.prepare(
    `INSERT INTO users (id, username, email_index, email_enc, birthday_enc, password_hash, created_at)
     VALUES (@id, @username, @emailIndex, @emailEnc, @birthdayEnc, @passwordHash, @createdAt)`,
  );
  const byId = db.prepare<[string], UserRow>('SELECT * FROM users WHERE id = ?');
  const byUsername = db.prepare<[string], UserRow>('SELECT * FROM users WHERE username = ?');
  const byEmailIndex = db.prepare<[string], UserRow>('SELECT * FROM users WHERE email_index = ?');
  const setHash = db.prepare('UPDATE users SET password_hash = ? WHERE id = ?');
  // Sessions and refresh tokens go with the user through ON DELETE CASCADE, in the same statement.
  const remove = db.prepare('DELETE FROM users WHERE id = ?');

  return {
    async create(user) {
      try {
        insert.run({ ...user, createdAt: user.createdAt.getTime() });
      } catch (err) {
        const e = err as { code?: string; message?: string };
        if (e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
          throw new DuplicateError(e.message?.includes('users.username') ? 'username' : 'email');
        }
        throw err;
      }
    },
    async findById(id) {
      const row = byId.get(id);
      return row ? toRecord(row) : null;
    },
    async findByUsername(username) {
      const row = byUsername.get(username);
      return row ? toRecord(row) : null;
    },
    async findByEmailIndex(emailIndex) {
      const row = byEmailIndex.get(emailIndex);
      return row ? toRecord(row) : null;
    },
    async setPasswordHash(id, passwordHash) {
      return setHash.run(passwordHash, id).changes > 0;
    },
    async delete(id) {
      return remove.run(id).changes > 0;
    },
  };
}
