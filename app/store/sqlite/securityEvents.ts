import type Database from 'better-sqlite3';
import type { SecurityEventRecord, SecurityEventStore, SecurityEventType } from '../types.js';

interface Row {
  id: string;
  user_id: string;
  type: string;
  at: number;
  device_id: string | null;
  platform_enc: string | null;
  network_enc: string | null;
  actor: string;
  expires_at: number;
}

const toRecord = (r: Row): SecurityEventRecord => ({
  id: r.id,
  userId: r.user_id,
  type: r.type as SecurityEventType,
  at: new Date(r.at),
  deviceId: r.device_id,
  platformEnc: r.platform_enc,
  networkEnc: r.network_enc,
  actor: r.actor as SecurityEventRecord['actor'],
  expiresAt: new Date(r.expires_at),
});

export function sqliteSecurityEvents(db: Database.Database): SecurityEventStore {
  const insert = db.prepare(
    `INSERT INTO security_events (id, user_id, type, at, device_id, platform_enc, network_enc, actor, expires_at)
     VALUES (@id, @userId, @type, @at, @deviceId, @platformEnc, @networkEnc, @actor, @expiresAt)`,
  );
  // rowid breaks ties between entries of the same millisecond: the later insert is the newer entry.
  const list = db.prepare<[string, number, number], Row>('SELECT * FROM security_events WHERE user_id = ? AND expires_at > ? ORDER BY at DESC, rowid DESC LIMIT ?');
  const purge = db.prepare<[number]>('DELETE FROM security_events WHERE expires_at <= ?');

  return {
    async add(e) {
      try {
        insert.run({ ...e, at: e.at.getTime(), expiresAt: e.expiresAt.getTime() });
      } catch (err) {
        // The account was deleted meanwhile: its log went with it, and this entry has no one to go to.
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_FOREIGNKEY') return;
        throw err;
      }
    },
    async list(userId, now, limit) {
      return list.all(userId, now.getTime(), limit).map(toRecord);
    },
    async purgeExpired(now) {
      return purge.run(now.getTime()).changes;
    },
  };
}
