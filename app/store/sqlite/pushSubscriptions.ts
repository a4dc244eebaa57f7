import type Database from 'better-sqlite3';
import type { PushKind, PushSubscriptionRecord, PushSubscriptionStore } from '../types.js';

interface Row {
  device_id: string;
  user_id: string;
  kind: PushKind;
  target_enc: string;
  created_at: number;
}

const toRecord = (r: Row): PushSubscriptionRecord => ({
  deviceId: r.device_id,
  userId: r.user_id,
  kind: r.kind,
  targetEnc: r.target_enc,
  createdAt: new Date(r.created_at),
});

/** One row per device in push_subscriptions; the session's foreign key removes it when the session ends. */
export function sqlitePushSubscriptions(db: Database.Database): PushSubscriptionStore {
  // Conditional on a live session of that user in the same statement, so a subscription cannot outlive
  // (or be attached to) a session it does not belong to.
  const put = db.prepare<{ device: string; user: string; kind: string; target: string; created: number; now: number }>(
    `INSERT INTO push_subscriptions (device_id, user_id, kind, target_enc, created_at)
     SELECT @device, @user, @kind, @target, @created FROM sessions WHERE id = @device AND user_id = @user AND expires_at > @now
     ON CONFLICT(device_id) DO UPDATE SET kind = excluded.kind, target_enc = excluded.target_enc, created_at = excluded.created_at`,
  );
  const find = db.prepare<[string], Row>('SELECT * FROM push_subscriptions WHERE device_id = ?');
  // json_each takes the whole id list as one parameter, so the statement is prepared once.
  const findMany = db.prepare<[string], Row>('SELECT * FROM push_subscriptions WHERE device_id IN (SELECT value FROM json_each(?))');
  const remove = db.prepare<[string]>('DELETE FROM push_subscriptions WHERE device_id = ?');
  const removeIf = db.prepare<[string, string]>('DELETE FROM push_subscriptions WHERE device_id = ? AND target_enc = ?');
  const owed = db.prepare<[number], { device_id: string; n: number }>(
    `SELECT p.device_id, count(*) AS n FROM push_subscriptions p
     JOIN device_signals s ON s.device_id = p.device_id AND s.expires_at > ?
     GROUP BY p.device_id`,
  );

  return {
    async put(record, now) {
      const info = put.run({
        device: record.deviceId,
        user: record.userId,
        kind: record.kind,
        target: record.targetEnc,
        created: record.createdAt.getTime(),
        now: now.getTime(),
      });
      return info.changes > 0;
    },
    async find(deviceId) {
      const row = find.get(deviceId);
      return row ? toRecord(row) : null;
    },
    async findMany(deviceIds) {
      if (deviceIds.length === 0) return [];
      return findMany.all(JSON.stringify(deviceIds)).map(toRecord);
    },
    async delete(deviceId, targetEnc) {
      return (targetEnc === undefined ? remove.run(deviceId) : removeIf.run(deviceId, targetEnc)).changes > 0;
    },
    async owed(now) {
      return owed.all(now.getTime()).map((r) => ({ deviceId: r.device_id, count: r.n }));
    },
  };
}
