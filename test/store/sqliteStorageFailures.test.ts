import { afterEach, describe, expect, it } from '@jest/globals';
import Database from '../../app/store/sqlite/driver.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { toAppError } from '../../app/http/errorHandler.js';
import { guardUnavailable } from '../../app/store/guard.js';
import { openSqliteStore } from '../../app/store/sqlite/index.js';
import { isStorageFailure, writeFailureOf } from '../../app/store/sqlite/storageErrors.js';
import { StoreUnavailableError } from '../../app/store/types.js';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'signalbox-storage-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** The error SQLite itself throws for `write` on `db`. */
function thrownBy(write: () => unknown): unknown {
  try {
    write();
  } catch (err) {
    return err;
  }
  throw new Error('the write did not fail');
}

/** A real SQLITE_FULL: the database may not grow past the pages it has (what a full disk looks like to SQLite). */
function diskFullError(): unknown {
  const db = new Database(join(tempDir(), 'full.db'));
  db.exec('CREATE TABLE t (x BLOB)');
  db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
  const err = thrownBy(() => db.prepare('INSERT INTO t VALUES (?)').run(Buffer.alloc(64 * 1024)));
  db.close();
  return err;
}

/** A real SQLITE_READONLY: a write through a connection that can only read the file. */
function readOnlyError(): unknown {
  const file = join(tempDir(), 'ro.db');
  new Database(file).exec('CREATE TABLE t (x)');
  const db = new Database(file, { readonly: true });
  const err = thrownBy(() => db.prepare('INSERT INTO t VALUES (1)').run());
  db.close();
  return err;
}

const site = { requestId: 'r', method: 'POST', path: '/signaling/send' };
const silent = pino({ level: 'silent' });

describe('SQLite storage failures', () => {
  it('are told apart by the codes SQLite really throws', () => {
    expect((diskFullError() as { code: string }).code).toBe('SQLITE_FULL');
    expect((readOnlyError() as { code: string }).code).toBe('SQLITE_READONLY');
    expect(writeFailureOf(diskFullError())).toBe('disk_full');
    expect(writeFailureOf(readOnlyError())).toBe('read_only');
    expect(writeFailureOf(Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_WRITE' }))).toBe('io_error');
  });

  it('leave a constraint violation (a bug or a race the code answers itself) alone', () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (x UNIQUE)');
    db.prepare('INSERT INTO t VALUES (1)').run();
    const err = thrownBy(() => db.prepare('INSERT INTO t VALUES (1)').run());
    expect(isStorageFailure(err)).toBe(false);
    expect(writeFailureOf(err)).toBeNull();
  });

  it.each([
    ['a full disk', diskFullError],
    ['a read-only database', readOnlyError],
  ])('answer 503 unavailable with Retry-After for %s once the store guard has seen them', async (_name, makeError) => {
    const err = makeError();
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- rejects with exactly what the driver threw, Error or not
    const aggregate = guardUnavailable({ write: async () => Promise.reject(err) }, isStorageFailure);
    const thrown = await aggregate.write().catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(StoreUnavailableError);
    const answer = toAppError(thrown, silent, 65536, site);
    expect(answer.status).toBe(503);
    expect(answer.code).toBe('unavailable');
    expect(answer.headers?.['Retry-After']).toMatch(/^\d+$/);
  });

  it('without the guard a full disk would be a 500: the guard is what makes it 503', () => {
    expect(toAppError(diskFullError(), silent, 65536, site).status).toBe(500);
  });
});

describe('SQLite store probeWrite', () => {
  it('commits one row and answers null on a healthy store', async () => {
    const file = join(tempDir(), 'signalbox.db');
    const store = openSqliteStore(file);
    expect(await store.probeWrite()).toBeNull();
    await store.close();
    const db = new Database(file, { readonly: true });
    const row = db.prepare('SELECT id, probed_at FROM health_probe').all() as Array<{ id: number; probed_at: number }>;
    db.close();
    expect(row).toHaveLength(1);
    expect(row[0]!.probed_at).toBeGreaterThan(0);
  });

  it('rejects with StoreUnavailableError once the store is closed', async () => {
    const store = openSqliteStore(join(tempDir(), 'signalbox.db'));
    await store.close();
    await expect(store.probeWrite()).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});
