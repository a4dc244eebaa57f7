import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import type { Env } from './config/environment.js';
import { loadConfig, parseConfig, type Config } from './config/parse.js';
import { ConfigError } from './config/parsers.js';
import { openSqliteStore } from './store/sqlite/index.js';
import type { Store } from './store/types.js';

/**
 * What every Signalbox process does before its real work (the server in main.ts, the admin CLI,
 * the backup script), kept in one place so they all read the same configuration the same way.
 */

/** sysexits: configuration error; the systemd unit does not restart on it (RestartPreventExitStatus). */
export const EX_CONFIG = 78;

/** The process environment over `.env` in the working directory (when present): a real variable always wins. */
export function readEnv(): Env {
  const file = join(process.cwd(), '.env');
  const fromFile = existsSync(file) ? parseEnv(readFileSync(file, 'utf8')) : {};
  return { ...fromFile, ...process.env };
}

/**
 * A reason not to start that the operator must fix on the host (a read-only or full DATA_DIR), told in
 * one line; exit 1, not 78, so systemd restarts once the disk is back (the configuration is fine).
 */
export class StartError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StartError';
  }
}

/**
 * The configuration, or exit 78 with one line on stderr naming the bad variable. `preflight` runs on the
 * parsed values before any secret is read from or generated into DATA_DIR (the server checks there that
 * it can write).
 */
export function loadConfigOrExit(program: string, preflight?: (config: Config) => void): Config {
  try {
    const env = readEnv();
    // Placeholder secrets: only the other values are looked at before the real ones are loaded.
    preflight?.(parseConfig(env, { jwtSecret: Buffer.alloc(32), dataKey: Buffer.alloc(32) }));
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${program}: configuration error: ${err.message}\n`);
      process.exit(EX_CONFIG);
    }
    throw err;
  }
}

/** The name a system error gives itself (EROFS, EACCES, ENOSPC), else its message. */
const reasonOf = (err: unknown): string => {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
};

/**
 * Creates DATA_DIR when missing and writes, syncs and removes a small file in it; throws StartError
 * naming the directory and the error (EROFS, EACCES, ENOSPC) when any step fails. A server that cannot
 * write there would start, answer every read, and fail every sign-in and send.
 */
export function checkDataDirWritable(dataDir: string): void {
  const probe = join(dataDir, `.write-check-${process.pid}`);
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const fd = openSync(probe, 'w', 0o600);
    try {
      writeSync(fd, 'signalbox\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
      unlinkSync(probe);
    }
  } catch (err) {
    throw new StartError(`DATA_DIR ${dataDir} is not writable (${reasonOf(err)}); the database, secrets and mail outbox live there`, { cause: err });
  }
}

/**
 * Rejects with StartError (after closing it) when the store opened but cannot write: SQLite opens a
 * database file it may not write read-only, without a word, and every write would then fail.
 */
export async function requireWritableStore(store: Store, config: Pick<Config, 'store' | 'dataDir'>): Promise<void> {
  const failure = await store.probeWrite();
  if (failure === null) return;
  await store.close();
  const where = config.store === 'sqlite' ? `the database ${sqliteFile(config)}` : config.store === 'postgres' ? 'the PostgreSQL database' : 'the MongoDB database';
  throw new StartError(`${where} cannot be written (${failure})`);
}

/** The SQLite database file of a configuration (STORE=sqlite). */
export const sqliteFile = (config: Pick<Config, 'dataDir'>) => join(config.dataDir, 'signalbox.db');

/**
 * Opens the configured store: SQLite in DATA_DIR, MongoDB or PostgreSQL. The MongoDB and PostgreSQL
 * adapters are imported only when configured: their drivers take a tenth of a second of CPU to load, paid
 * otherwise by every start of the server, the admin CLI and the backup script on the default SQLite store.
 */
export async function openStore(config: Config): Promise<Store> {
  if (config.store === 'mongodb') {
    const { openMongoStore } = await import('./store/mongo/index.js');
    return openMongoStore(config.mongodbUri!, config.mongodbDb);
  }
  if (config.store === 'postgres') return openPostgres(config);
  const file = sqliteFile(config);
  try {
    return openSqliteStore(file, { synchronous: config.sqliteSynchronous });
  } catch (err) {
    // SQLite's own words ("unable to open database file") do not say which file.
    if ((err as { code?: unknown }).code === undefined) throw err;
    throw new StartError(`cannot open the database ${file} (${reasonOf(err)}: ${err instanceof Error ? err.message : ''})`, { cause: err });
  }
}

/** Opens the PostgreSQL store; a database that cannot be reached stops the start with one line, no password in it. */
async function openPostgres(config: Config): Promise<Store> {
  const { openPostgresStore } = await import('./store/postgres/index.js');
  try {
    return await openPostgresStore(config.databaseUrl!, { max: config.pgPoolMax, statementTimeoutMs: config.pgStatementTimeoutMs });
  } catch (err) {
    const url = new URL(config.databaseUrl!);
    const where = `${url.hostname}:${url.port || '5432'}${url.pathname}`;
    throw new StartError(`cannot open the PostgreSQL database at ${where} (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
}
