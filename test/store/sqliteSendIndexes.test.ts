import { beforeEach, describe, expect, it } from '@jest/globals';
import Database from '../../app/store/sqlite/driver.js';
import { MIGRATIONS } from '../../app/store/sqlite/migrations.js';
import type { Store } from '../../app/store/types.js';
import { useUpgradedSqliteFile } from './sqliteUpgradedFile.js';

const T0 = Date.parse('2100-01-01T00:00:00.000Z');
const MINUTE = 60_000;

/**
 * A database just before the migration that drops device_signals_live (fewer index pages per send), with three
 * copies pending in Bob's phone whose expiry is not in seq order: seq 2 has expired, seq 1 expires after seq 3.
 */
function writeDatabaseBeforeTheDrop(file: string): void {
  // Found by its content, so migrations appended later do not move it.
  const drop = MIGRATIONS.findIndex((m) => m.includes('DROP INDEX device_signals_live;'));
  const db = new Database(file);
  try {
    db.pragma('foreign_keys = ON');
    for (let v = 0; v < drop; v++) db.exec(MIGRATIONS[v]!);
    db.pragma(`user_version = ${drop}`);
    const user = db.prepare('INSERT INTO users (id, username, email_index, email_enc, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)');
    user.run('user-alice', 'alice', 'idx-alice', 'enc-alice', 'hash', T0);
    user.run('user-bob', 'bob', 'idx-bob', 'enc-bob', 'hash', T0);
    db.prepare('INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)').run('bob-phone', 'user-bob', T0, T0 + 60 * MINUTE);
    db.prepare('INSERT INTO device_mailboxes (device_id, last_seq) VALUES (?, ?)').run('bob-phone', 3);
    const body = db.prepare('INSERT INTO signal_bodies (id, sender_id, payload, expires_at) VALUES (?, ?, ?, ?)');
    const copy = db.prepare(
      `INSERT INTO device_signals (device_id, seq, id, sender_id, sender_username, sender_device_id, type, session_id, created_at, expires_at)
       VALUES ('bob-phone', ?, ?, 'user-alice', 'alice', 'alice-phone', 'offer', NULL, ?, ?)`,
    );
    for (const [seq, expires] of [
      [1, 5 * MINUTE],
      [2, 1 * MINUTE],
      [3, 3 * MINUTE],
    ] as const) {
      body.run(`signal-${seq}`, 'user-alice', `ciphertext ${seq}`, T0 + expires);
      copy.run(seq, `signal-${seq}`, T0, T0 + expires);
    }
  } finally {
    db.close();
  }
}

describe('SQLite upgrade that drops the (device_id, expires_at) index of device_signals', () => {
  const fx = useUpgradedSqliteFile('signalbox-send-indexes-', writeDatabaseBeforeTheDrop);
  let store: Store;
  beforeEach(() => {
    store = fx.store;
  });

  const indexesOfDeviceSignals = () => {
    const db = new Database(fx.file, { readonly: true });
    try {
      return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'device_signals' ORDER BY name").all() as Array<{ name: string }>).map(
        (r) => r.name,
      );
    } finally {
      db.close();
    }
  };

  it('leaves a send four secondary indexes to write on device_signals: by body, by kind, by sender, by expiry (by pair only for requests)', () => {
    expect(indexesOfDeviceSignals()).toEqual([
      'device_signals_by_body',
      'device_signals_by_expiry',
      'device_signals_by_pair',
      'device_signals_live_by_kind',
      'device_signals_live_by_sender',
    ]);
  });

  it('still answers a poll the live entries in seq order, the expired one hidden, a page at a time', async () => {
    const at = (ms: number) => new Date(T0 + ms);
    expect((await store.signals.pending('bob-phone', at(2 * MINUTE), 10)).map((e) => [e.seq, e.payload])).toEqual([
      [1, 'ciphertext 1'],
      [3, 'ciphertext 3'],
    ]);
    expect((await store.signals.pending('bob-phone', at(2 * MINUTE), 1)).map((e) => e.seq)).toEqual([1]);
    expect((await store.signals.pending('bob-phone', at(4 * MINUTE), 10)).map((e) => e.seq)).toEqual([1]);
  });
});
