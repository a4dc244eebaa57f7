import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RATE_LIMIT_VARIABLES } from '../../../app/config/environment.js';
import { freePort } from '../../helpers/net.js';
import { writeTestSecrets } from '../../helpers/run.js';

// The real built server (`node dist/app/main.js`, what `npm start` and the systemd unit run) as a child
// process on 127.0.0.1, for the reliability suite: killed with SIGKILL, stopped with SIGTERM and
// restarted on the same DATA_DIR and port, so clients reconnect to the same address.

/** The server `tsc -p tsconfig.json` emits (npm run test:system builds it first). */
export const MAIN_JS = fileURLToPath(new URL('../../../dist/app/main.js', import.meta.url));
/** Bound on a start (until GET /health answers 200), so a hung server fails its test, not the run. */
export const START_TIMEOUT_MS = 15_000;
/** Only the end of the output is kept: a long run logs a lot, and only the end explains a failure. */
const OUTPUT_TAIL_CHARS = 64 * 1024;
const READY_RETRY_MS = 25;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  child: ChildProcess;
  /** `http://127.0.0.1:<port>`. */
  url: string;
  port: number;
  dataDir: string;
  /** The end (at least OUTPUT_TAIL_CHARS, when there is that much) of stdout / stderr. */
  stdout(): string;
  stderr(): string;
  /** Settles when the process has exited and its pipes are closed. */
  exited: Promise<Exit>;
}

export interface StartOptions {
  /** The DATA_DIR to use (and reuse across restarts); see `makeDataDir`. */
  dataDir: string;
  /** The port to listen on; a free one when absent. Pass the previous one to restart on the same address. */
  port?: number;
  /** More environment (e.g. MAILBOX_MAX; LOG_LEVEL is info unless set: a line per request); `undefined` leaves a variable unset. */
  env?: Record<string, string | undefined>;
  /** Called with every whole line the server writes to stdout (its pino log), where the kept tail is not enough. */
  onLogLine?: (line: string) => void;
}

/** Rate limits are off: the suite sends tens of thousands of signals from a few users on one address. */
const RATE_LIMITS_OFF = Object.fromEntries(RATE_LIMIT_VARIABLES.map((name) => [name, 'off']));

const running = new Set<ChildProcess>();
/** Every server started, for the report a failed test appends (withServerReport). */
const started: ServerProcess[] = [];
const dirs = new Set<string>();

/**
 * A fresh DATA_DIR holding the test secrets (test/helpers/app.ts TEST_SECRETS) as the server would have
 * generated them, so an in-process app seeding it (seedServer.ts) and the spawned server sign and read
 * alike. Removed by `cleanUp`.
 */
export function makeDataDir(prefix = 'signalbox-reliability-'): string {
  const root = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(root);
  const dataDir = join(root, 'data');
  mkdirSync(dataDir, { mode: 0o700 });
  writeTestSecrets(dataDir);
  return dataDir;
}

// Cut only at twice the size: slicing on every chunk of a busy log would copy the tail each time.
function tail(text: string): string {
  return text.length > 2 * OUTPUT_TAIL_CHARS ? text.slice(-OUTPUT_TAIL_CHARS) : text;
}

/** Whether GET /health answers 200 now. */
async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/**
 * Spawns `node dist/app/main.js` with only the given environment (plus PATH) and waits until it logged
 * that it listens on its port and GET /health answers 200; rejects (and kills it) when it exits first
 * or takes over START_TIMEOUT_MS. The log line matters: a port given back by freePort (or freed by the
 * previous server) can be taken by another process meanwhile, whose /health would answer for ours,
 * while ours exits with EADDRINUSE. With LOG_LEVEL above info (no such line) only /health is waited for.
 */
export async function startServer(options: StartOptions): Promise<ServerProcess> {
  if (!existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} is missing: run \`npx tsc -p tsconfig.json\` first (npm run test:system does)`);
  const port = options.port ?? (await freePort());
  const env: Record<string, string> = { PATH: process.env.PATH ?? '' };
  // options.env may unset a default with undefined; spreading it into a literal would hide that from the type.
  const wanted: Record<string, string | undefined> = {
    HOST: '127.0.0.1',
    PORT: String(port),
    DATA_DIR: options.dataDir,
    LOG_LEVEL: 'info',
    ...RATE_LIMITS_OFF,
    ...options.env,
  };
  for (const [k, v] of Object.entries(wanted)) if (v !== undefined) env[k] = v;
  const child = spawn(process.execPath, [MAIN_JS], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  let err = '';
  let partial = '';
  const listeningLine = `signalbox listening on http://127.0.0.1:${port}"`;
  let listening = !['trace', 'debug', 'info'].includes(wanted.LOG_LEVEL ?? 'info');
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    out = tail(out + s);
    const lines = (partial + s).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (!listening && line.includes(listeningLine)) listening = true;
      if (line && options.onLogLine) options.onLogLine(line);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err = tail(err + s)));
  const exited = new Promise<Exit>((resolve) =>
    child.once('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  const server: ServerProcess = { child, url: `http://127.0.0.1:${port}`, port, dataDir: options.dataDir, stdout: () => out, stderr: () => err, exited };
  started.push(server);
  // Set by the exit callback: the cast keeps TypeScript from narrowing it to null in the loop.
  let gone = null as Exit | null;
  void exited.then((e) => (gone = e));
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (gone) throw new Error(`server exited (${JSON.stringify(gone)}) before it was ready; stderr: ${err}; stdout: ${out}`);
    if (listening && (await healthy(server.url))) return server;
    if (Date.now() > deadline) {
      await killHard(server);
      throw new Error(`server not ready within ${START_TIMEOUT_MS} ms; stderr: ${err}; stdout: ${out}`);
    }
    await new Promise((r) => setTimeout(r, READY_RETRY_MS));
  }
}

/** SIGKILL (kill -9): no handler runs, nothing is flushed by the process; resolves once it is gone. */
export async function killHard(server: ServerProcess): Promise<Exit> {
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
  return server.exited;
}

/**
 * Sends SIGTERM and waits up to `boundMs` for the exit; resolves with the exit and how long it took, or
 * rejects (after a SIGKILL) when the bound passes.
 */
export async function stopGracefully(server: ServerProcess, boundMs: number): Promise<Exit & { ms: number }> {
  const began = performance.now();
  server.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      server.child.kill('SIGKILL');
      reject(new Error(`no exit within ${boundMs} ms of SIGTERM; stderr: ${server.stderr()}`));
    }, boundMs);
  });
  try {
    const exit = await Promise.race([server.exited, late]);
    return { ...exit, ms: performance.now() - began };
  } finally {
    clearTimeout(timer);
  }
}

/** Each server started so far: pid, port, how it exited (or that it runs), and the end of its stderr. */
export function serverReport(): string {
  return started
    .map((s) => {
      const state = s.child.exitCode !== null || s.child.signalCode !== null ? `exited ${s.child.exitCode ?? s.child.signalCode}` : 'running';
      return `server pid ${s.child.pid} on port ${s.port}: ${state}; stderr: ${s.stderr().slice(-2000) || '(none)'}`;
    })
    .join('\n');
}

/** Runs `fn`; when it throws, the error also carries serverReport(), since a dead server explains a refused request. */
export async function withServerReport<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof Error) err.message += `\n${serverReport()}`;
    throw err;
  }
}

/** Kills every server this module started that still runs and removes every DATA_DIR it made: call in afterAll. */
export async function cleanUp(): Promise<void> {
  await Promise.all(
    [...running].map(
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
  );
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}
