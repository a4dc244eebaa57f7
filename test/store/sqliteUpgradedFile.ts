import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from '@jest/globals';
import { openSqliteStore } from '../../app/store/sqlite/index.js';
import type { Store } from '../../app/store/types.js';

/** A database file as an older version wrote it (`write`), opened by today's store: its migrations run. */
export interface UpgradedFile {
  file: string;
  store: Store;
}

/** Writes the old file in a temp dir and opens it before each test; closes and removes it after. */
export function useUpgradedSqliteFile(dirPrefix: string, write: (file: string) => void): UpgradedFile {
  const fx = {} as UpgradedFile;
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), dirPrefix));
    fx.file = join(dir, 'signalbox.db');
    write(fx.file);
    fx.store = openSqliteStore(fx.file);
  });
  afterEach(async () => {
    await fx.store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return fx;
}
