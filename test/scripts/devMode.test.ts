import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { DEV_RATE_LIMITS, DevModeRefused, devEnvironment, isLoopbackHost } from '../../scripts/devMode.js';
import { acceptsTcp, freePort } from '../helpers/net.js';
import { builtScript, runScript } from '../helpers/run.js';

// `npm run dev` (scripts/dev.ts, compiled): refused on a non-loopback HOST; otherwise the server with
// the example app, relaxed sign-up limits, CORS for local origins and a loopback coturn it stops on exit.

/** The server and coturn start within a few seconds; this bounds a hung start. */
const START_MS = 30_000;

describe('dev mode: where it may listen', () => {
  it('refuses any HOST that is not loopback, naming it', () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.20', 'example.org']) {
      expect(() => devEnvironment({ HOST: host }, null)).toThrow(DevModeRefused);
      expect(() => devEnvironment({ HOST: host }, null)).toThrow(`HOST=${host}`);
    }
  });

  it('accepts loopback addresses and localhost', () => {
    for (const host of ['127.0.0.1', '127.0.0.2', '::1', '[::1]', 'localhost']) expect(isLoopbackHost(host)).toBe(true);
    expect(devEnvironment({}, null).env.HOST).toBe('127.0.0.1');
  });

  it('exits 1 with one line on stderr, and starts nothing, for HOST=0.0.0.0', async () => {
    const port = await freePort();
    const result = await runScript('dev', [], { HOST: '0.0.0.0', PORT: String(port) });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringContaining('HOST=0.0.0.0')]);
    expect(result.stdout).toBe('');
  });
});

describe('dev mode: what it relaxes', () => {
  it('relaxes the sign-up and login limits, turns on the examples and CORS for local dev-server origins', () => {
    const { env, relaxed } = devEnvironment({ PORT: '9000' }, { port: 3478, secret: 's3cret' });
    expect(env).toMatchObject({ ...DEV_RATE_LIMITS, EXAMPLES: 'true', TURN_SECRET: 's3cret' });
    expect(env.CORS_ORIGINS!.split(',')).toEqual(expect.arrayContaining(['http://localhost:9000', 'http://127.0.0.1:9000', 'http://localhost:5173']));
    expect(env.TURN_URLS).toBe('turn:127.0.0.1:3478?transport=udp,turn:127.0.0.1:3478?transport=tcp');
    expect(relaxed).toEqual(expect.arrayContaining(['RATE_REGISTER_IP=1000/3600', 'EXAMPLES=true', 'a loopback coturn on 127.0.0.1:3478']));
  });

  it('lets whatever the developer set win, and does not list it as relaxed', () => {
    const { env, relaxed } = devEnvironment({ RATE_REGISTER_IP: '5/3600', CORS_ORIGINS: 'https://app.example.com' }, null);
    expect(env.RATE_REGISTER_IP).toBe('5/3600');
    expect(env.CORS_ORIGINS).toBe('https://app.example.com');
    expect(relaxed.join(' ')).not.toMatch(/RATE_REGISTER_IP|CORS/);
  });
});

const hasTurnserver = spawnSync('sh', ['-c', 'command -v turnserver']).status === 0;

describe('npm run dev, running', () => {
  it('serves the example, takes an 11th sign-up from one address, answers a local origin, hands out its coturn, and stops coturn on Ctrl-C', async () => {
    expect(hasTurnserver).toBe(true); // apt-get install coturn (.ci/run does)
    const dir = mkdtempSync(join(tmpdir(), 'signalbox-dev-test-'));
    const port = await freePort();
    const child = spawn(process.execPath, [builtScript('dev')], {
      env: { PATH: process.env.PATH ?? '', DATA_DIR: dir, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + START_MS;
      while (!out.includes('Ctrl-C stops everything') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
      expect(out).toContain(`http://127.0.0.1:${port}/examples/two-person-call/`);
      expect(out).toMatch(/^Relaxed for development.*RATE_REGISTER_IP=1000\/3600/m);
      const turnPort = Number(/turn:127\.0\.0\.1:(\d+)/.exec(out)![1]);
      const base = `http://127.0.0.1:${port}`;

      expect((await fetch(`${base}/examples/two-person-call/`)).status).toBe(200);
      // The default RATE_REGISTER_IP is 10 an hour: the 11th sign-up from 127.0.0.1 passes only relaxed.
      let token = '';
      for (let i = 0; i < 11; i++) {
        const res = await fetch(`${base}/auth/register`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ username: `dev${i}`, email: `dev${i}@example.com`, password: 'correct horse battery staple' }),
        });
        expect(res.status).toBe(201);
        token = ((await res.json()) as { accessToken: string }).accessToken;
      }
      const preflight = await fetch(`${base}/users/me`, {
        method: 'OPTIONS',
        headers: { Origin: 'http://localhost:5173', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'authorization' },
      });
      expect(preflight.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
      const ice = (await (await fetch(`${base}/signaling/ice-servers`, { headers: { Authorization: `Bearer ${token}` } })).json()) as {
        iceServers: Array<{ urls: string | string[] }>;
      };
      expect(JSON.stringify(ice.iceServers)).toContain(`turn:127.0.0.1:${turnPort}?transport=udp`);
      expect(await acceptsTcp(turnPort)).toBe(true);

      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(await acceptsTcp(turnPort)).toBe(false);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
