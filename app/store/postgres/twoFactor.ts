import type pg from 'pg';
import type { TwoFactorRecord, TwoFactorStore } from '../types.js';
import { transaction } from './db.js';
import { isForeignKeyViolation } from './errors.js';

interface Row {
  user_id: string;
  secret_enc: string;
  enabled: boolean;
  last_step: number | null;
}

const toRecord = (r: Row): TwoFactorRecord => ({ userId: r.user_id, secretEnc: r.secret_enc, enabled: r.enabled, lastStep: r.last_step });

export function pgTwoFactor(pool: pg.Pool): TwoFactorStore {
  const changed = (r: pg.QueryResult) => (r.rowCount ?? 0) > 0;
  return {
    async get(userId) {
      const { rows } = await pool.query<Row>('SELECT * FROM two_factor WHERE user_id = $1', [userId]);
      return rows[0] ? toRecord(rows[0]) : null;
    },
    async setPending(userId, secretEnc) {
      try {
        // The WHERE on the upsert keeps an enabled factor: setup can never silently replace it.
        return changed(
          await pool.query(
            `INSERT INTO two_factor (user_id, secret_enc, enabled, last_step) VALUES ($1, $2, false, NULL)
             ON CONFLICT (user_id) DO UPDATE SET secret_enc = excluded.secret_enc, last_step = NULL WHERE NOT two_factor.enabled`,
            [userId, secretEnc],
          ),
        );
      } catch (err) {
        // The account was deleted between authentication and here: nothing to set up (not a 500).
        if (isForeignKeyViolation(err)) return false;
        throw err;
      }
    },
    async enable(userId, step, recoveryHashes) {
      // The factor and its codes in one transaction: a factor is never on without them.
      return transaction(pool, async (q) => {
        if (!changed(await q.query('UPDATE two_factor SET enabled = true, last_step = $1 WHERE user_id = $2 AND NOT enabled', [step, userId]))) return false;
        await q.query('DELETE FROM two_factor_recovery WHERE user_id = $1', [userId]);
        await q.query('INSERT INTO two_factor_recovery (user_id, code_hash) SELECT $1, h FROM unnest($2::text[]) AS h ON CONFLICT DO NOTHING', [
          userId,
          [...recoveryHashes],
        ]);
        return true;
      });
    },
    async useStep(userId, step) {
      return changed(await pool.query('UPDATE two_factor SET last_step = $1 WHERE user_id = $2 AND enabled AND (last_step IS NULL OR last_step < $1)', [step, userId]));
    },
    async useRecoveryCode(userId, codeHash) {
      // The DELETE is the conditional write: of two uses of one code, only one removes its row.
      return changed(
        await pool.query(
          `DELETE FROM two_factor_recovery WHERE user_id = $1 AND code_hash = $2
             AND EXISTS (SELECT 1 FROM two_factor WHERE user_id = $1 AND enabled)`,
          [userId, codeHash],
        ),
      );
    },
    async countRecoveryCodes(userId) {
      const { rows } = await pool.query<{ n: number }>(
        'SELECT count(*) AS n FROM two_factor_recovery r JOIN two_factor f ON f.user_id = r.user_id WHERE r.user_id = $1 AND f.enabled',
        [userId],
      );
      return rows[0]!.n;
    },
    async delete(userId) {
      // Recovery codes go with the factor (ON DELETE CASCADE).
      return changed(await pool.query('DELETE FROM two_factor WHERE user_id = $1', [userId]));
    },
  };
}
