import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acceptsTcp, freePort } from '../../helpers/net.js';

// A real coturn for the browser tests, on loopback only: it listens on 127.0.0.1, relays from
// 127.0.0.1 and lets peers on loopback talk (allow-loopback-peers), with TURN REST credentials
// (use-auth-secret) as docs/deploy.md sets it up. Nothing leaves the machine.

/** turnserver accepts TCP well under a second; this bounds a broken start. */
const START_TIMEOUT_MS = 10_000;
/** After SIGTERM turnserver closes its sockets at once; SIGKILL is the fallback. */
const STOP_TIMEOUT_MS = 5_000;

export interface Coturn {
  port: number;
  secret: string;
  realm: string;
  /** What TURN_URLS should say for this server. */
  url: string;
  /** turnserver's log so far, for the reason behind a refusal. */
  log(): string;
  stop(): Promise<void>;
}

/** Starts turnserver on a free loopback port with a fresh random secret; resolves once it accepts TCP. */
export async function startCoturn(options: { secret?: string; port?: number } = {}): Promise<Coturn> {
  if (spawnSync('sh', ['-c', 'command -v turnserver']).status !== 0) {
    throw new Error('turnserver is missing: apt-get install -y coturn (.ci/run does this)');
  }
  const dir = mkdtempSync(join(tmpdir(), 'signalbox-coturn-'));
  const port = options.port ?? (await freePort()); // free for TCP; turnserver takes UDP and TCP on it
  const secret = options.secret ?? randomBytes(24).toString('hex');
  const realm = 'signalbox.test';
  const logFile = join(dir, 'turnserver.log');
  let output = '';
  const child: ChildProcess = spawn(
    'turnserver',
    [
      '-n', // no config file: everything is on this command line
      '--listening-ip=127.0.0.1',
      '--relay-ip=127.0.0.1',
      `--listening-port=${port}`,
      '--use-auth-secret',
      `--static-auth-secret=${secret}`,
      `--realm=${realm}`,
      '--no-tls',
      '--no-dtls',
      '--allow-loopback-peers',
      '--no-cli',
      '--simple-log',
      // Throwaway pid/log/db files, so it runs as any user without touching /var.
      `--pidfile=${join(dir, 'turnserver.pid')}`,
      `--log-file=${logFile}`,
      `--userdb=${join(dir, 'turndb')}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (output += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (output += s));
  const log = () => {
    let file = '';
    try {
      file = readFileSync(logFile, 'utf8');
    } catch {
      // not written yet
    }
    return output + file;
  };

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        child.once('close', () => {
          clearTimeout(force);
          resolve();
        });
        child.kill('SIGTERM');
      });
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`turnserver exited with ${child.exitCode}: ${log()}`);
    }
    if (await acceptsTcp(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`turnserver did not listen on ${port} within ${START_TIMEOUT_MS} ms: ${log()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port, secret, realm, url: `turn:127.0.0.1:${port}?transport=udp`, log, stop };
}
