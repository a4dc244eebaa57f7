import type Database from 'better-sqlite3';
import type { ResetCodeStore } from '../types.js';

interface Row {
  code_hash: string;
  tries: number;
  expires_at: number;
}

export function sqliteResetCodes(db: Database.Database): ResetCodeStore {
  const put = db.prepare<[string, string, number, number]>(
    `INSERT INTO reset_codes (user_id, code_hash, tries, created_at, expires_at) VALUES (?, ?, 0, ?, ?)
     ON CONFLICT(user_id) DO UPDATE SET code_hash = excluded.code_hash, tries = 0,
       created_at = excluded.created_at, expires_at = excluded.expires_at`,
  );
  const byUser = db.prepare<[string], Row>('SELECT code_hash, tries, expires_at FROM reset_codes WHERE user_id = ?');
  const remove = db.prepare<[string]>('DELETE FROM reset_codes WHERE user_id = ?');
  const countTry = db.prepare<[string]>('UPDATE reset_codes SET tries = tries + 1 WHERE user_id = ?');
  const purge = db.prepare<[number]>('DELETE FROM reset_codes WHERE expires_at <= ?');

  // One immediate transaction: two guesses at once cannot both see the same count of tries.
  const redeem = db.transaction((userId: string, codeHash: string, now: number, maxTries: number): boolean => {
    const row = byUser.get(userId);
    if (!row) return false;
    if (row.expires_at <= now) {
      remove.run(userId);
      return false;
    }
    if (row.code_hash === codeHash) {
      remove.run(userId);
      return true;
    }
    if (row.tries + 1 >= maxTries) remove.run(userId);
    else countTry.run(userId);
    return false;
  });

  return {
    async put(code) {
      put.run(code.userId, code.codeHash, code.createdAt.getTime(), code.expiresAt.getTime());
    },
    async redeem(userId, codeHash, now, maxTries) {
      return redeem.immediate(userId, codeHash, now.getTime(), maxTries);
    },
    async purgeExpired(now) {
      return purge.run(now.getTime()).changes;
    },
  };
}
