import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { ConfigError, loadConfig, type Config, type Env } from './config.js';
import { openMongoStore } from './store/mongo/index.js';
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

/** The configuration, or exit 78 with one line on stderr naming the bad variable. */
export function loadConfigOrExit(program: string): Config {
  try {
    return loadConfig(readEnv());
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${program}: configuration error: ${err.message}\n`);
      process.exit(EX_CONFIG);
    }
    throw err;
  }
}

/** The SQLite database file of a configuration (STORE=sqlite). */
export const sqliteFile = (config: Pick<Config, 'dataDir'>) => join(config.dataDir, 'signalbox.db');

/** Opens the configured store: SQLite in DATA_DIR, or MongoDB. */
export async function openStore(config: Config): Promise<Store> {
  if (config.store === 'mongodb') return openMongoStore(config.mongodbUri!, config.mongodbDb);
  return openSqliteStore(sqliteFile(config));
}
