/**
 * `npm run backup -- <dest-dir>`: a consistent copy of the SQLite store while the server keeps running.
 * It uses SQLite's online backup API (better-sqlite3 `db.backup`), which copies the database page by page
 * under a read transaction and restarts when another connection writes, so the copy is one committed
 * state. A plain `cp` of a WAL database can catch the main file and the -wal file at different moments.
 *
 * `<dest-dir>` must not exist (or be empty); it receives `signalbox.db` and, when DATA_DIR holds them,
 * the generated secrets (`jwt-secret`, `data-key`, `vapid-private-key`: without data-key the stored e-mail
 * addresses cannot be read, without the VAPID key every browser push subscription must be made again).
 * To restore: stop the service, put these files into DATA_DIR, start it.
 * For STORE=mongodb use `mongodump` / `mongorestore` instead (docs/deploy.md).
 */
import Database from 'better-sqlite3';
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { sqliteFile } from '../app/boot.js';
import { SECRET_FILES } from '../app/config.js';
import { parseEnvOrExit, requireSqliteDatabase } from './existingInstallation.js';

const EX_USAGE = 64;
const EX_CANTCREAT = 73;

function fail(code: number, message: string): never {
  process.stderr.write(`signalbox-backup: ${message}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  process.umask(0o077); // the copy holds password hashes and the data key: for the owner only
  const args = process.argv.slice(2);
  if (args.length !== 1 || args[0]!.startsWith('-')) fail(EX_USAGE, 'usage: npm run backup -- <destination directory>');
  const dest = resolve(args[0]!);
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
}

main().catch((err: unknown) => {
  process.stderr.write(`signalbox-backup: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
