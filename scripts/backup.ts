/**
 * `npm run backup -- <dest-dir>`: a consistent copy of the SQLite store while the server keeps running.
 * It uses SQLite's online backup API (better-sqlite3 `db.backup`), which copies the database page by page
 * under a read transaction and restarts when another connection writes, so the copy is one committed
 * state. A plain `cp` of a WAL database can catch the main file and the -wal file at different moments.
 *
 * `<dest-dir>` must not exist (or be empty); it receives `signalbox.db` and, when DATA_DIR holds them,
 * the generated secrets (`jwt-secret`, `data-key`, `vapid-private-key`: without data-key the stored e-mail
 * addresses cannot be read, without the VAPID key every browser push subscription must be made again).
 *
 * `--into <parent>` makes the destination `<parent>/signalbox-<UTC timestamp>` instead, so a timer or an
 * upgrade can run it again and again without choosing names; `--keep <days>` then removes the older
 * `signalbox-<timestamp>` directories in `<parent>` (never anything else). `--env <file>` reads the
 * service's env file (scripts/envFile.ts).
 * To restore: docs/deploy.md §8 (stop the service, remove stale -wal/-shm files, copy, chown, start).
 * For STORE=mongodb use `mongodump` / `mongorestore` instead (docs/deploy.md).
 */
import Database from '../app/store/sqlite/driver.js';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { sqliteFile } from '../app/boot.js';
import { SECRET_FILES } from '../app/config.js';
import { applyEnvFileOption } from './envFile.js';
import { parseEnvOrExit, requireSqliteDatabase } from './existingInstallation.js';

const EX_USAGE = 64;
const EX_CANTCREAT = 73;

function fail(code: number, message: string): never {
  process.stderr.write(`signalbox-backup: ${message}\n`);
  process.exit(code);
}

const USAGE = 'usage: npm run backup -- [--env <file>] <destination directory> | --into <parent directory> [--keep <days>]';

/** Names `--into` gives: sortable, no characters a shell or systemd treats specially, unique per second. */
const STAMPED = /^signalbox-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const DAY_MS = 86_400_000;

const stampedName = (at: Date) => `signalbox-${at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;

interface Plan {
  dest: string;
  /** `--into`: where older stamped backups live; `--keep`: how many days of them stay. */
  parent?: string;
  keepDays?: number;
}

function parseArgs(args: string[], now: Date): Plan {
  if (args.length === 1 && !args[0]!.startsWith('-')) return { dest: resolve(args[0]!) };
  const plan: Partial<Plan> = {};
  for (let i = 0; i < args.length; i += 2) {
    const [flag, value] = [args[i], args[i + 1]];
    if (value === undefined || value.startsWith('-')) fail(EX_USAGE, USAGE);
    if (flag === '--into' && plan.parent === undefined) plan.parent = resolve(value);
    else if (flag === '--keep' && plan.keepDays === undefined && /^[1-9]\d{0,4}$/.test(value)) plan.keepDays = Number(value);
    else fail(EX_USAGE, USAGE);
  }
  if (plan.parent === undefined) fail(EX_USAGE, USAGE);
  return { dest: join(plan.parent, stampedName(now)), parent: plan.parent, keepDays: plan.keepDays };
}

/** Removes `signalbox-<timestamp>` directories in `parent` older than `keepDays` (by their name's time). */
function pruneOlderThan(parent: string, keepDays: number, now: Date): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(parent)) {
    const m = STAMPED.exec(name);
    if (!m) continue;
    const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
    const takenAt = Date.UTC(y!, mo! - 1, d!, h!, mi!, s!);
    if (now.getTime() - takenAt > keepDays * DAY_MS) {
      rmSync(join(parent, name), { recursive: true, force: true });
      removed.push(name);
    }
  }
  return removed;
}

async function main(): Promise<void> {
  process.umask(0o077); // the copy holds password hashes and the data key: for the owner only
  const now = new Date();
  const { dest, parent, keepDays } = parseArgs(applyEnvFileOption('signalbox-backup', process.argv.slice(2)), now);
  // Only DATA_DIR is needed, not the secrets: the server's loadConfig would generate missing ones,
  // so a wrong DATA_DIR would get a new directory and new keys before the check below.
  const { config } = parseEnvOrExit('signalbox-backup');
  if (config.store !== 'sqlite') {
    fail(EX_USAGE, 'STORE=mongodb: back up with mongodump (see docs/deploy.md); this script copies the SQLite store');
  }
  requireSqliteDatabase('signalbox-backup', config); // exit 66, nothing created
  const source = sqliteFile(config);
  if (existsSync(dest) && readdirSync(dest).length > 0) fail(EX_CANTCREAT, `${dest} is not empty; choose a new directory`);
  mkdirSync(dest, { recursive: true, mode: 0o700 });

  // A connection of our own beside the server's; the backup only reads from it. fileMustExist: a wrong
  // DATA_DIR must not create an empty database that then gets "backed up".
  const db = new Database(source, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    await db.backup(join(dest, 'signalbox.db'));
  } finally {
    db.close();
  }
  const copied = ['signalbox.db'];
  for (const name of Object.values(SECRET_FILES)) {
    const file = join(config.dataDir, name);
    if (existsSync(file)) {
      copyFileSync(file, join(dest, name));
      copied.push(name);
    }
  }
  process.stdout.write(`backed up ${copied.join(', ')} to ${dest}\n`);
  // Pruned only after this backup succeeded, so a failing backup never leaves fewer copies behind.
  if (parent !== undefined && keepDays !== undefined) {
    const removed = pruneOlderThan(parent, keepDays, now);
    if (removed.length > 0) process.stdout.write(`removed backups older than ${keepDays} days: ${removed.join(', ')}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`signalbox-backup: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
