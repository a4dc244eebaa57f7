import { afterEach, describe, expect, it } from '@jest/globals';
import Database from '../../app/store/sqlite/driver.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../app/config/parse.js';
import { ConfigError } from '../../app/config/parsers.js';
import { applyDurability } from '../../app/store/sqlite/index.js';

const secrets = { jwtSecret: Buffer.alloc(32, 7), dataKey: Buffer.alloc(32, 9) };
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('SQLITE_SYNCHRONOUS', () => {
  it('defaults to normal', () => {
    expect(parseConfig({}, secrets).sqliteSynchronous).toBe('normal');
  });

  it('takes full', () => {
    expect(parseConfig({ SQLITE_SYNCHRONOUS: 'full' }, secrets).sqliteSynchronous).toBe('full');
  });

  it('refuses anything else, naming the variable', () => {
    expect(() => parseConfig({ SQLITE_SYNCHRONOUS: 'off' }, secrets)).toThrow(ConfigError);
    expect(() => parseConfig({ SQLITE_SYNCHRONOUS: 'off' }, secrets)).toThrow(/^SQLITE_SYNCHRONOUS: must be normal or full/);
  });

  it.each([
    ['normal', 1],
    ['full', 2],
  ] as const)('sets PRAGMA synchronous for %s (%i) in WAL mode', (value, level) => {
    const dir = mkdtempSync(join(tmpdir(), 'signalbox-sync-'));
    dirs.push(dir);
    const db = new Database(join(dir, 'x.db'));
    try {
      applyDurability(db, value);
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('synchronous', { simple: true })).toBe(level);
    } finally {
      db.close();
    }
  });
});
