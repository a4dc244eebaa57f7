import type BetterSqlite3 from 'better-sqlite3';
import Database from '../../app/store/sqlite/driver.js';
import { channel } from 'node:diagnostics_channel';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { otherWritersWatch } from '../../app/store/sqlite/otherWriters.js';

/**
 * One reading of `data_version` serves the checks made until the next request arrives or the event-loop
 * turn ends. Both must make it stale, each on its own: these tests stay within one turn (no await that
 * yields to I/O) except where the turn's end is what they test.
 */
describe('otherWritersWatch', () => {
  let dir: string;
  let file: string;
  let db: BetterSqlite3.Database;
  let other: BetterSqlite3.Database;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'signalbox-other-writers-'));
    file = join(dir, 'x.db');
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (x INTEGER)');
    other = new Database(file);
  });

  afterEach(() => {
    other.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("says nothing changed for this connection's own commits", async () => {
    const othersWrote = otherWritersWatch(db);
    db.prepare('INSERT INTO t VALUES (1)').run();
    await new Promise((resolve) => setImmediate(resolve));
    expect(othersWrote()).toBe(false);
  });

  it("sees another connection's commit once a request has arrived, within the same turn", () => {
    const othersWrote = otherWritersWatch(db);
    expect(othersWrote()).toBe(false);
    other.prepare('INSERT INTO t VALUES (1)').run();
    // What node:http publishes for each request it is about to hand to the application.
    channel('http.server.request.start').publish({});
    expect(othersWrote()).toBe(true);
    expect(othersWrote()).toBe(false);
  });

  it("sees another connection's commit in the next turn of the event loop, with no request", async () => {
    const othersWrote = otherWritersWatch(db);
    expect(othersWrote()).toBe(false);
    other.prepare('INSERT INTO t VALUES (1)').run();
    await new Promise((resolve) => setImmediate(resolve));
    expect(othersWrote()).toBe(true);
  });

  it('tells each watcher of one connection on its own', async () => {
    const first = otherWritersWatch(db);
    const second = otherWritersWatch(db);
    other.prepare('INSERT INTO t VALUES (1)').run();
    await new Promise((resolve) => setImmediate(resolve));
    expect(first()).toBe(true);
    expect(second()).toBe(true);
  });
});
