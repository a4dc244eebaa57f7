import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { registerUser } from '../helpers/factories.js';
import { run, runScript, writeTestSecrets } from '../helpers/run.js';

// The compiled backup script (dist/scripts/backup.js, what `npm run backup` runs) against the test
// app's SQLite file while the app still has it open, as on a running server.

/** What each test works with: its installation, an empty scratch directory, and a way to open a backup as an app. */
interface Setup {
  t: TestApp;
  parent: string;
  /** An app on `dataDir` (a backup, a restored installation), closed when the test ends. */
  openRestored(dataDir: string): TestApp;
}

/**
 * A test body run on a fresh installation and scratch directory of its own, both removed when it ends. The
 * tests are independent and mostly wait for the spawned script, so they run side by side (it.concurrent).
 */
function onFreshInstallation(body: (setup: Setup) => Promise<void>): () => Promise<void> {
  return async () => {
    const t = makeTestApp();
    const parent = mkdtempSync(join(tmpdir(), 'signalbox-backup-'));
    const opened: TestApp[] = [];
    try {
      writeTestSecrets(t.dir);
      const openRestored = (dataDir: string) => {
        const app = makeTestApp({ dataDir });
        opened.push(app);
        return app;
      };
      await body({ t, parent, openRestored });
    } finally {
      for (const app of opened) await app.close();
      await t.close();
      rmSync(parent, { recursive: true, force: true });
    }
  };
}

const backup = (t: TestApp, dest: string, env: Record<string, string> = {}) => runScript('backup', [dest], { DATA_DIR: t.dir, ...env });

describe('npm run backup -- <dir>', () => {
  it.concurrent(
    'makes a copy a new server can open and log in to, taken while the store is open',
    onFreshInstallation(async ({ t, parent, openRestored }) => {
      const amy = await registerUser(t, { username: 'amy' });
      const dest = join(parent, 'copy');
      expect((await backup(t, dest)).code).toBe(0);
      const restored = openRestored(dest);
      const res = await restored.http.post('/auth/login').send({ username: 'amy', password: amy.password });
      expect(res.status).toBe(200);
      // The e-mail decrypts too: the copy is usable with the key the backup carries.
      expect(res.body.user.email).toBe(amy.email);
    }),
  );

  it.concurrent(
    'includes writes committed just before it, still in the WAL file',
    onFreshInstallation(async ({ t, parent, openRestored }) => {
      // With WAL, fresh commits live in signalbox.db-wal until a checkpoint: a copy of the main file alone
      // would miss them. The online backup reads through the WAL.
      await registerUser(t, { username: 'early' });
      await registerUser(t, { username: 'late' });
      const dest = join(parent, 'copy');
      await backup(t, dest);
      const restored = openRestored(dest);
      expect((await restored.store.users.findByUsername('late'))?.username).toBe('late');
    }),
  );

  it.concurrent(
    'copies the generated secrets with the database, readable by the owner only',
    onFreshInstallation(async ({ t, parent }) => {
      await registerUser(t);
      const dest = join(parent, 'copy');
      expect((await backup(t, dest)).stdout).toContain('signalbox.db, jwt-secret, data-key');
      expect(readFileSync(join(dest, 'data-key'), 'utf8')).toBe(readFileSync(join(t.dir, 'data-key'), 'utf8'));
      expect(statSync(join(dest, 'data-key')).mode & 0o777).toBe(0o600);
    }),
  );

  it.concurrent(
    'copies the VAPID key too when the server generated one (push subscriptions depend on it)',
    onFreshInstallation(async ({ t, parent }) => {
      writeFileSync(join(t.dir, 'vapid-private-key'), 'a-generated-key\n', { mode: 0o600 });
      const dest = join(parent, 'copy');
      expect((await backup(t, dest)).stdout).toContain('signalbox.db, jwt-secret, data-key, vapid-private-key');
      expect(readFileSync(join(dest, 'vapid-private-key'), 'utf8')).toBe('a-generated-key\n');
      expect(statSync(join(dest, 'vapid-private-key')).mode & 0o777).toBe(0o600);
    }),
  );

  it.concurrent(
    'refuses a destination that already holds files, leaving them alone',
    onFreshInstallation(async ({ t, parent }) => {
      const dest = mkdtempSync(join(parent, 'full-'));
      writeFileSync(join(dest, 'keep.txt'), 'mine');
      const res = await backup(t, dest);
      expect(res.code).toBe(73);
      expect(readFileSync(join(dest, 'keep.txt'), 'utf8')).toBe('mine');
      expect(existsSync(join(dest, 'signalbox.db'))).toBe(false);
    }),
  );

  it.concurrent(
    'refuses to run without a destination, with usage and exit 64',
    onFreshInstallation(async ({ t }) => {
      const res = await runScript('backup', [], { DATA_DIR: t.dir });
      expect(res.code).toBe(64);
      expect(res.stderr).toContain('usage: npm run backup');
    }),
  );

  it.concurrent(
    'points MongoDB users to mongodump instead of copying anything',
    onFreshInstallation(async ({ t, parent }) => {
      const dest = join(parent, 'copy');
      const res = await backup(t, dest, { STORE: 'mongodb', MONGODB_URI: 'mongodb://127.0.0.1:1' });
      expect(res.code).toBe(64);
      expect(res.stderr).toContain('mongodump');
      expect(existsSync(dest)).toBe(false);
    }),
  );

  it.concurrent(
    'fails without creating a database when DATA_DIR holds none',
    onFreshInstallation(async ({ parent }) => {
      const empty = mkdtempSync(join(parent, 'empty-'));
      writeTestSecrets(empty);
      const res = await runScript('backup', [join(parent, 'copy')], { DATA_DIR: empty });
      expect(res.code).toBe(66);
      expect(existsSync(join(empty, 'signalbox.db'))).toBe(false);
    }),
  );

  it.concurrent(
    'exits 66 and creates no secrets in an empty DATA_DIR, and no destination',
    onFreshInstallation(async ({ parent }) => {
      const empty = mkdtempSync(join(parent, 'empty-'));
      const res = await runScript('backup', [join(parent, 'copy')], { DATA_DIR: empty });
      expect(res.code).toBe(66);
      expect(res.stderr).toContain('is DATA_DIR right?');
      expect(readdirSync(empty)).toEqual([]);
      expect(existsSync(join(parent, 'copy'))).toBe(false);
    }),
  );

  it.concurrent(
    'exits 66 and creates no directory when DATA_DIR does not exist',
    onFreshInstallation(async ({ parent }) => {
      const wrong = join(parent, 'typo');
      const res = await runScript('backup', [join(parent, 'copy')], { DATA_DIR: wrong });
      expect(res.code).toBe(66);
      expect(res.stderr).toContain(`DATA_DIR ${wrong} does not exist`);
      expect(existsSync(wrong)).toBe(false);
    }),
  );
});

const STAMPED = /^signalbox-\d{8}T\d{6}Z$/;
/** The time a stamped backup's name gives, in ms since the epoch. */
const stampTime = (name: string) => Date.parse(name.replace(/^signalbox-(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'));
/** The stamped name of a backup made at `ms`. */
const stampOf = (ms: number) =>
  `signalbox-${new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '')}`;

describe('npm run backup -- --into <parent> [--keep <days>] [--env <file>]', () => {
  it.concurrent(
    'names each backup by its UTC time, so a second run (the next upgrade, the next day) succeeds too',
    onFreshInstallation(async ({ t, parent }) => {
      await registerUser(t, { username: 'amy' });
      const startedAt = Math.floor(Date.now() / 1000) * 1000; // names have one-second resolution
      const first = await runScript('backup', ['--into', parent], { DATA_DIR: t.dir });
      expect(first.code).toBe(0);
      const [firstName] = readdirSync(parent);
      expect(firstName).toMatch(STAMPED);
      const firstAt = stampTime(firstName!);
      expect(firstAt).toBeGreaterThanOrEqual(startedAt);
      expect(firstAt).toBeLessThanOrEqual(Date.now());
      // Instead of waiting for the clock to move on, the first backup becomes the previous day's.
      renameSync(join(parent, firstName!), join(parent, stampOf(firstAt - 86_400_000)));
      const second = await runScript('backup', ['--into', parent], { DATA_DIR: t.dir });
      expect(second.code).toBe(0);
      const names = readdirSync(parent).sort();
      expect(names).toHaveLength(2);
      for (const name of names) {
        expect(name).toMatch(STAMPED);
        expect(existsSync(join(parent, name, 'signalbox.db'))).toBe(true);
      }
    }),
  );

  it.concurrent(
    '--keep removes the stamped backups older than that many days, and nothing else',
    onFreshInstallation(async ({ t, parent }) => {
      await registerUser(t);
      const old = join(parent, 'signalbox-20200101T000000Z');
      const unrelated = join(parent, 'keep-me-20200101');
      for (const dir of [old, unrelated]) {
        mkdirSync(dir);
        writeFileSync(join(dir, 'signalbox.db'), 'x');
      }
      const res = await runScript('backup', ['--into', parent, '--keep', '14'], { DATA_DIR: t.dir });
      expect(res.code).toBe(0);
      expect(res.stdout).toContain('removed backups older than 14 days: signalbox-20200101T000000Z');
      expect(existsSync(old)).toBe(false);
      expect(existsSync(unrelated)).toBe(true);
      expect(readdirSync(parent).filter((n) => STAMPED.test(n))).toHaveLength(1);
    }),
  );

  it.concurrent(
    'refuses --keep without --into, or a --keep that is not a whole number of days, with exit 64',
    onFreshInstallation(async ({ t, parent }) => {
      const refused = [['--keep', '3'], ['--into', parent, '--keep', '0'], ['--into', parent, '--keep', 'x'], ['--into']];
      for (const res of await Promise.all(refused.map((args) => runScript('backup', args, { DATA_DIR: t.dir })))) {
        expect(res.code).toBe(64);
        expect(res.stderr).toContain('usage: npm run backup');
      }
      expect(readdirSync(parent)).toEqual([]);
    }),
  );

  it.concurrent(
    '--env reads DATA_DIR from the service env file (install.sh quoting), with no DATA_DIR in the environment',
    onFreshInstallation(async ({ t, parent }) => {
      await registerUser(t, { username: 'amy' });
      const envFile = join(parent, 'signalbox.env');
      writeFileSync(envFile, `DATA_DIR="${t.dir}"\nMAIL_FROM="Signalbox <no-reply@localhost>"\n`);
      const res = await runScript('backup', ['--env', envFile, '--into', join(parent, 'b')], {});
      expect(res.code).toBe(0);
      expect(readdirSync(join(parent, 'b'))[0]).toMatch(STAMPED);
    }),
  );

  it.concurrent(
    '--env with a file that cannot be read exits 66 and backs nothing up',
    onFreshInstallation(async ({ t, parent }) => {
      const res = await runScript('backup', ['--env', join(parent, 'missing.env'), '--into', join(parent, 'b')], { DATA_DIR: t.dir });
      expect(res.code).toBe(66);
      expect(res.stderr).toContain('cannot read env file');
      expect(existsSync(join(parent, 'b'))).toBe(false);
    }),
  );
});

// The restore steps of docs/deploy.md §8, run as written (the `systemctl` and `chown` lines are the
// service manager's and root's part: here the test stops and starts the store itself).
describe('docs/deploy.md restore', () => {
  const deployMd = readFileSync(fileURLToPath(new URL('../../docs/deploy.md', import.meta.url)), 'utf8');
  const restoreBlock = [...deployMd.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes('systemctl stop signalbox') && b.includes('-wal'));

  it.concurrent(
    'brings back exactly the backed-up data, even with a stale -wal/-shm beside the database',
    onFreshInstallation(async ({ t, parent, openRestored }) => {
      expect(restoreBlock).toBeDefined();
      const lines = restoreBlock!.split('\n').filter((l) => l.trim() !== '');
      expect(lines[0]).toBe('systemctl stop signalbox');
      expect(lines[lines.length - 1]).toBe('systemctl start signalbox');

      const amy = await registerUser(t, { username: 'amy' });
      const backups = join(parent, 'backups');
      expect((await runScript('backup', ['--into', backups], { DATA_DIR: t.dir })).code).toBe(0);
      const [stamp] = readdirSync(backups);
      await registerUser(t, { username: 'bob' }); // after the backup: must not come back

      // The installation to restore into, as a server killed mid-work leaves it: the database with its
      // -wal (holding bob) and -shm beside it.
      const live = join(parent, 'live');
      mkdirSync(live);
      for (const name of ['signalbox.db', 'signalbox.db-wal', 'signalbox.db-shm', 'jwt-secret', 'data-key']) copyFileSync(join(t.dir, name), join(live, name));
      expect(statSync(join(live, 'signalbox.db-wal')).size).toBeGreaterThan(0);

      const script = lines
        .filter((l) => !/^(systemctl|chown) /.test(l))
        .map((l) => l.replaceAll('/var/lib/signalbox', live).replace(/^BACKUP=\S+/, `BACKUP=${join(backups, stamp!)}`))
        .join('\n');
      const res = await run('sh', ['-euc', script]);
      expect(res.stderr).toBe('');
      expect(res.code).toBe(0);
      expect(existsSync(join(live, 'signalbox.db-wal'))).toBe(false);

      const restored = openRestored(live);
      const users = await restored.store.users.list(null, 10);
      expect(users.map((u) => u.username)).toEqual(['amy']);
      // The restored secrets belong to the restored database: amy signs in and her e-mail decrypts.
      const login = await restored.http.post('/auth/login').send({ username: 'amy', password: amy.password });
      expect(login.status).toBe(200);
      expect(login.body.user.email).toBe(amy.email);
    }),
  );
});

// The command systemd/signalbox-backup.service runs, as written, with only its paths pointed at the test's.
describe('systemd/signalbox-backup.service ExecStart', () => {
  it.concurrent(
    'makes a stamped backup from the env file and keeps the recent ones',
    onFreshInstallation(async ({ t, parent }) => {
      await registerUser(t, { username: 'amy' });
      const unit = readFileSync(fileURLToPath(new URL('../../systemd/signalbox-backup.service', import.meta.url)), 'utf8');
      const [node, ...args] = /^ExecStart=(.+)$/m.exec(unit)![1]!.split(/\s+/);
      expect(node).toBe('/usr/bin/node');
      const envFile = join(parent, 'signalbox.env');
      writeFileSync(envFile, `DATA_DIR="${t.dir}"\n`);
      const backups = join(parent, 'backups');
      const repo = fileURLToPath(new URL('../../', import.meta.url));
      const local = args.map((a) => a.replace('/opt/signalbox/', repo).replace('/etc/signalbox/signalbox.env', envFile).replace('/var/backups/signalbox', backups));
      const res = await run(process.execPath, local);
      expect(res.stderr).toBe('');
      expect(res.code).toBe(0);
      expect(readdirSync(backups)).toEqual([expect.stringMatching(STAMPED)]);
    }),
  );
});
