import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Agent, get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { acceptsTcp, freePort } from '../helpers/net.js';

// The built server, exactly as `npm start` and the systemd unit run it.
const MAIN_JS = fileURLToPath(new URL('../../dist/app/main.js', import.meta.url));
// Bounds on each spawn, so a hung server fails its test instead of the whole run.
const START_TIMEOUT_MS = 10_000;
const EXIT_TIMEOUT_MS = 10_000;
const EX_CONFIG = 78;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Server {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<Exit>;
}

/** Servers started by the running test; afterEach stops them. */
const running: ChildProcess[] = [];
/** Servers a describe's tests share (sharedSetup below); the file's afterAll stops them. */
const kept: ChildProcess[] = [];
const dirs: string[] = [];

beforeAll(() => {
  if (!existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} is missing: run \`npx tsc -p tsconfig.json\` first (npm test does)`);
});

function killAll(children: ChildProcess[]): Promise<void> {
  return Promise.all(
    children.splice(0).map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) {
            resolve();
            return;
          }
          child.once('close', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  ).then(() => undefined);
}

afterEach(() => killAll(running));

afterAll(async () => {
  await killAll(kept);
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh working directory for one server (removed at the end of the file). */
function workDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'signalbox-proc-'));
  dirs.push(dir);
  return dir;
}

/**
 * Starts `node dist/app/main.js` in `cwd` with only the given environment (plus PATH), so nothing
 * from the test runner's environment leaks in. `undefined` leaves a variable unset. Started in a
 * beforeAll, pass `kept` as `owner` so the server outlives the first test.
 */
function startServer(cwd: string, env: Record<string, string | undefined>, owner: ChildProcess[] = running): Server {
  const childEnv: Record<string, string> = { PATH: process.env.PATH ?? '' };
  for (const [k, v] of Object.entries<string | undefined>({ HOST: '127.0.0.1', PORT: '0', DATA_DIR: join(cwd, 'data'), ...env })) {
    if (v !== undefined) childEnv[k] = v;
  }
  const child = spawn(process.execPath, [MAIN_JS], { cwd, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  owner.push(child);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<Exit>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  return { child, stdout: () => out, stderr: () => err, exited };
}

function within<T>(promise: Promise<T>, ms: number, what: string, server: Server): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms; stderr: ${server.stderr()}; stdout: ${server.stdout()}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The base URL from the server's "listening on" log line. */
function listening(server: Server): Promise<string> {
  const found = new Promise<string>((resolve, reject) => {
    const check = () => {
      const m = /listening on (http:\/\/[^\s"]+:\d+)/.exec(server.stdout());
      if (m) {
        server.child.stdout!.off('data', check);
        resolve(m[1]!);
      }
    };
    server.child.stdout!.on('data', check);
    check();
    void server.exited.then((e) => reject(new Error(`exited (${e.code ?? e.signal}) before listening; stderr: ${server.stderr()}`)));
  });
  return within(found, START_TIMEOUT_MS, 'starting', server);
}

const exitOf = (server: Server) => within(server.exited, EXIT_TIMEOUT_MS, 'exiting', server);

/** Starts a server and waits until it listens; returns its base URL. */
async function startListening(cwd: string, env: Record<string, string | undefined> = {}, owner: ChildProcess[] = running): Promise<{ server: Server; url: string }> {
  const server = startServer(cwd, env, owner);
  return { server, url: await listening(server) };
}

/**
 * A test body that starts its own servers into `owner` and stops them when it ends, for `it.concurrent`:
 * jest runs no afterEach around a concurrent test, and one would stop the other tests' servers too.
 * Tests that each need a server of their own run side by side this way, using both cores.
 */
function withOwnServers(body: (owner: ChildProcess[]) => Promise<void>): () => Promise<void> {
  return async () => {
    const owner: ChildProcess[] = [];
    try {
      await body(owner);
    } finally {
      await killAll(owner);
    }
  };
}

async function stop(server: Server): Promise<Exit> {
  server.child.kill('SIGTERM');
  return exitOf(server);
}

/** The describes' shared setups, all started by the file's first beforeAll. */
const sharedSetups: Array<() => void> = [];

/**
 * The servers a describe's tests share. `start` runs for every describe at once, when the file begins
 * (the servers start side by side, using both cores, instead of one describe after another), and each
 * describe's beforeAll awaits its own with `ready()`.
 */
function sharedSetup<T>(start: () => Promise<T>): { ready: () => Promise<T> } {
  let started: Promise<T> | undefined;
  const ready = () => (started ??= start());
  // A failure is reported by the describe that awaits it, not as an unhandled rejection here.
  sharedSetups.push(() => void ready().catch(() => {}));
  return { ready };
}

beforeAll(() => {
  for (const begin of sharedSetups) begin();
});

const secretFiles = (dataDir: string) => ({ jwt: join(dataDir, 'jwt-secret'), key: join(dataDir, 'data-key') });
const mode = (file: string) => statSync(file).mode & 0o777;

describe('node dist/app/main.js: configuration errors', () => {
  const BAD_VALUES: Array<[string, string]> = [
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['JWT_SECRET', 'short'],
    ['DATA_KEY', 'bm90LTMyLWJ5dGVz'],
    ['METRICS_TOKEN', 'too-short'],
    ['STUN_URLS', 'https://stun.example.org'],
    ['TURN_URLS', 'turn:bad host:3478'],
    ['LOG_LEVEL', 'loud'],
    ['DATABASE_URL', 'mysql://signalbox:secret@127.0.0.1/db'],
    ['PG_POOL_MAX', '0'],
  ];
  interface Refusal {
    dir: string;
    server: Server;
    exit: Exit;
  }
  // Each refusal is its own process that exits by itself: all are started at once and awaited before the
  // tests, instead of one start after another. The JWT_SECRET one also names a free PORT, so the tests
  // below can look at what it left on disk and on that port.
  let refusals: Map<string, Refusal>;
  let portOfRefusal = 0;
  const setup = sharedSetup(async () => {
    const port = await freePort();
    const dotenvDir = workDir();
    writeFileSync(join(dotenvDir, '.env'), 'MIN_AGE=thirteen\n');
    const started = [
      ...BAD_VALUES.map(([name, value]) => {
        const dir = workDir();
        const env = name === 'JWT_SECRET' ? { JWT_SECRET: value, PORT: String(port) } : { [name]: value };
        return { key: `${name}=${value}`, dir, server: startServer(dir, env, kept) };
      }),
      { key: '.env', dir: dotenvDir, server: startServer(dotenvDir, {}, kept) },
    ];
    const exited = new Map<string, Refusal>();
    await Promise.all(started.map(async ({ key, dir, server }) => exited.set(key, { dir, server, exit: await exitOf(server) })));
    return { refusals: exited, port };
  });
  beforeAll(async () => {
    ({ refusals, port: portOfRefusal } = await setup.ready());
  }, EXIT_TIMEOUT_MS * 2);

  it.each(BAD_VALUES)('exits with code 78 and one stderr line naming %s when it is %j', (name, value) => {
    const { server, exit } = refusals.get(`${name}=${value}`)!;
    expect(exit).toEqual({ code: EX_CONFIG, signal: null });
    const lines = server.stderr().split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(name);
  });

  it('writes nothing to disk and logs no listening line before refusing a bad value', () => {
    const { dir, server, exit } = refusals.get('JWT_SECRET=short')!;
    expect(exit.code).toBe(EX_CONFIG);
    expect(server.stdout()).toBe('');
    expect(existsSync(join(dir, 'data'))).toBe(false);
  });

  it('leaves nothing listening on the configured port after refusing a bad value', async () => {
    expect(refusals.get('JWT_SECRET=short')!.exit.code).toBe(EX_CONFIG);
    expect(await acceptsTcp(portOfRefusal)).toBe(false);
  });

  it('reads a bad value from .env the same way', () => {
    const { server, exit } = refusals.get('.env')!;
    expect(exit.code).toBe(EX_CONFIG);
    expect(server.stderr().trim()).toMatch(/^[^\n]*MIN_AGE[^\n]*$/);
  });
});

// One server with the defaults (no .env, DATA_DIR unset so it is ./data), shared by the tests that only
// read from it: what it serves, where it listens, what it created on its first start.
describe('node dist/app/main.js: serving, with the defaults', () => {
  let dir = '';
  let port = 0;
  let url = '';
  let second: { server: Server; exit: Exit };
  const setup = sharedSetup(async () => {
    const dir = workDir();
    const port = await freePort();
    const { url } = await startListening(dir, { DATA_DIR: undefined, PORT: String(port) }, kept);
    // A second server on the same port, as the port-taken test below looks at it.
    const server = startServer(dir, { PORT: String(port), DATA_DIR: join(dir, 'other') }, kept);
    return { dir, port, url, second: { server, exit: await exitOf(server) } };
  });
  beforeAll(async () => {
    ({ dir, port, url, second } = await setup.ready());
  }, START_TIMEOUT_MS + EXIT_TIMEOUT_MS);

  it('logs the address it listens on and serves GET /health 200 over HTTP', async () => {
    const res = await fetch(`${url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', store: 'sqlite', version: expect.any(String), uptimeSeconds: expect.any(Number) });
  });

  it('listens on the port PORT names', async () => {
    expect(url).toBe(`http://127.0.0.1:${port}`);
    expect(await acceptsTcp(port)).toBe(true);
  });

  it('exposes process metrics as well as request metrics', async () => {
    // Other tests share this server: the /health series counts this test's request on top of theirs.
    const series = 'signalbox_http_requests_total{method="GET",route="/health",status="200"}';
    const countIn = (text: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    const before = countIn(await (await fetch(`${url}/metrics`)).text());
    await fetch(`${url}/health`);
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toContain('process_resident_memory_bytes');
    expect(text).toContain(`${series} ${before + 1}`);
  });

  it('starts without a .env file', async () => {
    expect(existsSync(join(dir, '.env'))).toBe(false);
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
  });

  it('creates DATA_DIR/jwt-secret and DATA_DIR/data-key with mode 0600 on first start', () => {
    const files = secretFiles(join(dir, 'data'));
    expect(mode(files.jwt)).toBe(0o600);
    expect(mode(files.key)).toBe(0o600);
  });

  it('creates DATA_DIR and the database readable by their owner only', () => {
    expect(mode(join(dir, 'data'))).toBe(0o700);
    expect(mode(join(dir, 'data', 'signalbox.db'))).toBe(0o600);
  });

  it('puts DATA_DIR in ./data of the working directory by default', () => {
    expect(existsSync(join(dir, 'data', 'jwt-secret'))).toBe(true);
    expect(existsSync(join(dir, 'data', 'data-key'))).toBe(true);
  });

  it('exits 1 with one stderr line when the port is already taken', () => {
    expect(second.exit.code).toBe(1);
    const lines = second.server.stderr().split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('EADDRINUSE');
  });
});

describe('node dist/app/main.js: serving', () => {
  it.concurrent(
    'logs a URL that works when HOST is an IPv6 address',
    withOwnServers(async (owner) => {
      const { url } = await startListening(workDir(), { HOST: '::1' }, owner);
      expect(url).toMatch(/^http:\/\/\[::1\]:\d+$/);
      expect((await fetch(`${url}/health`)).status).toBe(200);
    }),
  );

  it.concurrent(
    'exits 1 with one stderr line, naming the database but not its password, when STORE=postgres cannot reach it',
    withOwnServers(async (owner) => {
      const dir = workDir();
      // Nothing listens on port 1 of loopback: connection refused.
      const server = startServer(dir, { STORE: 'postgres', DATABASE_URL: 'postgres://signalbox:hunter2-secret@127.0.0.1:1/signalbox' }, owner);
      expect((await exitOf(server)).code).toBe(1);
      const lines = server.stderr().split('\n').filter(Boolean);
      expect(lines).toEqual(['signalbox: failed to start: cannot open the PostgreSQL database at 127.0.0.1:1/signalbox (connect ECONNREFUSED 127.0.0.1:1)']);
      expect(server.stdout()).not.toContain('hunter2-secret');
    }),
  );
});

// One installation started, used, stopped and started again; then its data key damaged for a third start.
describe('node dist/app/main.js: generated secrets across a restart', () => {
  let dir = '';
  let firstExit: Exit;
  let secretsBefore: { jwt: Buffer; key: Buffer };
  let accessToken = '';
  let second: { server: Server; url: string };
  const setup = sharedSetup(async () => {
    const dir = workDir();
    const files = secretFiles(join(dir, 'data'));
    const first = await startListening(dir, {}, kept);
    const secretsBefore = { jwt: readFileSync(files.jwt), key: readFileSync(files.key) };
    const reg = await fetch(`${first.url}/auth/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'restart_user', email: 'restart@example.org', password: 'correct horse battery' }),
    });
    if (reg.status !== 201) throw new Error(`registering answered ${reg.status}: ${await reg.text()}`);
    const { accessToken } = (await reg.json()) as { accessToken: string };
    const firstExit = await stop(first.server);
    const second = await startListening(dir, {}, kept);
    return { dir, secretsBefore, accessToken, firstExit, second };
  });
  beforeAll(
    async () => {
      ({ dir, secretsBefore, accessToken, firstExit, second } = await setup.ready());
    },
    START_TIMEOUT_MS * 2 + EXIT_TIMEOUT_MS,
  );

  it('reuses both secrets byte for byte on a second start', () => {
    expect(firstExit.code).toBe(0);
    const files = secretFiles(join(dir, 'data'));
    expect(readFileSync(files.jwt).equals(secretsBefore.jwt)).toBe(true);
    expect(readFileSync(files.key).equals(secretsBefore.key)).toBe(true);
  });

  it('keeps access tokens and encrypted e-mail addresses valid across a restart', async () => {
    const me = await fetch(`${second.url}/users/me`, { headers: { Authorization: `Bearer ${accessToken}` } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { user: { email: string } }).user.email).toBe('restart@example.org');
  });

  // Last in this describe: it stops the second server and damages the installation.
  it('refuses to start with code 78 naming DATA_KEY when DATA_DIR/data-key is damaged', async () => {
    await stop(second.server);
    writeFileSync(secretFiles(join(dir, 'data')).key, 'c2hvcnQ=\n');
    const third = startServer(dir, {});
    expect((await exitOf(third)).code).toBe(EX_CONFIG);
    expect(third.stderr().split('\n').filter(Boolean)).toEqual([expect.stringContaining('DATA_KEY')]);
  });
});

describe('node dist/app/main.js: settings from the environment and .env', () => {
  const fileToken = 'token-from-dotenv-file-0001';
  const envToken = 'token-from-environment-0002';
  const metricsWith = (url: string, token: string) => fetch(`${url}/metrics`, { headers: { Authorization: `Bearer ${token}` } });

  it.concurrent(
    'generates no secret files when JWT_SECRET and DATA_KEY are set',
    withOwnServers(async (owner) => {
      const dir = workDir();
      await startListening(dir, { JWT_SECRET: 'j'.repeat(32), DATA_KEY: Buffer.alloc(32, 1).toString('base64') }, owner);
      const files = secretFiles(join(dir, 'data'));
      expect(existsSync(files.jwt)).toBe(false);
      expect(existsSync(files.key)).toBe(false);
    }),
  );

  it.concurrent(
    'reads variables from .env in the working directory',
    withOwnServers(async (owner) => {
      const dir = workDir();
      writeFileSync(join(dir, '.env'), `# operator settings\nMETRICS_TOKEN=${fileToken}\n`);
      const { url } = await startListening(dir, {}, owner);
      expect((await fetch(`${url}/metrics`)).status).toBe(401);
      expect((await metricsWith(url, fileToken)).status).toBe(200);
    }),
  );

  it.concurrent(
    'lets the process environment win over .env',
    withOwnServers(async (owner) => {
      const dir = workDir();
      writeFileSync(join(dir, '.env'), `METRICS_TOKEN=${fileToken}\n`);
      const { url } = await startListening(dir, { METRICS_TOKEN: envToken }, owner);
      expect((await metricsWith(url, envToken)).status).toBe(200);
      expect((await metricsWith(url, fileToken)).status).toBe(401);
    }),
  );
});

// One server on a known port stopped with SIGTERM, looked at by each test.
describe('node dist/app/main.js: SIGTERM', () => {
  let port = 0;
  let server: Server;
  let exit: Exit;
  const setup = sharedSetup(async () => {
    // PORT=0: the port the OS gives it, read from its log line (a port found free beforehand can be taken by
    // another test's server before this one binds it).
    const { server, url } = await startListening(workDir(), {}, kept);
    return { port: Number(new URL(url).port), server, exit: await stop(server) };
  });
  beforeAll(async () => {
    ({ port, server, exit } = await setup.ready());
  }, START_TIMEOUT_MS + EXIT_TIMEOUT_MS);

  it('exits 0 on SIGTERM', () => {
    expect(exit).toEqual({ code: 0, signal: null });
  });

  it('stops accepting connections once it has exited on SIGTERM', async () => {
    expect(await acceptsTcp(port)).toBe(false);
  });

  it('logs the shutdown', () => {
    expect(server.stdout()).toMatch(/"signal":"SIGTERM".*"msg":"shutting down"/);
  });
});

describe('node dist/app/main.js: signals', () => {
  it.concurrent(
    'exits 0 on SIGINT',
    withOwnServers(async (owner) => {
      const { server } = await startListening(workDir(), {}, owner);
      server.child.kill('SIGINT');
      expect(await exitOf(server)).toEqual({ code: 0, signal: null });
    }),
  );

  it.concurrent(
    'exits 0 on SIGTERM while a client holds an idle keep-alive connection',
    withOwnServers(async (owner) => {
      const { server, url } = await startListening(workDir(), {}, owner);
      const agent = new Agent({ keepAlive: true });
      try {
        const status = await new Promise<number>((resolve, reject) => {
          httpGet(`${url}/health`, { agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          }).on('error', reject);
        });
        expect(status).toBe(200);
        expect(await stop(server)).toEqual({ code: 0, signal: null });
      } finally {
        agent.destroy();
      }
    }),
  );

  const post = (url: string, path: string, body: unknown, token?: string) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, body: (await r.json().catch(() => null)) as Record<string, unknown> | null }));

  it.concurrent(
    'answers a held poll (empty, 200) on SIGTERM and then exits 0',
    withOwnServers(async (owner) => {
      const { server, url } = await startListening(workDir(), {}, owner);
      const tokens: string[] = [];
      for (const name of ['alice_p', 'bob_p']) {
        const res = await post(url, '/auth/register', { username: name, email: `${name}@example.org`, password: 'correct horse battery' });
        expect(res.status).toBe(201);
        tokens.push(res.body!.accessToken as string);
      }
      expect((await post(url, '/connections/request', { username: 'bob_p' }, tokens[0])).status).toBe(201);
      expect((await post(url, '/connections/respond', { username: 'alice_p', action: 'accept' }, tokens[1])).status).toBe(200);
      // The request left a connection.requested event in bob's mailbox; drop it so the poll holds.
      expect((await fetch(`${url}/signaling/clear`, { method: 'DELETE', headers: { authorization: `Bearer ${tokens[1]}` } })).status).toBe(204);
      const held = fetch(`${url}/signaling/poll?wait=30`, { headers: { authorization: `Bearer ${tokens[1]}` } });
      while (!(await (await fetch(`${url}/metrics`)).text()).includes('signalbox_held_polls 1')) await new Promise((r) => setTimeout(r, 20));
      server.child.kill('SIGTERM');
      const answer = await within(held, EXIT_TIMEOUT_MS, 'the held poll answering', server);
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as { signals: unknown[] }).signals).toEqual([]);
      expect(await exitOf(server)).toEqual({ code: 0, signal: null });
    }),
  );
});
