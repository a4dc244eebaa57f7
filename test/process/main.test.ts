import { afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Agent, get as httpGet } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/net.js';

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

const running: ChildProcess[] = [];
const dirs: string[] = [];

beforeAll(() => {
  if (!existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} is missing: run \`npx tsc -p tsconfig.json\` first (npm test does)`);
});

afterEach(async () => {
  await Promise.all(
    running.splice(0).map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('close', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh working directory for one server. */
function workDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'signalbox-proc-'));
  dirs.push(dir);
  return dir;
}

/**
 * Starts `node dist/app/main.js` in `cwd` with only the given environment (plus PATH), so nothing
 * from the test runner's environment leaks in. `undefined` leaves a variable unset.
 */
function startServer(cwd: string, env: Record<string, string | undefined>): Server {
  const childEnv: Record<string, string> = { PATH: process.env.PATH ?? '' };
  for (const [k, v] of Object.entries({ HOST: '127.0.0.1', PORT: '0', DATA_DIR: join(cwd, 'data'), ...env })) {
    if (v !== undefined) childEnv[k] = v;
  }
  const child = spawn(process.execPath, [MAIN_JS], { cwd, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(child);
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
async function startListening(cwd: string, env: Record<string, string | undefined> = {}): Promise<{ server: Server; url: string }> {
  const server = startServer(cwd, env);
  return { server, url: await listening(server) };
}

async function stop(server: Server): Promise<Exit> {
  server.child.kill('SIGTERM');
  return exitOf(server);
}

/** Whether anything accepts TCP connections on the port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

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
  // Each refusal is its own process that exits by itself: all are started at once and awaited before the
  // tests (so afterEach finds none running), instead of one ~1 s start after another.
  const refusals = new Map<string, { server: Server; exit: Exit }>();
  beforeAll(async () => {
    const started = BAD_VALUES.map(([name, value]) => ({ key: `${name}=${value}`, server: startServer(workDir(), { [name]: value }) }));
    for (const { key, server } of started) refusals.set(key, { server, exit: await exitOf(server) });
  }, EXIT_TIMEOUT_MS * 2);

  it.each(BAD_VALUES)('exits with code 78 and one stderr line naming %s when it is %j', (name, value) => {
    const { server, exit } = refusals.get(`${name}=${value}`)!;
    expect(exit).toEqual({ code: EX_CONFIG, signal: null });
    const lines = server.stderr().split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(name);
  });

  it('writes nothing to disk and logs no listening line before refusing a bad value', async () => {
    const dir = workDir();
    const server = startServer(dir, { JWT_SECRET: 'short' });
    expect((await exitOf(server)).code).toBe(EX_CONFIG);
    expect(server.stdout()).toBe('');
    expect(existsSync(join(dir, 'data'))).toBe(false);
  });

  it('leaves nothing listening on the configured port after refusing a bad value', async () => {
    const dir = workDir();
    const port = await freePort();
    const server = startServer(dir, { PORT: String(port), JWT_SECRET: 'short' });
    expect((await exitOf(server)).code).toBe(EX_CONFIG);
    expect(await accepts(port)).toBe(false);
  });

  it('reads a bad value from .env the same way', async () => {
    const dir = workDir();
    writeFileSync(join(dir, '.env'), 'MIN_AGE=thirteen\n');
    const server = startServer(dir, {});
    expect((await exitOf(server)).code).toBe(EX_CONFIG);
    expect(server.stderr().trim()).toMatch(/^[^\n]*MIN_AGE[^\n]*$/);
  });
});

describe('node dist/app/main.js: serving', () => {
  it('logs the address it listens on and serves GET /health 200 over HTTP', async () => {
    const { url } = await startListening(workDir());
    const res = await fetch(`${url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', store: 'sqlite', version: expect.any(String), uptimeSeconds: expect.any(Number) });
  });

  it('listens on the port PORT names', async () => {
    const port = await freePort();
    const { url } = await startListening(workDir(), { PORT: String(port) });
    expect(url).toBe(`http://127.0.0.1:${port}`);
    expect(await accepts(port)).toBe(true);
  });

  it('logs a URL that works when HOST is an IPv6 address', async () => {
    const { url } = await startListening(workDir(), { HOST: '::1' });
    expect(url).toMatch(/^http:\/\/\[::1\]:\d+$/);
    expect((await fetch(`${url}/health`)).status).toBe(200);
  });

  it('exits 1 with one stderr line when the port is already taken', async () => {
    const dir = workDir();
    const first = await startListening(dir);
    const port = new URL(first.url).port;
    const second = startServer(dir, { PORT: port, DATA_DIR: join(dir, 'other') });
    expect((await exitOf(second)).code).toBe(1);
    const lines = second.stderr().split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('EADDRINUSE');
  });

  it('exits 1 with one stderr line, naming the database but not its password, when STORE=postgres cannot reach it', async () => {
    const dir = workDir();
    // Nothing listens on port 1 of loopback: connection refused.
    const server = startServer(dir, { STORE: 'postgres', DATABASE_URL: 'postgres://signalbox:hunter2-secret@127.0.0.1:1/signalbox' });
    expect((await exitOf(server)).code).toBe(1);
    const lines = server.stderr().split('\n').filter(Boolean);
    expect(lines).toEqual(['signalbox: failed to start: cannot open the PostgreSQL database at 127.0.0.1:1/signalbox (connect ECONNREFUSED 127.0.0.1:1)']);
    expect(server.stdout()).not.toContain('hunter2-secret');
  });

  it('exposes process metrics as well as request metrics', async () => {
    const { url } = await startListening(workDir());
    await fetch(`${url}/health`);
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toContain('process_resident_memory_bytes');
    expect(text).toContain('signalbox_http_requests_total{method="GET",route="/health",status="200"} 1');
  });
});

describe('node dist/app/main.js: generated secrets', () => {
  it('creates DATA_DIR/jwt-secret and DATA_DIR/data-key with mode 0600 on first start', async () => {
    const dir = workDir();
    await startListening(dir);
    const files = secretFiles(join(dir, 'data'));
    expect(mode(files.jwt)).toBe(0o600);
    expect(mode(files.key)).toBe(0o600);
  });

  it('creates DATA_DIR and the database readable by their owner only', async () => {
    const dir = workDir();
    await startListening(dir);
    expect(mode(join(dir, 'data'))).toBe(0o700);
    expect(mode(join(dir, 'data', 'signalbox.db'))).toBe(0o600);
  });

  it('puts DATA_DIR in ./data of the working directory by default', async () => {
    const dir = workDir();
    await startListening(dir, { DATA_DIR: undefined });
    expect(existsSync(join(dir, 'data', 'jwt-secret'))).toBe(true);
    expect(existsSync(join(dir, 'data', 'data-key'))).toBe(true);
  });

  it('reuses both secrets byte for byte on a second start', async () => {
    const dir = workDir();
    const files = secretFiles(join(dir, 'data'));
    const first = await startListening(dir);
    const before = { jwt: readFileSync(files.jwt), key: readFileSync(files.key) };
    expect((await stop(first.server)).code).toBe(0);
    await startListening(dir);
    expect(readFileSync(files.jwt).equals(before.jwt)).toBe(true);
    expect(readFileSync(files.key).equals(before.key)).toBe(true);
  });

  it('keeps access tokens and encrypted e-mail addresses valid across a restart', async () => {
    const dir = workDir();
    const first = await startListening(dir);
    const reg = await fetch(`${first.url}/auth/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'restart_user', email: 'restart@example.org', password: 'correct horse battery' }),
    });
    expect(reg.status).toBe(201);
    const { accessToken } = (await reg.json()) as { accessToken: string };
    await stop(first.server);
    const second = await startListening(dir);
    const me = await fetch(`${second.url}/users/me`, { headers: { Authorization: `Bearer ${accessToken}` } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { user: { email: string } }).user.email).toBe('restart@example.org');
  });

  it('refuses to start with code 78 naming DATA_KEY when DATA_DIR/data-key is damaged', async () => {
    const dir = workDir();
    const first = await startListening(dir);
    await stop(first.server);
    writeFileSync(secretFiles(join(dir, 'data')).key, 'c2hvcnQ=\n');
    const second = startServer(dir, {});
    expect((await exitOf(second)).code).toBe(EX_CONFIG);
    expect(second.stderr().split('\n').filter(Boolean)).toEqual([expect.stringContaining('DATA_KEY')]);
  });

  it('generates no secret files when JWT_SECRET and DATA_KEY are set', async () => {
    const dir = workDir();
    await startListening(dir, { JWT_SECRET: 'j'.repeat(32), DATA_KEY: Buffer.alloc(32, 1).toString('base64') });
    const files = secretFiles(join(dir, 'data'));
    expect(existsSync(files.jwt)).toBe(false);
    expect(existsSync(files.key)).toBe(false);
  });
});

describe('node dist/app/main.js: .env', () => {
  const fileToken = 'token-from-dotenv-file-0001';
  const envToken = 'token-from-environment-0002';
  const metricsWith = (url: string, token: string) => fetch(`${url}/metrics`, { headers: { Authorization: `Bearer ${token}` } });

  it('reads variables from .env in the working directory', async () => {
    const dir = workDir();
    writeFileSync(join(dir, '.env'), `# operator settings\nMETRICS_TOKEN=${fileToken}\n`);
    const { url } = await startListening(dir);
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    expect((await metricsWith(url, fileToken)).status).toBe(200);
  });

  it('lets the process environment win over .env', async () => {
    const dir = workDir();
    writeFileSync(join(dir, '.env'), `METRICS_TOKEN=${fileToken}\n`);
    const { url } = await startListening(dir, { METRICS_TOKEN: envToken });
    expect((await metricsWith(url, envToken)).status).toBe(200);
    expect((await metricsWith(url, fileToken)).status).toBe(401);
  });

  it('starts without a .env file', async () => {
    const dir = workDir();
    expect(existsSync(join(dir, '.env'))).toBe(false);
    const { url } = await startListening(dir);
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
  });
});

describe('node dist/app/main.js: signals', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('exits 0 on %s', async (signal) => {
    const { server } = await startListening(workDir());
    server.child.kill(signal);
    expect(await exitOf(server)).toEqual({ code: 0, signal: null });
  });

  it('exits 0 on SIGTERM while a client holds an idle keep-alive connection', async () => {
    const { server, url } = await startListening(workDir());
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
  });

  it('stops accepting connections once it has exited on SIGTERM', async () => {
    const port = await freePort();
    const { server } = await startListening(workDir(), { PORT: String(port) });
    await stop(server);
    expect(await accepts(port)).toBe(false);
  });

  it('logs the shutdown', async () => {
    const { server } = await startListening(workDir());
    await stop(server);
    expect(server.stdout()).toMatch(/"signal":"SIGTERM".*"msg":"shutting down"/);
  });
});

describe('shutdown with held long-polls', () => {
  const post = (url: string, path: string, body: unknown, token?: string) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, body: (await r.json().catch(() => null)) as Record<string, unknown> | null }));

  it('answers a held poll (empty, 200) on SIGTERM and then exits 0', async () => {
    const { server, url } = await startListening(workDir());
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
  });
});
