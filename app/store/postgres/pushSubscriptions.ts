import type pg from 'pg';
import type { PushKind, PushSubscriptionRecord, PushSubscriptionStore } from '../types.js';

interface Row {
  device_id: string;
  user_id: string;
  kind: PushKind;
  target_enc: string;
  created_at: Date;
}

const toRecord = (r: Row): PushSubscriptionRecord => ({ deviceId: r.device_id, userId: r.user_id, kind: r.kind, targetEnc: r.target_enc, createdAt: r.created_at });

/** One row per device in push_subscriptions; the session's foreign key removes it when the session ends. */
export function pgPushSubscriptions(pool: pg.Pool): PushSubscriptionStore {
  return {
    async put(r, now) {
      // Conditional on a live session of that user in the same statement, so a subscription cannot outlive
      // (or be attached to) a session it does not belong to.
      const { rowCount } = await pool.query(
        `INSERT INTO push_subscriptions (device_id, user_id, kind, target_enc, created_at)
         SELECT $1, $2, $3, $4, $5::timestamptz FROM sessions WHERE id = $1 AND user_id = $2 AND expires_at > $6
         ON CONFLICT (device_id) DO UPDATE SET kind = excluded.kind, target_enc = excluded.target_enc, created_at = excluded.created_at`,
        [r.deviceId, r.userId, r.kind, r.targetEnc, r.createdAt, now],
      );
      return (rowCount ?? 0) > 0;
    },
    async find(deviceId) {
      const { rows } = await pool.query<Row>('SELECT * FROM push_subscriptions WHERE device_id = $1', [deviceId]);
      return rows[0] ? toRecord(rows[0]) : null;
    },
    async findMany(deviceIds) {
      if (deviceIds.length === 0) return [];
      return (await pool.query<Row>('SELECT * FROM push_subscriptions WHERE device_id = ANY($1::text[])', [[...deviceIds]])).rows.map(toRecord);
    },
    async delete(deviceId, targetEnc) {
      const result =
        targetEnc === undefined
          ? await pool.query('DELETE FROM push_subscriptions WHERE device_id = $1', [deviceId])
          : await pool.query('DELETE FROM push_subscriptions WHERE device_id = $1 AND target_enc = $2', [deviceId, targetEnc]);
      return (result.rowCount ?? 0) > 0;
    },
    async owed(now) {
      const { rows } = await pool.query<{ device_id: string; n: number }>(
        `SELECT p.device_id, count(*) AS n FROM push_subscriptions p
         JOIN device_signals s ON s.device_id = p.device_id AND s.expires_at > $1
         GROUP BY p.device_id`,
        [now],
      );
      return rows.map((r) => ({ deviceId: r.device_id, count: r.n }));
    },
  };
}
