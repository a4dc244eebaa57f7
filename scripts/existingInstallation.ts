/**
 * How the operator scripts (admin CLI, backup) load their configuration: like the server, except that
 * they never create anything. The server makes DATA_DIR, the database and the secrets on its first
 * start; a script pointed at a wrong DATA_DIR (a typo, another working directory, a missing .env)
 * must not quietly make a new, empty installation there and then report on it or back it up.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EX_CONFIG, loadConfigOrExit, readEnv, sqliteFile } from '../app/boot.js';
import type { Env } from '../app/config/environment.js';
import { parseConfig, type Config } from '../app/config/parse.js';
import { ConfigError } from '../app/config/parsers.js';

/** sysexits(3) EX_NOINPUT: the installation the configuration points at does not exist. */
export const EX_NOINPUT = 66;

/** Placeholders for the first, values-only check: nothing is signed or decrypted with them. */
const CHECK_ONLY = { jwtSecret: Buffer.alloc(32), dataKey: Buffer.alloc(32) };

/** The secret files the server generates in DATA_DIR when the environment does not carry them. */
const SECRETS = [
  { env: 'JWT_SECRET', file: 'jwt-secret' },
  { env: 'DATA_KEY', file: 'data-key' },
] as const;

function fail(program: string, code: number, message: string): never {
  process.stderr.write(`${program}: ${message}\n`);
  process.exit(code);
}

/** The environment's values checked (exit 78 on a bad one), before anything on disk is looked at. */
export function parseEnvOrExit(program: string): { env: Env; config: Config } {
  const env = readEnv();
  try {
    return { env, config: parseConfig(env, CHECK_ONLY) };
  } catch (err) {
    if (err instanceof ConfigError) fail(program, EX_CONFIG, `configuration error: ${err.message}`);
    throw err;
  }
}

/** Exit 66 unless DATA_DIR holds the SQLite database (STORE=sqlite). */
export function requireSqliteDatabase(program: string, config: Config): void {
  const file = sqliteFile(config);
  if (existsSync(file)) return;
  const where = existsSync(config.dataDir) ? `${file} does not exist` : `DATA_DIR ${config.dataDir} does not exist`;
  fail(program, EX_NOINPUT, `${where}: is DATA_DIR right? No Signalbox database is there, and none was created.`);
}

/**
 * Exit 66 unless the MongoDB database holds Signalbox's `users` collection: MongoDB creates a
 * database on first write, so opening the store (which creates indexes) on a misspelt MONGODB_DB
 * would make a new, empty one.
 */
async function requireMongoDatabase(program: string, config: Config): Promise<void> {
  // Imported here, as app/boot.ts does the adapters: only a MongoDB installation pays for loading the driver.
  const { MongoClient } = await import('mongodb');
  const client = new MongoClient(config.mongodbUri!, { serverSelectionTimeoutMS: 5000, appName: 'signalbox-admin' });
  try {
    await client.connect();
    const found = await client.db(config.mongodbDb).listCollections({ name: 'users' }, { nameOnly: true }).toArray();
    if (found.length === 0) {
      fail(
        program,
        EX_NOINPUT,
        `MongoDB database ${config.mongodbDb} has no Signalbox data (no users collection): are MONGODB_URI and MONGODB_DB right? Nothing was created.`,
      );
    }
  } finally {
    await client.close();
  }
}

/**
 * Exit 66 unless the PostgreSQL database (DATABASE_URL, its search_path) holds Signalbox's schema: opening
 * the store on a wrong database would migrate it into a new, empty installation.
 */
async function requirePostgresDatabase(program: string, config: Config): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: config.databaseUrl!, connectionTimeoutMillis: 5000, application_name: 'signalbox-admin' });
  try {
    await client.connect();
    const { rows } = await client.query<{ found: string | null }>("SELECT to_regclass('schema_migrations')::text AS found");
    if (!rows[0]?.found) {
      fail(
        program,
        EX_NOINPUT,
        'the PostgreSQL database of DATABASE_URL has no Signalbox data (no schema_migrations table): is DATABASE_URL right? Nothing was created.',
      );
    }
  } finally {
    await client.end().catch(() => {});
  }
}

/** Exit 78 when a secret is neither in the environment nor in DATA_DIR, instead of generating a new one. */
function requireSecrets(program: string, env: Env, config: Config): void {
  for (const s of SECRETS) {
    const value = env[s.env];
    if ((value === undefined || value.trim() === '') && !existsSync(join(config.dataDir, s.file))) {
      fail(
        program,
        EX_CONFIG,
        `configuration error: ${s.env}: not set, and ${join(config.dataDir, s.file)} does not exist; run with the server's environment and DATA_DIR (nothing was created)`,
      );
    }
  }
}

/**
 * The configuration of an installation that exists: its database (SQLite file in DATA_DIR, or the
 * MongoDB database with a users collection) and its secrets (environment or DATA_DIR). Exits 66 or
 * 78 with one line otherwise, having created no directory, database or secret.
 */
export async function loadExistingConfigOrExit(program: string): Promise<Config> {
  const { env, config } = parseEnvOrExit(program);
  if (config.store === 'sqlite') requireSqliteDatabase(program, config);
  else if (config.store === 'postgres') await requirePostgresDatabase(program, config);
  else await requireMongoDatabase(program, config);
  requireSecrets(program, env, config);
  // Every secret is present now, so loading reads them and generates nothing.
  return loadConfigOrExit(program);
}
