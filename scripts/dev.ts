// `npm run dev`: the server for development on one machine, with the example app, relaxed sign-up limits,
// CORS for local origins and, when coturn's turnserver is installed, a loopback coturn with a matching
// secret. Refuses a HOST that is not loopback. Stops coturn when the server stops. See README "Quick start".
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DevModeRefused, devEnvironment, devTurnConfig, type DevTurn } from './devMode.js';

const MAIN_JS = fileURLToPath(new URL('../app/main.js', import.meta.url));
/** coturn's usual port, taken when free so a URL in notes stays the same from run to run. */
const PREFERRED_TURN_PORT = 3478;
/** The server answers /health well within this on a laptop; it bounds a start that hangs. */
const READY_TIMEOUT_MS = 30_000;
/** turnserver closes its sockets at once on SIGTERM; SIGKILL after this. */
const TURN_STOP_MS = 5_000;

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });

async function freeTurnPort(): Promise<number> {
  if (await portFree(PREFERRED_TURN_PORT)) return PREFERRED_TURN_PORT;
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** A loopback coturn from a temporary config file, or null when turnserver is not installed or TURN is configured. */
async function startTurn(): Promise<{ turn: DevTurn; child: ChildProcess; dir: string } | null> {
  if (process.env.TURN_URLS) return null; // the developer's own TURN server
  if (spawnSync('sh', ['-c', 'command -v turnserver'], { stdio: 'ignore' }).status !== 0) return null;
  const turn = { port: await freeTurnPort(), secret: randomBytes(24).toString('hex') };
  const dir = mkdtempSync(join(tmpdir(), 'signalbox-dev-coturn-'));
  const file = join(dir, 'turnserver.conf');
  writeFileSync(file, devTurnConfig(turn, dir), { mode: 0o600 });
  const child = spawn('turnserver', ['-c', file], { stdio: 'ignore' });
  return { turn, child, dir };
}

async function waitUntilReady(base: string, server: ChildProcess): Promise<boolean> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline && server.exitCode === null) {
    try {
      if ((await fetch(`${base}/health`)).ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

async function main(): Promise<void> {
  let planned;
  try {
    // Checked before anything starts: a refused HOST starts neither coturn nor the server.
    planned = devEnvironment(process.env, null);
  } catch (err) {
    if (!(err instanceof DevModeRefused)) throw err;
    process.stderr.write(`signalbox dev: ${err.message}\n`);
    process.exit(1);
  }
  const coturn = await startTurn();
  const { env, relaxed } = coturn ? devEnvironment(process.env, coturn.turn) : planned;
  // Request logs at warn unless asked for: the lines below are what a developer needs to read.
  const server = spawn(process.execPath, [MAIN_JS], { env: { LOG_LEVEL: 'warn', ...env }, stdio: 'inherit' });

  let stopping = false;
  /** Stops coturn and waits for it to let go of its ports (SIGKILL after a few seconds), then removes its files. */
  const stopTurn = async () => {
    if (!coturn) return;
    const { child, dir } = coturn;
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => child.kill('SIGKILL'), TURN_STOP_MS);
        child.once('exit', () => {
          clearTimeout(force);
          resolve();
        });
        child.kill('SIGTERM');
      });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      server.kill(signal); // the server shuts down gracefully; coturn stops once it has exited
    });
  }
  server.once('exit', (code, signal) => {
    void stopTurn().finally(() => process.exit(code ?? (signal ? 0 : 1)));
  });
  coturn?.child.once('exit', (code) => {
    if (!stopping) process.stderr.write(`signalbox dev: turnserver exited (${code}); calls cannot relay. Its log: ${coturn.dir}/turnserver.log\n`);
  });

  const host = env.HOST!.includes(':') ? `[${env.HOST}]` : env.HOST!;
  const base = `http://${host}:${env.PORT}`;
  if (!(await waitUntilReady(base, server))) return; // the server said why on stderr and exits
  const lines = [
    '',
    `Signalbox dev mode on ${base}/`,
    `  two-person call example  ${base}/examples/two-person-call/  (open it in two browsers)`,
    `  self-test                ${base}/diagnostics`,
    `  API reference            ${base}/docs`,
    coturn
      ? `  TURN                     turn:127.0.0.1:${coturn.turn.port} (coturn, secret made for this run)`
      : `  TURN                     ${process.env.TURN_URLS ? 'TURN_URLS from the environment' : 'none: install coturn (turnserver) for relayed calls'}`,
    `Relaxed for development, never for a public server: ${relaxed.join('; ')}.`,
    'Calls on one machine in Chromium: start it with --allow-loopback-in-peer-connection. Ctrl-C stops everything.',
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

void main();
