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
 *
 * `--encrypt --passphrase-file <file>` or `--encrypt --recipient <public key file>` writes each file as an
 * OpenPGP message `<name>.pgp` instead (scripts/backupCrypto.ts): the database and the secrets beside it are
 * then unreadable without the passphrase or the private key. The database copy is staged in DATA_DIR (where
 * the plain database already is) and removed once encrypted, so no plain copy reaches the destination.
 * `backup-decrypt` turns such a backup back into plain files.
 * To restore: docs/deploy.md §8 (stop the service, remove stale -wal/-shm files, copy, chown, start).
 * For STORE=mongodb use `mongodump` / `mongorestore` instead (docs/deploy.md).
 */
import Database from '../app/store/sqlite/driver.js';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { sqliteFile } from '../app/boot.js';
import { SECRET_FILES } from '../app/config/secrets.js';
import { ENCRYPTED_SUFFIX, encryptFile, readPassphraseFile, readRecipientFile, type EncryptTo } from './backupCrypto.js';
import { applyEnvFileOption } from './envFile.js';
import { parseEnvOrExit, requireSqliteDatabase } from './existingInstallation.js';

const EX_USAGE = 64;
const EX_CANTCREAT = 73;
/** sysexits(3) EX_NOINPUT: the passphrase or key file cannot be read or used. */
const EX_NOINPUT_KEY = 66;

function fail(code: number, message: string): never {
  process.stderr.write(`signalbox-backup: ${message}\n`);
  process.exit(code);
}

const USAGE =
  'usage: npm run backup -- [--env <file>] [--encrypt --passphrase-file <file> | --encrypt --recipient <public key file>] ' +
  '<destination directory> | --into <parent directory> [--keep <days>]';

/** Names `--into` gives: sortable, no characters a shell or systemd treats specially, unique per second. */
const STAMPED = /^signalbox-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const DAY_MS = 86_400_000;

const stampedName = (at: Date) =>
  `signalbox-${at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}`;

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

/** Where `--encrypt` gets its key: exactly one of a passphrase file and a recipient's public key file. */
interface EncryptionOption {
  passphraseFile?: string;
  recipientFile?: string;
}

/** Takes `--encrypt` and its key option out of `args`; null when not asked for (usage error when half-given). */
function takeEncryption(args: string[]): { rest: string[]; encryption: EncryptionOption | null } {
  const rest: string[] = [];
  let encrypt = false;
  const option: EncryptionOption = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--encrypt' && !encrypt) encrypt = true;
    else if (arg === '--passphrase-file' || arg === '--recipient') {
      const value = args[++i];
      const field = arg === '--passphrase-file' ? 'passphraseFile' : 'recipientFile';
      if (value === undefined || value.startsWith('-') || option[field] !== undefined) fail(EX_USAGE, USAGE);
      option[field] = resolve(value);
    } else rest.push(arg);
  }
  const given = Number(option.passphraseFile !== undefined) + Number(option.recipientFile !== undefined);
  if (encrypt ? given !== 1 : given !== 0) fail(EX_USAGE, USAGE);
  return { rest, encryption: encrypt ? option : null };
}

/** The key `--encrypt` names, read before anything is copied: a bad one fails with nothing written. */
async function loadEncryption(option: EncryptionOption): Promise<EncryptTo> {
  try {
    if (option.passphraseFile !== undefined) return { passphrase: readPassphraseFile(option.passphraseFile) };
    return { recipient: await readRecipientFile(option.recipientFile!) };
  } catch (err) {
    fail(EX_NOINPUT_KEY, `cannot use the encryption key: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Removes `signalbox-<timestamp>` directories in `parent` older than `keepDays` (by their name's time). */
function pruneOlderThan(parent: string, keepDays: number, now: Date): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(parent)) {
    const m = STAMPED.exec(name);
    if (!m) continue;
    const [, y, mo, d, h, mi, s] = m.map<number>(Number);
    const takenAt = Date.UTC(y!, mo! - 1, d, h, mi, s);
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
  const { rest, encryption } = takeEncryption(applyEnvFileOption('signalbox-backup', process.argv.slice(2)));
  const { dest, parent, keepDays } = parseArgs(rest, now);
  const encryptTo = encryption ? await loadEncryption(encryption) : null;
  // Only DATA_DIR is needed, not the secrets: the server's loadConfig would generate missing ones,
  // so a wrong DATA_DIR would get a new directory and new keys before the check below.
  const { config } = parseEnvOrExit('signalbox-backup');
  if (config.store !== 'sqlite') {
    const tool = config.store === 'postgres' ? 'pg_dump' : 'mongodump';
    fail(EX_USAGE, `STORE=${config.store}: back up with ${tool} (see docs/deploy.md); this script copies the SQLite store`);
  }
  requireSqliteDatabase('signalbox-backup', config); // exit 66, nothing created
  const source = sqliteFile(config);
  if (existsSync(dest) && readdirSync(dest).length > 0) fail(EX_CANTCREAT, `${dest} is not empty; choose a new directory`);
  mkdirSync(dest, { recursive: true, mode: 0o700 });

  // A connection of our own beside the server's; the backup only reads from it. fileMustExist: a wrong
  // DATA_DIR must not create an empty database that then gets "backed up".
  // Encrypted: the plain copy is staged beside the live database (no less protected than it) and removed.
  const staging = encryptTo ? mkdtempSync(join(config.dataDir, '.backup-')) : dest;
  const copied: string[] = [];
  try {
    const db = new Database(source, { fileMustExist: true });
    try {
      db.pragma('busy_timeout = 5000');
      await db.backup(join(staging, 'signalbox.db'));
    } finally {
      db.close();
    }
    const files: Array<[name: string, path: string]> = [['signalbox.db', join(staging, 'signalbox.db')]];
    for (const name of Object.values(SECRET_FILES)) {
      const file = join(config.dataDir, name);
      if (existsSync(file)) files.push([name, file]);
    }
    for (const [name, path] of files) {
      if (encryptTo) {
        await encryptFile(path, join(dest, name + ENCRYPTED_SUFFIX), encryptTo);
        copied.push(name + ENCRYPTED_SUFFIX);
      } else {
        if (path !== join(dest, name)) copyFileSync(path, join(dest, name));
        copied.push(name);
      }
    }
  } finally {
    if (encryptTo) rmSync(staging, { recursive: true, force: true });
  }
  process.stdout.write(`backed up ${copied.join(', ')} to ${dest}${encryptTo ? ' (encrypted)' : ''}\n`);
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
