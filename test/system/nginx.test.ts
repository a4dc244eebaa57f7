import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { freePort } from '../helpers/net.js';
import { run } from '../helpers/run.js';
import { startServer, type RunningServer } from './helpers/server.js';

// The nginx site files docs/deploy.md tells the reader to copy (deploy/nginx/), checked by a real nginx
// (`apt-get install nginx openssl`; Debian 12's is 1.22) in front of the real app: only the paths and the
// listen/upstream ports are changed, every directive stays as the reader gets it.

const DEPLOY = fileURLToPath(new URL('../../deploy/nginx/', import.meta.url));
const NAME = 'chat.example.org';

let work: string;
let nginx: ChildProcess | undefined;
let nginxLog = '';
let server: RunningServer;
let httpsPort: number;
let httpPort: number;
let cert: string;

/** The documented site file with this test's paths and ports (loopback only), nothing else changed. */
function render(file: string, ports: { https: number; http: number; upstream: number }): string {
  return readFileSync(join(DEPLOY, file), 'utf8')
    .replaceAll('listen 443 ', `listen 127.0.0.1:${ports.https} `)
    .replaceAll('listen [::]:443 ', `listen [::1]:${ports.https} `)
    .replaceAll('listen 80;', `listen 127.0.0.1:${ports.http};`)
    .replaceAll('listen [::]:80;', `listen [::1]:${ports.http};`)
    .replaceAll(`/etc/letsencrypt/live/${NAME}/`, `${work}/tls/`)
    .replaceAll('/var/www/letsencrypt', `${work}/acme`)
    .replaceAll('http://127.0.0.1:8080', `http://127.0.0.1:${ports.upstream}`);
}

/** A top-level nginx.conf around the two site files, everything nginx writes kept in the temp dir. */
function mainConf(): string {
  const t = (name: string) => join(work, name);
  return [
    process.getuid?.() === 0 ? 'user root root;' : '',
    'daemon off;',
    'worker_processes 1;',
    `pid ${t('nginx.pid')};`,
    `error_log ${t('error.log')} info;`,
    'events { worker_connections 64; }',
    'http {',
    `  access_log ${t('access.log')};`,
    `  client_body_temp_path ${t('tmp/body')};`,
    `  proxy_temp_path ${t('tmp/proxy')};`,
    `  fastcgi_temp_path ${t('tmp/fastcgi')};`,
    `  uwsgi_temp_path ${t('tmp/uwsgi')};`,
    `  scgi_temp_path ${t('tmp/scgi')};`,
    `  include ${t('sites/signalbox-http.conf')};`,
    `  include ${t('sites/signalbox.conf')};`,
    '}',
  ].join('\n');
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request to nginx over TLS with the self-signed CA, from `localAddress` (a loopback address). */
function viaNginx(
  method: string,
  path: string,
  options: { body?: unknown; token?: string; headers?: Record<string, string>; localAddress?: string } = {},
): Promise<Answer> {
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: httpsPort,
        servername: NAME,
        ca: cert,
        method,
        path,
        localAddress: options.localAddress,
        agent: false,
        headers: {
          Host: NAME,
          ...(body ? { 'Content-Type': 'application/json' } : {}),
          ...(options.token ? { Authorization: `Bearer ${options.token}` } : {}),
          ...options.headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (s: string) => (text += s));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'signalbox-nginx-'));
  for (const dir of ['tls', 'acme', 'sites', 'tmp']) mkdirSync(join(work, dir));
  const made = await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=${NAME}`,
    '-addext',
    `subjectAltName=DNS:${NAME}`,
    '-keyout',
    join(work, 'tls', 'privkey.pem'),
    '-out',
    join(work, 'tls', 'fullchain.pem'),
  ]);
  expect(made.code).toBe(0);
  cert = readFileSync(join(work, 'tls', 'fullchain.pem'), 'utf8');

  server = await startServer({ TRUST_PROXY: 'true' });
  const upstream = Number(new URL(server.baseUrl).port);
  [httpsPort, httpPort] = [await freePort(), await freePort()];
  for (const file of ['signalbox-http.conf', 'signalbox.conf']) {
    writeFileSync(join(work, 'sites', file), render(file, { https: httpsPort, http: httpPort, upstream }));
  }
  writeFileSync(join(work, 'nginx.conf'), mainConf());

  // `nginx -t` first, as the reader does: a directive this nginx does not know (`http2 on;` before
  // 1.25.1) fails here with its name.
  const check = await run('nginx', ['-t', '-c', join(work, 'nginx.conf'), '-p', work, '-e', join(work, 'error.log')]);
  expect(check.stderr).toContain('syntax is ok');
  expect(check.code).toBe(0);

  nginx = spawn('nginx', ['-c', join(work, 'nginx.conf'), '-p', work, '-e', join(work, 'error.log')], { stdio: ['ignore', 'pipe', 'pipe'] });
  nginx.stderr!.setEncoding('utf8').on('data', (s: string) => (nginxLog += s));
  // Ready when it answers on the TLS port.
  for (let i = 0; ; i++) {
    try {
      await viaNginx('GET', '/health');
      break;
    } catch (err) {
      if (i >= 100) throw new Error(`nginx did not start: ${String(err)}\n${nginxLog}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
});

afterAll(async () => {
  if (nginx && nginx.exitCode === null) {
    const exited = new Promise((r) => nginx!.once('exit', r));
    nginx.kill('SIGTERM');
    await exited;
  }
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the setup failed before creating it
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('deploy/nginx in front of Signalbox (real nginx, TLS)', () => {
  it('proxies /health over TLS with HSTS', async () => {
    const res = await viaNginx('GET', '/health');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).status).toBe('ok');
    expect(res.headers['strict-transport-security']).toBe('max-age=63072000');
  });

  it('denies /metrics from outside in every spelling Signalbox would answer, while the app serves it', async () => {
    expect((await fetch(`${server.baseUrl}/metrics`)).status).toBe(200);
    for (const path of ['/metrics', '/METRICS', '/metrics/', '//metrics', '/%6detrics']) {
      const res = await viaNginx('GET', path);
      expect([path, res.status]).toEqual([path, 404]);
      expect(res.body).not.toContain('# HELP');
    }
  });

  it('redirects plain HTTP to HTTPS and serves ACME challenges from the webroot', async () => {
    mkdirSync(join(work, 'acme', '.well-known', 'acme-challenge'), { recursive: true });
    writeFileSync(join(work, 'acme', '.well-known', 'acme-challenge', 'token-1'), 'proof');
    const get = (path: string) =>
      new Promise<Answer>((resolve, reject) => {
        httpRequest({ host: '127.0.0.1', port: httpPort, path, headers: { Host: NAME }, agent: false }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (s: string) => (text += s));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
        })
          .on('error', reject)
          .end();
      });
    const redirect = await get('/health');
    expect(redirect.status).toBe(301);
    expect(redirect.headers.location).toBe(`https://${NAME}/health`);
    const challenge = await get('/.well-known/acme-challenge/token-1');
    expect([challenge.status, challenge.body]).toEqual([200, 'proof']);
  });

  it('registers, logs in, and a send wakes a poll held through the proxy; the app logs the client address nginx forwarded', async () => {
    const username = `nginx_${Date.now().toString(36)}`;
    const password = 'correct horse battery';
    const reg = await viaNginx('POST', '/auth/register', { body: { username, email: `${username}@example.org`, password } });
    expect(reg.status).toBe(201);
    // A second device of the same user: a signal to one's own username goes to one's other devices.
    // From 127.0.0.2 with a forged X-Forwarded-For: the app must see 127.0.0.2 (what nginx appended),
    // not the forged address, and not 127.0.0.1 (nginx's own connection to it).
    const login = await viaNginx('POST', '/auth/login', { body: { username, password }, localAddress: '127.0.0.2', headers: { 'X-Forwarded-For': '203.0.113.9' } });
    expect(login.status).toBe(200);
    const loginLog = server.logs.find((l) => l.route === '/auth/login' && l.status === 200);
    expect(loginLog?.ip).toBe('127.0.0.2');

    const sender = JSON.parse(reg.body) as { accessToken: string };
    const poller = JSON.parse(login.body) as { accessToken: string };
    const first = await viaNginx('GET', '/signaling/poll?wait=0', { token: poller.accessToken });
    expect(first.status).toBe(200);
    const cursor = (JSON.parse(first.body) as { cursor: string }).cursor;

    // Held through nginx for up to 8 s; a send 1.5 s in must answer it with the signal before the 8 s
    // are over (no speed is asserted: only that the send, not the end of the wait, answered it).
    const pollStarted = Date.now();
    let answered = false;
    const held = viaNginx('GET', `/signaling/poll?wait=8&after=${encodeURIComponent(cursor)}`, { token: poller.accessToken }).then((res) => {
      answered = true;
      return { res, at: Date.now() };
    });
    await new Promise((r) => setTimeout(r, 1500));
    expect(answered).toBe(false); // still held by nginx and the app
    const send = await viaNginx('POST', '/signaling/send', { token: sender.accessToken, body: { to: username, type: 'custom', payload: 'through-nginx' } });
    expect(send.status).toBe(202);
    const { res, at } = await held;
    expect(res.status).toBe(200);
    const signals = (JSON.parse(res.body) as { signals: Array<{ payload: string }> }).signals;
    expect(signals.map((s) => s.payload)).toEqual(['through-nginx']);
    expect(at - pollStarted).toBeLessThan(8000);
  });
});
