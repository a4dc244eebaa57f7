import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type BetterSqlite3 from 'better-sqlite3';
import Database from '../../app/store/sqlite/driver.js';
import { join } from 'node:path';
import { bearer } from '../helpers/factories.js';
import { useTestApp, withUser } from '../helpers/perTest.js';
import { DbSnapshotter, snapshotDiff } from './dbSnapshot.js';

// The fuzz's "no record changed by a refused request" is only as good as the snapshot: it must see a
// change to any stored row, and ignore only the columns it names as volatile.

const t = useTestApp();
const u = withUser(t);
let snapshots: DbSnapshotter;
let writer: BetterSqlite3.Database;

beforeEach(() => {
  snapshots = new DbSnapshotter(join(t.dir, 'signalbox.db'));
  writer = new Database(join(t.dir, 'signalbox.db'));
});
afterEach(() => {
  snapshots.close();
  writer.close();
});

describe('DbSnapshotter', () => {
  it('sees a changed column of a stored row, naming the table', () => {
    const before = snapshots.take();
    writer.prepare('UPDATE users SET password_hash = ? WHERE id = ?').run('changed', u.id);
    const diff = snapshotDiff(before, snapshots.take());
    expect(Object.keys(diff)).toEqual(['users']);
    expect(diff.users!.added[0]).toContain('"password_hash":"changed"');
  });

  it('sees a row removed by the server itself (a sign-out ends the session)', async () => {
    const before = snapshots.take();
    expect((await t.http.post('/auth/logout').set(bearer(u))).status).toBe(204);
    expect(Object.keys(snapshotDiff(before, snapshots.take()))).toEqual(expect.arrayContaining(['sessions', 'refresh_tokens']));
  });

  it('ignores a session last seen later and a rate-limit counter', () => {
    const before = snapshots.take();
    writer.prepare('UPDATE sessions SET last_seen = 12345 WHERE user_id = ?').run(u.id);
    writer.prepare('INSERT INTO rate_limits (key, count, reset_at) VALUES (?, 1, 0)').run('some-key');
    expect(snapshotDiff(before, snapshots.take())).toEqual({});
  });

  it('reads the tables again only after another connection committed (PRAGMA data_version)', () => {
    const first = snapshots.take();
    expect(snapshots.take()).toBe(first); // nothing committed: the same snapshot, not a second read
    writer.prepare('UPDATE users SET password_hash = ? WHERE id = ?').run('changed again', u.id);
    const after = snapshots.take();
    expect(after).not.toBe(first);
    expect(Object.keys(snapshotDiff(first, after))).toEqual(['users']);
  });
});
