import { beforeEach, describe, expect, it } from '@jest/globals';
import Database from '../../app/store/sqlite/driver.js';
import { MIGRATIONS } from '../../app/store/sqlite/migrations.js';
import type { Store } from '../../app/store/types.js';
import { useUpgradedSqliteFile } from './sqliteUpgradedFile.js';

const T0 = Date.parse('2100-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms);

/**
 * A database just before the migration that counts server events counted apart from signals), holding what the
 * store wrote then: one signal and one server event pending in Bob's phone, both counted as entries.
 */
function writeDatabaseBeforeEventBounds(file: string): void {
  // Found by its content, so migrations appended later do not move it.
  const eventBounds = MIGRATIONS.findIndex((m) => m.includes('ADD COLUMN event INTEGER'));
  const db = new Database(file);
  try {
    db.pragma('foreign_keys = ON');
    for (let v = 0; v < eventBounds; v++) db.exec(MIGRATIONS[v]!);
    db.pragma(`user_version = ${eventBounds}`);
    const user = db.prepare('INSERT INTO users (id, username, email_index, email_enc, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)');
    user.run('user-alice', 'alice', 'idx-alice', 'enc-alice', 'hash', T0);
    user.run('user-bob', 'bob', 'idx-bob', 'enc-bob', 'hash', T0);
    db.prepare('INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)').run('bob-phone', 'user-bob', T0, T0 + 3_600_000);
    db.prepare('INSERT INTO device_mailboxes (device_id, last_seq) VALUES (?, ?)').run('bob-phone', 2);
    const body = db.prepare('INSERT INTO signal_bodies (id, sender_id, payload, expires_at) VALUES (?, ?, ?, ?)');
    const copy = db.prepare(
      `INSERT INTO device_signals (device_id, seq, id, sender_id, sender_username, sender_device_id, type, session_id, created_at, expires_at)
       VALUES ('bob-phone', ?, ?, 'user-alice', 'alice', ?, ?, NULL, ?, ?)`,
    );
    body.run('signal-1', 'user-alice', 'ciphertext', T0 + 300_000);
    copy.run(1, 'signal-1', 'alice-phone', 'offer', T0, T0 + 300_000);
    body.run('event-2', 'user-alice', '{"username":"alice","fingerprint":null}', T0 + 300_000);
    copy.run(2, 'event-2', null, 'pgp.changed', T0, T0 + 300_000);
  } finally {
    db.close();
  }
}

describe('SQLite upgrade to server events counted apart from signals', () => {
  const fx = useUpgradedSqliteFile('signalbox-events-upgrade-', writeDatabaseBeforeEventBounds);
  let store: Store;
  beforeEach(() => {
    store = fx.store;
  });

  it('keeps both pending entries, in order', async () => {
    expect((await store.signals.pending('bob-phone', at(1), 10)).map((e) => [e.seq, e.type])).toEqual([
      [1, 'offer'],
      [2, 'pgp.changed'],
    ]);
  });

  it('counts an event written before the upgrade as an event: it takes no place of a signal', async () => {
    const signal = {
      id: 'after',
      senderId: 'user-alice',
      senderUsername: 'alice',
      senderDeviceId: 'alice-phone',
      type: 'answer' as const,
      payload: 'x',
      sessionId: null,
      createdAt: at(1),
      expiresAt: at(300_001),
    };
    // MAILBOX_MAX 2: the old signal and this one; the old event counts apart.
    expect(await store.signals.send({ signal, toUserId: 'user-bob', now: at(1), limits: { max: 2, perSender: 2 } })).toEqual({
      outcome: 'stored',
      devices: ['bob-phone'],
    });
  });

  it('still counts a signal written before the upgrade against MAILBOX_MAX', async () => {
    const signal = {
      id: 'after',
      senderId: 'user-alice',
      senderUsername: 'alice',
      senderDeviceId: 'alice-phone',
      type: 'answer' as const,
      payload: 'x',
      sessionId: null,
      createdAt: at(1),
      expiresAt: at(300_001),
    };
    expect(await store.signals.send({ signal, toUserId: 'user-bob', now: at(1), limits: { max: 1, perSender: 1 } })).toEqual({
      outcome: 'refused',
      reason: 'mailbox_full',
    });
  });
});
