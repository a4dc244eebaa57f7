import type pg from 'pg';
import type { SecurityEventRecord, SecurityEventStore, SecurityEventType } from '../types.js';
import { isForeignKeyViolation } from './errors.js';

interface Row {
  id: string;
  user_id: string;
  type: string;
  at: Date;
  device_id: string | null;
  platform_enc: string | null;
  network_enc: string | null;
  actor: string;
  expires_at: Date;
}

const toRecord = (r: Row): SecurityEventRecord => ({
  id: r.id,
  userId: r.user_id,
  type: r.type as SecurityEventType,
  at: r.at,
  deviceId: r.device_id,
  platformEnc: r.platform_enc,
  networkEnc: r.network_enc,
  actor: r.actor as SecurityEventRecord['actor'],
  expiresAt: r.expires_at,
});

export function pgSecurityEvents(pool: pg.Pool): SecurityEventStore {
  return {
    async add(e) {
      try {
        await pool.query(
          `INSERT INTO security_events (id, user_id, type, at, device_id, platform_enc, network_enc, actor, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
          [e.id, e.userId, e.type, e.at, e.deviceId, e.platformEnc, e.networkEnc, e.actor, e.expiresAt],
        );
      } catch (err) {
        // The account was deleted meanwhile: its log went with it, and this entry has no one to go to.
        if (isForeignKeyViolation(err)) return;
        throw err;
      }
    },
    async list(userId, now, limit) {
      // ord breaks ties between entries of the same millisecond: the later insert is the newer entry.
      const { rows } = await pool.query<Row>('SELECT * FROM security_events WHERE user_id = $1 AND expires_at > $2 ORDER BY at DESC, ord DESC LIMIT $3', [
        userId,
        now,
        limit,
      ]);
      return rows.map(toRecord);
    },
    async purgeExpired(now) {
      return (await pool.query('DELETE FROM security_events WHERE expires_at <= $1', [now])).rowCount ?? 0;
    },
  };
}
