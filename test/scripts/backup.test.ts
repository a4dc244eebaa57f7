import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { registerUser } from '../helpers/factories.js';
import { runScript, writeTestSecrets } from '../helpers/run.js';

// The compiled backup script (dist/scripts/backup.js, what `npm run backup` runs) against the test
// app's SQLite file while the app still has it open, as on a running server.

let t: TestApp;
let restored: TestApp | undefined;
let parent: string;
beforeEach(() => {
  t = makeTestApp();
  writeTestSecrets(t.dir);
  parent = mkdtempSync(join(tmpdir(), 'signalbox-backup-'));
});
afterEach(async () => {
  await restored?.close();
  restored = undefined;
  await t.close();
  rmSync(parent, { recursive: true, force: true });
});

const backup = (dest: string, env: Record<string, string> = {}) => runScript('backup', [dest], { DATA_DIR: t.dir, ...env });

describe('npm run backup -- <dir>', () => {
  it('makes a copy a new server can open and log in to, taken while the store is open', async () => {
    const amy = await registerUser(t, { username: 'amy' });
    const dest = join(parent, 'copy');
    expect((await backup(dest)).code).toBe(0);
    restored = makeTestApp({ dataDir: dest });
    const res = await restored.http.post('/auth/login').send({ username: 'amy', password: amy.password });
    expect(res.status).toBe(200);
    // The e-mail decrypts too: the copy is usable with the key the backup carries.
    expect(res.body.user.email).toBe(amy.email);
  });

  it('includes writes committed just before it, still in the WAL file', async () => {
    // With WAL, fresh commits live in signalbox.db-wal until a checkpoint: a copy of the main file alone
    // would miss them. The online backup reads through the WAL.
    await registerUser(t, { username: 'early' });
    await registerUser(t, { username: 'late' });
    const dest = join(parent, 'copy');
    await backup(dest);
    restored = makeTestApp({ dataDir: dest });
    expect((await restored.store.users.findByUsername('late'))?.username).toBe('late');
  });

  it('copies the generated secrets with the database, readable by the owner only', async () => {
    await registerUser(t);
    const dest = join(parent, 'copy');
    expect((await backup(dest)).stdout).toContain('signalbox.db, jwt-secret, data-key');
    expect(readFileSync(join(dest, 'data-key'), 'utf8')).toBe(readFileSync(join(t.dir, 'data-key'), 'utf8'));
    expect(statSync(join(dest, 'data-key')).mode & 0o777).toBe(0o600);
  });

  it('copies the VAPID key too when the server generated one (push subscriptions depend on it)', async () => {
    writeFileSync(join(t.dir, 'vapid-private-key'), 'a-generated-key\n', { mode: 0o600 });
    const dest = join(parent, 'copy');
    expect((await backup(dest)).stdout).toContain('signalbox.db, jwt-secret, data-key, vapid-private-key');
    expect(readFileSync(join(dest, 'vapid-private-key'), 'utf8')).toBe('a-generated-key\n');
    expect(statSync(join(dest, 'vapid-private-key')).mode & 0o777).toBe(0o600);
  });

  it('refuses a destination that already holds files, leaving them alone', async () => {
    const dest = mkdtempSync(join(parent, 'full-'));
    writeFileSync(join(dest, 'keep.txt'), 'mine');
    const res = await backup(dest);
    expect(res.code).toBe(73);
    expect(readFileSync(join(dest, 'keep.txt'), 'utf8')).toBe('mine');
    expect(existsSync(join(dest, 'signalbox.db'))).toBe(false);
  });

  it('refuses to run without a destination, with usage and exit 64', async () => {
    const res = await runScript('backup', [], { DATA_DIR: t.dir });
    expect(res.code).toBe(64);
    expect(res.stderr).toContain('usage: npm run backup');
  });

  it('points MongoDB users to mongodump instead of copying anything', async () => {
    const dest = join(parent, 'copy');
    const res = await backup(dest, { STORE: 'mongodb', MONGODB_URI: 'mongodb://127.0.0.1:1' });
    expect(res.code).toBe(64);
    expect(res.stderr).toContain('mongodump');
    expect(existsSync(dest)).toBe(false);
  });

  it('fails without creating a database when DATA_DIR holds none', async () => {
    const empty = mkdtempSync(join(parent, 'empty-'));
    writeTestSecrets(empty);
    const res = await runScript('backup', [join(parent, 'copy')], { DATA_DIR: empty });
    expect(res.code).toBe(66);
    expect(existsSync(join(empty, 'signalbox.db'))).toBe(false);
  });

  it('exits 66 and creates no secrets in an empty DATA_DIR, and no destination', async () => {
    const empty = mkdtempSync(join(parent, 'empty-'));
    const res = await runScript('backup', [join(parent, 'copy')], { DATA_DIR: empty });
    expect(res.code).toBe(66);
    expect(res.stderr).toContain('is DATA_DIR right?');
    expect(readdirSync(empty)).toEqual([]);
    expect(existsSync(join(parent, 'copy'))).toBe(false);
  });

  it('exits 66 and creates no directory when DATA_DIR does not exist', async () => {
    const wrong = join(parent, 'typo');
    const res = await runScript('backup', [join(parent, 'copy')], { DATA_DIR: wrong });
    expect(res.code).toBe(66);
    expect(res.stderr).toContain(`DATA_DIR ${wrong} does not exist`);
    expect(existsSync(wrong)).toBe(false);
  });
});
