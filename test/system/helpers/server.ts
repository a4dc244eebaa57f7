import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { PasswordHasher } from '../../../app/accounts/passwordHasher.js';
import { RATE_LIMIT_VARIABLES, type Env } from '../../../app/config/environment.js';
import { parseConfig } from '../../../app/config/parse.js';
import { createMailer } from '../../../app/mail/mailer.js';
import { createApp } from '../../../app/server.js';
import { systemClock, type Clock } from '../../../app/lib/clock.js';
import { openSqliteStore } from '../../../app/store/sqlite/index.js';
import type { Store } from '../../../app/store/types.js';
import { TEST_ARGON2, TEST_SECRETS } from '../../helpers/app.js';

// The real app listening on a real socket on 127.0.0.1, for a browser to load pages and the SDK from.
// Unlike test/helpers/app.ts it runs on the system clock: coturn checks TURN credentials' expiry
// against real time, and the browser's timers and the server's long-polls must agree on "now".

export interface RunningServer {
  /** http://127.0.0.1:<port>, the origin the browser pages come from. */
  baseUrl: string;
  /** Every log line the app wrote, parsed: the reason behind a 4xx/5xx the browser saw. */
  logs: Array<Record<string, unknown>>;
  /** The app's store: a test plays a malicious server through it (swaps a served key, injects signals). */
  store: Store;
  close(): Promise<void>;
}

/** Rate limits are off: one test registers and signs in many browser users from one address. */
const RATE_LIMITS_OFF: Env = Object.fromEntries(RATE_LIMIT_VARIABLES.map((name) => [name, 'off']));

/**
 * Starts the app on 127.0.0.1 with a fresh SQLite store and `env` (TURN_URLS, TURN_SECRET, ...);
 * `clock`: the system clock unless a test needs to move time (e.g. past ACCESS_TOKEN_TTL, tabs.ts).
 */
export async function startServer(env: Env = {}, clock: Clock = systemClock): Promise<RunningServer> {
  const dir = mkdtempSync(join(tmpdir(), 'signalbox-system-'));
  const config = parseConfig({ DATA_DIR: dir, HOST: '127.0.0.1', LOG_LEVEL: 'info', ...RATE_LIMITS_OFF, ...env }, TEST_SECRETS);
  const store = openSqliteStore(join(dir, 'signalbox.db'));
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = pino({ level: config.logLevel }, sink);
  const mailer = createMailer(config, logger);
  const app = createApp({ config, store, logger, clock, hasher: new PasswordHasher(TEST_ARGON2), mailer });
  const stopBackground = app.lifecycle.start();
  const server: Server = createServer(app.handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('server has no address');
  return {
    baseUrl: `http://127.0.0.1:${address.port}`,
    logs,
    store,
    async close() {
      // Held long-polls answer now, so the sockets go idle and close() does not wait for a 30 s hold.
      app.lifecycle.releasePolls();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([mailer.idle(), stopBackground()]);
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
