import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { PasswordHasher } from '../../../app/accounts/passwordHasher.js';
import { RATE_LIMIT_VARIABLES, type Env } from '../../../app/config/environment.js';
import { parseConfig } from '../../../app/config/parse.js';
import { systemClock } from '../../../app/lib/clock.js';
import { createMailer } from '../../../app/mail/mailer.js';
import { createApp } from '../../../app/server.js';
import { openSqliteStore } from '../../../app/store/sqlite/index.js';
import { TEST_ARGON2, TEST_SECRETS } from '../../helpers/app.js';
import { call, expectStatus } from './faultClient.js';

// Accounts, devices and connections are made through the real API of an in-process app on the same
// DATA_DIR, before the server under test is spawned on it: the built server hashes with the production
// argon2 parameters (64 MiB, 3 passes), and a thousand logins at those would take minutes on two vCPUs.
// Same schema, same secrets (makeDataDir wrote them), the system clock: the spawned server accepts the
// tokens and sessions as its own.

/** One signed-in device: a session of `username`, with its access token. */
export interface Device {
  username: string;
  password: string;
  accessToken: string;
  deviceId: string;
}

export interface Seeder {
  /** Registers a fresh user (its first device). */
  register(prefix: string): Promise<Device>;
  /** Signs `user` in again: another device of theirs. */
  login(user: Device): Promise<Device>;
  /** Connects `a` and `b` (a asks, b accepts) and empties every device mailbox of both users of the events that wrote. */
  connect(a: Device, b: Device): Promise<void>;
  /** DELETE /signaling/clear for one device. */
  clear(device: Device): Promise<void>;
  /** Stops listening and closes the store, so the spawned server has the database to itself. */
  close(): Promise<void>;
}

const RATE_LIMITS_OFF: Env = Object.fromEntries(RATE_LIMIT_VARIABLES.map((name) => [name, 'off']));
const PASSWORD = 'correct horse battery';
let counter = 0;

/** An in-process app on `dataDir` listening on 127.0.0.1, for setting up what a reliability test needs. */
export async function openSeeder(dataDir: string, env: Env = {}): Promise<Seeder> {
  const config = parseConfig({ DATA_DIR: dataDir, HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...RATE_LIMITS_OFF, ...env }, TEST_SECRETS);
  const store = openSqliteStore(join(dataDir, 'signalbox.db'));
  const logger = pino({ level: 'warn' }, new Writable({ write: (_c, _e, done) => done() }));
  const mailer = createMailer(config, logger);
  const app = createApp({ config, store, logger, clock: systemClock, hasher: new PasswordHasher(TEST_ARGON2), mailer });
  const server = createServer(app.handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const device = (r: { accessToken: string; deviceId: string }, username: string): Device => ({
    username,
    password: PASSWORD,
    accessToken: r.accessToken,
    deviceId: r.deviceId,
  });
  const devicesOf = new Map<string, Device[]>();
  const remember = (d: Device) => {
    devicesOf.set(d.username, [...(devicesOf.get(d.username) ?? []), d]);
    return d;
  };
  const clear = async (d: Device) => {
    expectStatus(await call(url, 'DELETE', '/signaling/clear', { token: d.accessToken }), 204, 'clear');
  };
  return {
    async register(prefix) {
      counter++;
      const username = `${prefix}_${counter}_${Math.random().toString(36).slice(2, 6)}`.slice(0, 32);
      const res = await call(url, 'POST', '/auth/register', { body: { username, email: `${username}@example.org`, password: PASSWORD } });
      const body = expectStatus(res, 201, `register ${username}`) as { accessToken: string; deviceId: string };
      return remember(device(body, username));
    },
    async login(user) {
      const res = await call(url, 'POST', '/auth/login', { body: { username: user.username, password: user.password } });
      const body = expectStatus(res, 200, `login ${user.username}`) as { accessToken: string; deviceId: string };
      return remember(device(body, user.username));
    },
    async connect(a, b) {
      expectStatus(await call(url, 'POST', '/connections/request', { token: a.accessToken, body: { username: b.username } }), 201, 'request');
      expectStatus(await call(url, 'POST', '/connections/respond', { token: b.accessToken, body: { username: a.username, action: 'accept' } }), 200, 'accept');
      for (const d of [...(devicesOf.get(a.username) ?? []), ...(devicesOf.get(b.username) ?? [])]) await clear(d);
    },
    clear,
    async close() {
      app.lifecycle.releasePolls();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await mailer.idle();
      await store.close();
    },
  };
}

/** Alice and Bob connected, Carol a stranger to both: the cast of the single-server reliability tests. */
export async function seedThreeUsers(dataDir: string): Promise<{ alice: Device; bob: Device; carol: Device }> {
  const seeder = await openSeeder(dataDir);
  try {
    const alice = await seeder.register('alice');
    const bob = await seeder.register('bob');
    const carol = await seeder.register('carol');
    await seeder.connect(alice, bob);
    return { alice, bob, carol };
  } finally {
    await seeder.close();
  }
}

/** Runs `fn` over `items` with at most `concurrency` at once, keeping the order of results. */
export async function inPool<T, R>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!, i);
      }
    }),
  );
  return results;
}
