import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { bearer, registerUser, type TestUser } from '../helpers/factories.js';
import { acceptsTcp, freePort } from '../helpers/net.js';
import { run } from '../helpers/run.js';

// A real coturn (Debian's `coturn` package, installed by .ci/run) on loopback with a random port and
// secret, configured for TURN REST credentials exactly as docs/deploy.md tells self-hosters. The
// credentials come from GET /signaling/ice-servers; coturn's own test client proves an Allocate with them.

const TURN_TTL = 600;
const REALM = 'signalbox.test';
/** turnserver must accept TCP within this; it normally takes well under a second. */
const START_TIMEOUT_MS = 10_000;
/** One allocation with -n 1 takes ~5 s in turnutils_uclient (it waits for its echo packets). */
const CLIENT_TIMEOUT_MS = 30_000;
/** turnutils_uclient prints this when the server answered the Allocate with an error (401 here). */
const REFUSED = 'Cannot complete Allocation';

let turnserver: ChildProcess | undefined;
let dir: string;
let port: number;
let secret: string;
let t: TestApp;
let user: TestUser;

/** Polls until turnserver accepts TCP connections; bounded, and fails fast if it exited. */
async function waitForTurnserver(output: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (turnserver!.exitCode !== null) throw new Error(`turnserver exited with ${turnserver!.exitCode}: ${output()}`);
    if (await acceptsTcp(port)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`turnserver did not listen on ${port} within ${START_TIMEOUT_MS} ms: ${output()}`);
}

function requireTool(name: string): void {
  if (spawnSync('sh', ['-c', `command -v ${name}`]).status !== 0) {
    throw new Error(`${name} is missing: apt-get install -y coturn (.ci/run does this)`);
  }
}

/** The TURN username and credential the API hands `user` right now. */
async function apiCredential(): Promise<{ username: string; credential: string }> {
  const res = await t.http.get('/signaling/ice-servers').set(bearer(user));
  expect(res.status).toBe(200);
  const turn = (res.body.iceServers as Array<{ urls: string[]; username?: string; credential?: string }>).find((s) => s.urls[0]!.startsWith('turn:'));
  return { username: turn!.username!, credential: turn!.credential! };
}

/** One Allocate through coturn's test client, with client-to-client mode (-y) and one message (-n 1). */
const allocate = (username: string, credential: string) =>
  run('turnutils_uclient', ['-L', '127.0.0.1', '-p', String(port), '-y', '-n', '1', '-u', username, '-w', credential, '127.0.0.1'], {
    timeoutMs: CLIENT_TIMEOUT_MS,
  });

beforeAll(async () => {
  requireTool('turnserver');
  requireTool('turnutils_uclient');
  dir = mkdtempSync(join(tmpdir(), 'signalbox-coturn-'));
  port = await freePort(); // free for TCP; turnserver takes UDP and TCP on it
  secret = randomBytes(24).toString('hex');
  let output = '';
  // The command line, plus throwaway pid/log/db files so it runs as any user without touching /var.
  turnserver = spawn(
    'turnserver',
    [
      '-n',
      '--listening-ip=127.0.0.1',
      '--relay-ip=127.0.0.1',
      `--listening-port=${port}`,
      '--use-auth-secret',
      `--static-auth-secret=${secret}`,
      `--realm=${REALM}`,
      '--no-tls',
      '--no-dtls',
      '--allow-loopback-peers',
      '--no-cli',
      `--pidfile=${join(dir, 'turnserver.pid')}`,
      `--log-file=${join(dir, 'turnserver.log')}`,
      `--userdb=${join(dir, 'turndb')}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  turnserver.stdout!.setEncoding('utf8').on('data', (s: string) => (output += s));
  turnserver.stderr!.setEncoding('utf8').on('data', (s: string) => (output += s));
  await waitForTurnserver(() => output);

  t = makeTestApp({ env: { TURN_URLS: `turn:127.0.0.1:${port}?transport=udp`, TURN_SECRET: secret, TURN_TTL: String(TURN_TTL) } });
  // coturn checks the expiry against the real time, so the app's clock starts there.
  t.clock.advance((Date.now() - t.clock.now()) / 1000);
  user = await registerUser(t);
});

afterAll(async () => {
  if (turnserver && turnserver.exitCode === null && turnserver.signalCode === null) {
    const child = turnserver;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('close', () => {
        clearTimeout(force);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the setup failed before creating it
  await t?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** turnserver's log, for the reason behind a refusal. */
const turnLog = () =>
  readdirSync(dir)
    .filter((f) => f.startsWith('turnserver'))
    .map((f) => (f.endsWith('.pid') ? '' : readFileSync(join(dir, f), 'utf8')))
    .join('');

describe('coturn with the credentials of GET /signaling/ice-servers', () => {
  it('allocates a relay with the credential the API hands out', async () => {
    const { username, credential } = await apiCredential();
    const res = await allocate(username, credential);
    expect({ code: res.code, refused: res.stdout.includes(REFUSED) }).toEqual({ code: 0, refused: false });
  });

  it('refuses a forged credential for the same username', async () => {
    const { username } = await apiCredential();
    const forged = createHmac('sha1', 'not-the-shared-secret').update(username).digest('base64');
    const res = await allocate(username, forged);
    expect(res.code).not.toBe(0);
    // Refused by the server, not merely unreachable: uclient got an error answer to its Allocate.
    expect(res.stdout + res.stderr).toContain(REFUSED);
  });

  it('refuses a credential from the API once its username has expired', async () => {
    // Minted "TURN_TTL + 2 min ago": a genuine HMAC from the API whose expiry is already in the past.
    t.clock.advance(-(TURN_TTL + 120));
    let expired: { username: string; credential: string };
    try {
      expired = await apiCredential();
    } finally {
      t.clock.advance(TURN_TTL + 120);
    }
    expect(Number(expired.username.split(':')[0])).toBeLessThan(Date.now() / 1000);
    const res = await allocate(expired.username, expired.credential);
    expect(res.code).not.toBe(0);
    expect(res.stdout + res.stderr).toContain(REFUSED);
    expect(turnLog()).toContain(expired.username.split(':')[0]);
  });
});
