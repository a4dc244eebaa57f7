import type Database from 'better-sqlite3';
import type { TwoFactorRecord, TwoFactorStore } from '../types.js';

interface Row {
  user_id: string;
  secret_enc: string;
  enabled: number;
  last_step: number | null;
}

const toRecord = (r: Row): TwoFactorRecord => ({ userId: r.user_id, secretEnc: r.secret_enc, enabled: r.enabled === 1, lastStep: r.last_step });

export function sqliteTwoFactor(db: Database.Database): TwoFactorStore {
  const get = db.prepare<[string], Row>('SELECT * FROM two_factor WHERE user_id = ?');
  // The WHERE on the upsert keeps an enabled factor: setup can never silently replace it.
  const setPending = db.prepare<[string, string]>(
    `INSERT INTO two_factor (user_id, secret_enc, enabled, last_step) VALUES (?, ?, 0, NULL)
     ON CONFLICT(user_id) DO UPDATE SET secret_enc = excluded.secret_enc, last_step = NULL WHERE enabled = 0`,
  );
  const enableRow = db.prepare<[number, string]>('UPDATE two_factor SET enabled = 1, last_step = ? WHERE user_id = ? AND enabled = 0');
  const clearCodes = db.prepare<[string]>('DELETE FROM two_factor_recovery WHERE user_id = ?');
  const insertCode = db.prepare<[string, string]>('INSERT OR IGNORE INTO two_factor_recovery (user_id, code_hash) VALUES (?, ?)');
  // The factor and its codes in one transaction: a factor is never on without them.
  const enable = db.transaction((userId: string, step: number, hashes: readonly string[]): boolean => {
    if (enableRow.run(step, userId).changes === 0) return false;
    clearCodes.run(userId);
    for (const hash of hashes) insertCode.run(userId, hash);
    return true;
  });
  const useStep = db.prepare<[number, string, number]>('UPDATE two_factor SET last_step = ? WHERE user_id = ? AND enabled = 1 AND (last_step IS NULL OR last_step < ?)');
  // The DELETE is the conditional write: of two uses of one code, only one removes its row.
  const useCode = db.prepare<[string, string, string]>(
    `DELETE FROM two_factor_recovery WHERE user_id = ? AND code_hash = ?
       AND EXISTS (SELECT 1 FROM two_factor WHERE user_id = ? AND enabled = 1)`,
  );
  const countCodes = db.prepare<[string], { n: number }>(
    `SELECT count(*) AS n FROM two_factor_recovery r JOIN two_factor f ON f.user_id = r.user_id
     WHERE r.user_id = ? AND f.enabled = 1`,
  );
  // Recovery codes go with the factor (ON DELETE CASCADE).
  const remove = db.prepare<[string]>('DELETE FROM two_factor WHERE user_id = ?');

  return {
    async get(userId) {
      const row = get.get(userId);
      return row ? toRecord(row) : null;
    },
    async setPending(userId, secretEnc) {
      try {
        return setPending.run(userId, secretEnc).changes > 0;
      } catch (err) {
        // The account was deleted between authentication and here: nothing to set up (not a 500).
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_FOREIGNKEY') return false;
        throw err;
      }
    },
    async enable(userId, step, recoveryHashes) {
      return enable.immediate(userId, step, recoveryHashes);
    },
    async useStep(userId, step) {
      return useStep.run(step, userId, step).changes > 0;
    },
    async useRecoveryCode(userId, codeHash) {
      return useCode.run(userId, codeHash, userId).changes > 0;
    },
    async countRecoveryCodes(userId) {
      return countCodes.get(userId)!.n;
    },
    async delete(userId) {
      return remove.run(userId).changes > 0;
    },
  };
}
