import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import request from 'supertest';
import { PasswordHasher } from '../../app/accounts/passwordHasher.js';
import { RATE_LIMIT_VARIABLES, type Env } from '../../app/config/environment.js';
import { parseConfig, type Config } from '../../app/config/parse.js';
import { createMailer, type Mailer } from '../../app/mail/mailer.js';
import { createApp, type SignalboxApp } from '../../app/server.js';
import { openSqliteStore } from '../../app/store/sqlite/index.js';
import type { Store } from '../../app/store/types.js';
import { ManualClock, ManualScheduler } from './clock.js';

/** Real argon2id, with parameters small enough that hundreds of registrations stay quick. */
export const TEST_ARGON2 = { memoryCost: 4096, timeCost: 1, parallelism: 1 };

export interface TestApp {
  http: ReturnType<typeof request>;
  store: Store;
  config: Config;
  clock: ManualClock;
  /** With `manualScheduler`: the time held polls' waits and the session check run by, moved by `advance`. */
  scheduler?: ManualScheduler;
  hasher: PasswordHasher;
  dir: string;
  /** Every log line the app wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  /** The app: its handler (to listen on a real socket), its lifecycle, and the Koa app behind the handler. */
  app: SignalboxApp;
  /** The app's mailer: `await t.mailer.idle()` before looking for a message. */
  mailer: Mailer;
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Env;
  hasher?: PasswordHasher;
  /** An opened store (e.g. PostgreSQL) instead of a fresh SQLite file in DATA_DIR; close() closes it. */
  store?: Store;
  /** Wraps the real store, for fault injection. */
  wrapStore?: (store: Store) => Store;
  /** Waits between mail retries; short by default so retry tests finish quickly. */
  mailRetryDelaysMs?: number[];
  /** Waits between push attempts; the production ones (2 s, 10 s, 60 s) unless a test that retries says otherwise. */
  pushRetryDelaysMs?: number[];
  /** An existing DATA_DIR (e.g. a restored backup) instead of a fresh temp directory; still removed by close(). */
  dataDir?: string;
  /** Another client SDK bundle for GET /sdk/signalbox.js (e.g. a missing one); default the built client/dist/signalbox.js. */
  sdkBundlePath?: string;
  /** Held polls' waits and the session check run by a ManualScheduler (`t.scheduler`) instead of real time. */
  manualScheduler?: boolean;
}

/** The fixed secrets every test app uses; scripts spawned against its DATA_DIR get them as files (writeTestSecrets). */
export const TEST_SECRETS = { jwtSecret: Buffer.alloc(32, 7), dataKey: Buffer.alloc(32, 9) };

/**
 * Rate limits are off unless a test turns one on through `env`: most suites register and sign in
 * many times from one address, and the limits have their own tests.
 */
const RATE_LIMITS_OFF: Env = Object.fromEntries(RATE_LIMIT_VARIABLES.map((name) => [name, 'off']));

/**
 * The bytes of a database file migrated once per test file, written out for each app: migrating a fresh file
 * (a transaction per schema step, WAL switched on) was a third of what opening a test app's store cost. It is
 * the same schema openSqliteStore would build, and it still opens it (WAL, pragmas, `migrate` finding nothing
 * to do). Kept in memory, so no template file outlives the tests.
 */
let migratedBytes: Buffer | undefined;
function writeMigratedDatabase(file: string): void {
  if (!migratedBytes) {
    const dir = mkdtempSync(join(tmpdir(), 'signalbox-template-'));
    try {
      const template = join(dir, 'signalbox.db');
      const store = openSqliteStore(template);
      void store.close(); // synchronous for SQLite: the WAL is folded into the file and removed
      migratedBytes = readFileSync(template);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  writeFileSync(file, migratedBytes);
}

/** A full app on a fresh SQLite file on disk, with a manual clock and captured logs. */
export function makeTestApp(options: TestAppOptions = {}): TestApp {
  const dir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'signalbox-test-'));
  const config = parseConfig({ DATA_DIR: dir, LOG_LEVEL: 'info', ...RATE_LIMITS_OFF, ...options.env }, TEST_SECRETS);
  const dbFile = join(dir, 'signalbox.db');
  if (!options.store && !options.dataDir) writeMigratedDatabase(dbFile);
  const realStore = options.store ?? openSqliteStore(dbFile);
  const store = options.wrapStore ? options.wrapStore(realStore) : realStore;
  const clock = new ManualClock(Date.parse('2026-06-01T12:00:00Z'));
  const scheduler = options.manualScheduler ? new ManualScheduler() : undefined;
  const hasher = options.hasher ?? new PasswordHasher(TEST_ARGON2);
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = pino({ level: config.logLevel }, sink);
  const mailer = createMailer(config, logger, { retryDelaysMs: options.mailRetryDelaysMs ?? [10, 20] });
  const app = createApp({
    config,
    store,
    logger,
    clock,
    scheduler,
    hasher,
    mailer,
    sdkBundlePath: options.sdkBundlePath,
    pushRetryDelaysMs: options.pushRetryDelaysMs,
  });
  return {
    http: request(app.handler),
    store,
    config,
    clock,
    scheduler,
    hasher,
    dir,
    logs,
    app,
    mailer,
    async close() {
      await mailer.idle();
      await realStore.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
