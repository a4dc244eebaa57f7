import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createECDH, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, Agent, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { pino } from 'pino';
import { PasswordHasher } from '../app/accounts/passwordHasher.js';
import { openStore, sqliteFile } from '../app/boot.js';
import { RATE_LIMIT_VARIABLES, type Env } from '../app/config/environment.js';
import { parseConfig, type Config } from '../app/config/parse.js';
import { vapidKeysOf } from '../app/config/secrets.js';
import { createApp, type SignalboxApp } from '../app/server.js';
import type { Store } from '../app/store/types.js';

// How the benches set up what they measure (bench/README.md), every address 127.0.0.1: plain node:http
// requests (no client library between the timer and the socket), users and connections through the HTTP
// API, /metrics readings, and the server three ways: in this process, as bench/signalingServer.ts in its own
// pinned process, or as the production build (dist/app/main.js). Statistics and printing are bench/measure.ts.

/** Secrets for an in-process server; fixed, so a bench's data dir stays readable across its restarts. */
export const BENCH_SECRETS = { jwtSecret: Buffer.alloc(32, 1), dataKey: Buffer.alloc(32, 2) };

/** Like test/helpers/app.ts TEST_ARGON2: real argon2id, cheap enough that registering and logging in is not what is measured. */
export const BENCH_ARGON2 = { memoryCost: 4096, timeCost: 1, parallelism: 1 };

export const PASSWORD = 'correct horse battery staple';

/** Every RATE_* of app/config/environment.ts off but `except`: a bench registers and logs in many users from one address. */
export const rateLimitsOff = (except: string[] = []): Record<string, string> =>
  Object.fromEntries(RATE_LIMIT_VARIABLES.filter((name) => !except.includes(name)).map((name) => [name, 'off']));

// ---------------------------------------------------------------------------------------------------
// HTTP.

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTP request to 127.0.0.1:`port` over `agent` (`false`: a connection of its own); resolves with the whole body. */
export function call(agent: Agent | false, port: number, method: string, path: string, opts: { token?: string; body?: unknown } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const headers: Record<string, string> = {};
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const req = httpRequest({ host: '127.0.0.1', port, method, path, agent, headers }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** The reply's JSON body when its status is `status`; otherwise stops the bench naming `what`. */
export const expect = (r: Reply, status: number, what: string) => {
  if (r.status !== status) throw new Error(`${what}: expected ${status}, got ${r.status} ${r.body.slice(0, 200)}`);
  return r.body ? (JSON.parse(r.body) as Record<string, unknown>) : {};
};

// ---------------------------------------------------------------------------------------------------
// Users, devices and connections through the API.

export interface BenchUser {
  username: string;
  token: string;
  /** The session's device id (register and login answer it). */
  deviceId: string;
}

/** POST /auth/register; `extra` joins the body (e.g. a `pgpPublicKey`). */
export async function register(agent: Agent | false, port: number, username: string, extra: Record<string, unknown> = {}): Promise<BenchUser> {
  const r = await call(agent, port, 'POST', '/auth/register', { body: { username, email: `${username}@example.org`, password: PASSWORD, ...extra } });
  const body = expect(r, 201, `register ${username}`);
  return { username, token: body.accessToken as string, deviceId: body.deviceId as string };
}

/** A new session (device) of an existing user: POST /auth/login. */
export async function login(agent: Agent | false, port: number, username: string): Promise<BenchUser> {
  const body = expect(await call(agent, port, 'POST', '/auth/login', { body: { username, password: PASSWORD } }), 200, `login ${username}`);
  return { username, token: body.accessToken as string, deviceId: body.deviceId as string };
}

/** `a` asks, `b` accepts; with `clear`, both mailboxes are then emptied of the connection events. */
export async function connect(agent: Agent | false, port: number, a: BenchUser, b: BenchUser, opts: { clear?: boolean } = {}): Promise<void> {
  expect(await call(agent, port, 'POST', '/connections/request', { token: a.token, body: { username: b.username } }), 201, 'connection request');
  expect(await call(agent, port, 'POST', '/connections/respond', { token: b.token, body: { username: a.username, action: 'accept' } }), 200, 'connection respond');
  if (opts.clear) for (const u of [a, b]) expect(await call(agent, port, 'DELETE', '/signaling/clear', { token: u.token }), 204, 'clear');
}

// ---------------------------------------------------------------------------------------------------
// Web Push (docs/push.md), to receivers on 127.0.0.1.

/** A fresh VAPID key, and push endpoints allowed on plain HTTP and loopback: the benches' receivers are local. */
export function webPushEnv(): Record<string, string> {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { VAPID_PRIVATE_KEY: vapidKeysOf(ecdh.getPrivateKey()).privateKey, PUSH_ALLOW_HTTP: 'true', PUSH_ALLOW_PRIVATE: 'true' };
}

/** A Web Push subscription body for PUT /users/me/devices/{id}/push, with a fresh browser key. */
export const webPushSubscription = (endpoint: string) => ({
  kind: 'webpush',
  endpoint,
  keys: { p256dh: createECDH('prime256v1').generateKeys().toString('base64url'), auth: Buffer.alloc(16, 7).toString('base64url') },
});

// ---------------------------------------------------------------------------------------------------
// /metrics.

/** A counter's value per label set (none before its first inc: prom-client prints no labelled line until then). */
export async function metricSum(agent: Agent | false, port: number, name: string): Promise<Record<string, number>> {
  const r = await call(agent, port, 'GET', '/metrics');
  const out: Record<string, number> = {};
  for (const l of r.body.split('\n')) {
    const m = new RegExp(`^${name}(?:\\{(.*)\\})? (\\S+)$`).exec(l);
    if (m) out[m[1] ?? ''] = Number(m[2]);
  }
  return out;
}

/** An unlabelled metric's value; stops the bench when /metrics has none. */
export async function metric(agent: Agent | false, port: number, name: string): Promise<number> {
  const value = (await metricSum(agent, port, name))[''];
  if (value === undefined) throw new Error(`metric ${name} not found`);
  return value;
}

/** Waits until the server holds at least (or, with `exactly`, exactly) `n` polls; bounded. */
export async function waitHeld(agent: Agent | false, port: number, n: number, opts: { exactly?: boolean; timeoutMs?: number; pauseMs?: number } = {}): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    const held = await metric(agent, port, 'signalbox_held_polls');
    if (opts.exactly ? held === n : held >= n) return;
    if (Date.now() > deadline) throw new Error(`held polls: ${held}, waited for ${opts.exactly ? '' : 'at least '}${n}`);
    await sleep(opts.pauseMs ?? 100);
  }
}

// ---------------------------------------------------------------------------------------------------
// The server in this process.

export const listen = (server: Server) =>
  new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });

export interface InProcessServer {
  app: SignalboxApp;
  config: Config;
  store: Store;
  server: Server;
  port: number;
  /** http://127.0.0.1:<port> */
  base: string;
  dataDir: string;
  /** The SQLite file in dataDir. */
  dbFile: string;
  stop(): Promise<void>;
}

/**
 * The app as `npm start` builds it (createApp with parseConfig, its background work started, the store
 * SQLite on disk in a temp DATA_DIR, main.ts's HTTP timeouts) on 127.0.0.1, with `env` on top. The hasher is
 * BENCH_ARGON2's unless `hasher: 'production'`. Log lines go to /dev/null at LOG_LEVEL info (written, as
 * in production, but not shown) and to stderr above it (`silent` by default). `dataDir`: the caller's, kept at stop.
 */
export async function startInProcess(opts: { env?: Env; hasher?: 'production' | 'bench'; dataDir?: string; processMetrics?: boolean } = {}): Promise<InProcessServer> {
  const owned = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'signalbox-bench-'));
  const config = parseConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...opts.env }, BENCH_SECRETS);
  const quiet = config.logLevel === 'info' || config.logLevel === 'debug' || config.logLevel === 'trace';
  const logger = pino({ level: config.logLevel, base: { service: 'signalbox' } }, pino.destination(quiet ? '/dev/null' : 2));
  const store = await openStore(config);
  const app = createApp({
    config,
    store,
    logger,
    ...(opts.hasher === 'production' ? {} : { hasher: new PasswordHasher(BENCH_ARGON2) }),
    ...(opts.processMetrics ? { processMetrics: true } : {}),
  });
  const stopBackground = app.lifecycle.start();
  const server = createServer(app.handler);
  server.requestTimeout = 60_000; // as main.ts: above the longest hold (30 s)
  server.headersTimeout = 15_000;
  server.keepAliveTimeout = 65_000;
  const port = await listen(server);
  let stopped: Promise<void> | undefined;
  return {
    app,
    config,
    store,
    server,
    port,
    base: `http://127.0.0.1:${port}`,
    dataDir,
    dbFile: sqliteFile(config),
    stop: () =>
      (stopped ??= (async () => {
        app.lifecycle.releasePolls();
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
        await stopBackground();
        await store.close();
        if (owned) rmSync(dataDir, { recursive: true, force: true });
      })()),
  };
}

// ---------------------------------------------------------------------------------------------------
// The server in its own process: bench/signalingServer.ts, pinned to CPU 0 while the driver runs on CPU 1.

const PINNED_ENV = 'SIGNALBOX_BENCH_PINNED';

/** Re-runs this bench under `taskset -c 1` unless it is there already; false (unpinned) with fewer than 2 CPUs. */
export function pinSelf(): boolean {
  if (cpus().length < 2) {
    console.error('warning: fewer than 2 CPUs, running unpinned');
    return false;
  }
  const list = execFileSync('taskset', ['-pc', String(process.pid)], { encoding: 'utf8' })
    .split(':')
    .pop()!
    .trim();
  if (list === '1') return true;
  if (process.env[PINNED_ENV]) throw new Error(`expected to run on CPU 1, affinity is ${list}`);
  const res = spawnSync('taskset', ['-c', '1', process.execPath, ...process.execArgv, process.argv[1]!, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, [PINNED_ENV]: '1' },
  });
  process.exit(res.status ?? 1);
}

export interface ServerProcess {
  /** The Signalbox app's port. */
  app: number;
  /** The bare Koa app's port, which also serves GET /stats. */
  bare: number;
  /** The bare node:http server's port. */
  node: number;
  /** bench/relay.ts's port: the in-memory long-poll relay. */
  relay: number;
  child: ChildProcess;
}

/** What bench/signalingServer.ts's GET /stats answers. */
export interface ServerStats {
  cpuMicros: number;
  rss: number;
  heapUsed: number;
  external: number;
  fds: number;
  loopDelayMs: { p50: number; p99: number; max: number; mean: number; count: number };
}

/** The server process's /stats, on its `bare` port; `?gc=1` runs a full GC first, `?reset=1` clears the event-loop delay histogram. */
export const serverStats = async (agent: Agent | false, barePort: number, query = '') =>
  JSON.parse((await call(agent, barePort, 'GET', `/stats${query}`)).body) as ServerStats;

/**
 * Starts bench/signalingServer.ts (next to this file) on `dataDir` with `env` (its poll caps and such), pinned
 * to CPU 0 when there are 2 CPUs, `--expose-gc` for /stats?gc=1; killed when this process exits.
 */
export async function startServerProcess(dataDir: string, env: Record<string, string> = {}, nodeFlags: string[] = []): Promise<ServerProcess> {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'signalingServer.js');
  const pin = cpus().length >= 2 ? ['taskset', '-c', '0'] : [];
  const argv = [...pin, process.execPath, '--expose-gc', ...nodeFlags, script];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env, BENCH_DATA_DIR: dataDir } });
  process.on('exit', () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start within 30 s')), 30_000);
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before it was ready`)));
    createInterface({ input: child.stdout }).once('line', (l) => {
      clearTimeout(timer);
      resolve(l);
    });
  });
  const { app, bare, node, relay } = JSON.parse(line) as { app: number; bare: number; node: number; relay: number };
  return { app, bare, node, relay, child };
}

/** SIGTERM (the server answers its held polls and closes its store), SIGKILL after 8 s. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
  await exited;
  clearTimeout(timer);
}

/**
 * On SIGINT or SIGTERM: stops the bench's current server process (`current`: a bench may have restarted it),
 * removes `dataDir`, runs `cleanup` (a database to drop) and exits 130.
 */
export function stopOnInterrupt(current: () => ChildProcess, dataDir: string, cleanup?: () => Promise<void> | undefined): void {
  const stop = () => {
    // process.exit in finally ends the bench either way: there is no caller left to hand a rejection to.
    void stopProcess(current())
      .then(() => {
        rmSync(dataDir, { recursive: true, force: true });
        return cleanup?.();
      })
      .finally(() => process.exit(130));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

// ---------------------------------------------------------------------------------------------------
// The production build in its own process.

const MAIN_JS = fileURLToPath(new URL('../app/main.js', import.meta.url));

/** A port free on 127.0.0.1 now (the kernel's pick), for a process that must be told its port. */
async function freePort(): Promise<number> {
  const probe = createServer();
  const port = await listen(probe);
  await new Promise((r) => probe.close(r));
  return port;
}

export interface BuiltServer {
  port: number;
  base: string;
  child: ChildProcess;
}

/**
 * `node dist/app/main.js` (what production runs, real argon2id) on 127.0.0.1 with a fresh DATA_DIR (removed
 * when this process exits), BENCH_SECRETS and `env`; resolves once /health answers 200, within 30 s.
 */
export async function startBuiltServer(env: Record<string, string>): Promise<BuiltServer> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'signalbox-bench-'));
  const child = spawn(process.execPath, [MAIN_JS], {
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      JWT_SECRET: BENCH_SECRETS.jwtSecret.toString('hex'),
      DATA_KEY: BENCH_SECRETS.dataKey.toString('base64'),
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  process.on('exit', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });
  const agent = new Agent({ keepAlive: false });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server on ${port} exited with ${child.exitCode}`);
    const ok = await call(agent, port, 'GET', '/health').then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return { port, base: `http://127.0.0.1:${port}`, child };
    if (Date.now() > deadline) throw new Error(`server on ${port} not ready within 30 s`);
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------------------------------
// PostgreSQL (STORE=postgres, docs/deploy.md): a fresh database on the cluster DATABASE_URL names, else on
// the private test cluster of scripts/test-postgres.sh.

async function pgQuery(url: string, sql: string): Promise<Array<Record<string, unknown>>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as Array<Record<string, unknown>>;
  } finally {
    await client.end();
  }
}

export interface BenchDatabase {
  /** The fresh database's URL, for DATABASE_URL. */
  url: string;
  /** The server's settings that bear on what a write costs, e.g. "fsync=off, synchronous_commit=off". */
  settings: string;
  /** CPU seconds used so far by the cluster's processes (the postmaster and its children); NaN when unreadable. */
  cpuSeconds(): number;
  /** Drops the database; stops the test cluster when this call started it (one already running is left alone). */
  drop(): Promise<void>;
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux
/** utime + stime of `pid` and its parent's pid, from /proc; undefined once it is gone. */
function procStat(pid: string): { cpu: number; ppid: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { cpu: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND, ppid: fields[1]! };
  } catch {
    return undefined;
  }
}

/** A database of its own (`prefix` and a random suffix) for one bench run, on DATABASE_URL's cluster or the test cluster. */
export async function freshPostgresDatabase(prefix: string): Promise<BenchDatabase> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const script = join(root, 'scripts/test-postgres.sh');
  let clusterUrl = process.env.DATABASE_URL;
  let startedCluster = false;
  if (clusterUrl === undefined) {
    // Another helper's jest run may be using the test cluster: stop it at the end only if it was not running.
    const testUrl = `postgres://postgres@127.0.0.1:${process.env.SIGNALBOX_TEST_PG_PORT ?? '25432'}/postgres`;
    const running = await pgQuery(testUrl, 'SELECT 1').then(
      () => true,
      () => false,
    );
    clusterUrl = execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
    startedCluster = !running;
  }
  const admin = clusterUrl;
  const name = `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  await pgQuery(admin, `CREATE DATABASE ${name}`);
  const url = new URL(admin);
  url.pathname = `/${name}`;
  const settings = (await pgQuery(admin, "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes') ORDER BY name"))
    .map((r) => `${String(r.name)}=${String(r.setting)}`)
    .join(', ');
  // The postmaster's pid is the first line of postmaster.pid in its data directory (readable when the cluster
  // runs as this user, or as root); elsewhere the cluster's CPU is not measured.
  const postmaster = await pgQuery(admin, 'SHOW data_directory').then(
    (rows) =>
      readFileSync(join(String(rows[0]!.data_directory), 'postmaster.pid'), 'utf8')
        .split('\n')[0]!
        .trim(),
    () => undefined,
  );
  return {
    url: url.toString(),
    settings,
    cpuSeconds: () => {
      if (postmaster === undefined) return NaN;
      let sum = procStat(postmaster)?.cpu ?? NaN;
      for (const pid of readdirSync('/proc')) {
        if (!/^\d+$/.test(pid)) continue;
        const stat = procStat(pid);
        if (stat?.ppid === postmaster) sum += stat.cpu;
      }
      return sum;
    },
    drop: async () => {
      await pgQuery(admin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
      if (startedCluster) execFileSync('bash', [script, 'stop'], { stdio: 'inherit' });
    },
  };
}
