/**
 * What a long-poll refused at a cap costs, next to one that is held (docs/security.md).
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/pollCaps.js
 *   HELD=1000 REFUSED=1000 BURST=5000 BURST_CONCURRENCY=100 SAME_SESSION=5000 node dist/bench/pollCaps.js   # the defaults
 *
 * The driver starts the server as a child process (this file with `server`: createApp with parseConfig,
 * SQLite on disk in a temp DATA_DIR, pino to /dev/null, POLLS_MAX=HELD+8, POLLS_PER_USER=8, every RATE_* off,
 * cheap argon2id for registration only, `--expose-gc`), pinned to CPU 0 with taskset when there are 2 CPUs.
 * Users register through the HTTP API. Then, in order:
 *
 *   1. baseline: REFUSED sequential `GET /signaling/poll` (wait=0, empty mailbox) on one keep-alive socket;
 *   2. refused at the per-user cap: one user's 8 devices hold `wait=30`, its 9th device polls `wait=30`
 *      REFUSED times on one keep-alive socket, each answered 429; latency, and the server's RSS and V8 heap
 *      after a full GC, and its open fds, before and after;
 *   3. held: HELD more users each hold `wait=30` (one socket each) until /metrics shows HELD + 8 held
 *      (POLLS_MAX reached); RSS/heap after GC and fds before and after: the cost per held poll;
 *   4. refused at the total cap: REFUSED sequential `wait=30` polls of another user, each answered 503;
 *   5. a burst: BURST `wait=30` polls past the total cap, BURST_CONCURRENCY (100) at once, each on its own
 *      connection: time until all are answered, and the server's peak fds/RSS while it happens;
 *   6. the attack, in a fresh server: SAME_SESSION concurrent `wait=30` polls with one access token
 *      (one device, a new connection each), then one 16 KiB send to that user: how many polls are still held,
 *      what they cost, and how many the send wakes.
 *
 * `ONLY=attack` runs scenario 6 alone (e.g. against a build from before the caps, for the comparison).
 * Everything is on 127.0.0.1 and bounded; the server is killed at the end or on error. Latencies are from
 * the request's first byte written to the last byte of its answer read, in the driver.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, Agent, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const env = process.env;
const HELD = Number(env.HELD ?? 1000);
const REFUSED = Number(env.REFUSED ?? 1000);
const BURST = Number(env.BURST ?? 5000);
const SAME_SESSION = Number(env.SAME_SESSION ?? 5000);
/** Connections the burst opens at once; the listen backlog (511) is not what is measured. */
const BURST_CONCURRENCY = Number(env.BURST_CONCURRENCY ?? 100);
const PER_USER = 8;

// ---------------------------------------------------------------------------------------------------
// The server process.

async function serve(): Promise<void> {
  const { pino } = await import('pino');
  const { PasswordHasher } = await import('../app/accounts/passwordHasher.js');
  const { openStore } = await import('../app/boot.js');
  const { RATE_LIMIT_VARIABLES } = await import('../app/config/environment.js');
  const { parseConfig } = await import('../app/config/parse.js');
  const { createApp } = await import('../app/server.js');
  const dir = mkdtempSync(join(tmpdir(), 'signalbox-pollcaps-'));
  const rateOff = Object.fromEntries(RATE_LIMIT_VARIABLES.map((name) => [name, 'off']));
  const config = parseConfig(
    { DATA_DIR: dir, LOG_LEVEL: 'info', ACCESS_TOKEN_TTL: '3600', POLLS_MAX: String(HELD + PER_USER), POLLS_PER_USER: String(PER_USER), ...rateOff },
    { jwtSecret: Buffer.alloc(32, 1), dataKey: Buffer.alloc(32, 2) },
  );
  const logger = pino({ level: config.logLevel }, pino.destination('/dev/null'));
  const store = await openStore(config);
  const app = createApp({ config, store, logger, hasher: new PasswordHasher({ memoryCost: 4096, timeCost: 1, parallelism: 1 }) });
  const appServer = createServer(app.handler);
  appServer.requestTimeout = 60_000;
  appServer.keepAliveTimeout = 65_000;
  const gc = (globalThis as { gc?: () => void }).gc;
  const statsServer = createServer((req, res) => {
    if (req.url?.includes('gc')) gc?.(); // a full GC first, so RSS and heap compare like with like
    const mem = process.memoryUsage();
    res.end(JSON.stringify({ rss: mem.rss, heapUsed: mem.heapUsed, fds: readdirSync('/proc/self/fd').length }));
  });
  const listen = (s: Server) => new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));
  const [appPort, statsPort] = [await listen(appServer), await listen(statsServer)];
  const stop = () => {
    app.lifecycle.releasePolls();
    appServer.closeAllConnections();
    statsServer.closeAllConnections();
    void store.close().finally(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    });
  };
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
  setTimeout(stop, 20 * 60_000).unref();
  process.stdout.write(`${JSON.stringify({ app: appPort, stats: statsPort })}\n`);
}

// ---------------------------------------------------------------------------------------------------
// The driver.

interface Reply {
  status: number;
  body: string;
}

function call(port: number, method: string, path: string, opts: { token?: string; body?: unknown; agent?: Agent | false } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const headers: Record<string, string> = {};
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent: opts.agent ?? false }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

const ok = (r: Reply, status: number, what: string) => {
  if (r.status !== status) throw new Error(`${what}: expected ${status}, got ${r.status} ${r.body.slice(0, 200)}`);
  return r.body ? (JSON.parse(r.body) as Record<string, unknown>) : {};
};

async function pool<T>(n: number, limit: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      for (let i = next++; i < n; i = next++) out[i] = await fn(i);
    }),
  );
  return out;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};
const hr = () => Number(process.hrtime.bigint()) / 1e6;
const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;
const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;

async function drive(): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const pin = cpus().length >= 2 ? ['taskset', '-c', '0'] : [];
  const argv = [...pin, process.execPath, '--expose-gc', self, 'server'];
  const child: ChildProcess = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  process.on('exit', () => child.kill('SIGKILL'));
  const line = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    createInterface({ input: child.stdout! }).once('line', resolve);
  });
  const { app, stats: statsPort } = JSON.parse(line) as { app: number; stats: number };
  const stats = async () => JSON.parse((await call(statsPort, 'GET', '/?gc')).body) as { rss: number; heapUsed: number; fds: number };
  const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
  const held = async () => {
    const text = (await call(app, 'GET', '/metrics', { agent: keepAlive })).body;
    return Number(
      text
        .split('\n')
        .find((l) => l.startsWith('signalbox_held_polls '))!
        .split(' ')[1],
    );
  };
  const waitHeld = async (n: number) => {
    const deadline = Date.now() + 60_000;
    while ((await held()) !== n) {
      if (Date.now() > deadline) throw new Error(`held ${await held()}, expected ${n}`);
      await sleep(20);
    }
  };
  const register = async (name: string) =>
    ok(await call(app, 'POST', '/auth/register', { body: { username: name, email: `${name}@example.org`, password: 'correct horse battery' } }), 201, 'register')
      .accessToken as string;
  const login = async (name: string) =>
    ok(await call(app, 'POST', '/auth/login', { body: { username: name, password: 'correct horse battery' } }), 200, 'login').accessToken as string;

  console.log(
    `node ${process.version}, ${cpus().length} CPUs, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}; HELD=${HELD} REFUSED=${REFUSED} BURST=${BURST} SAME_SESSION=${SAME_SESSION}`,
  );
  const t0 = hr();
  const holders = await pool(HELD, 8, (i) => register(`holder_${i}`));
  const [other, many, _sender] = [await register('other_user'), await register('many_devices'), await register('sender_user')];
  const devices = [many, ...(await pool(PER_USER, 4, () => login('many_devices')))]; // 9 sessions
  console.log(`setup: ${HELD + 3} users, ${PER_USER} extra sessions in ${((hr() - t0) / 1000).toFixed(1)} s`);

  /** REFUSED sequential polls on one keep-alive socket; their latencies in ms. */
  const sequential = async (token: string, path: string, status: number) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const times: number[] = [];
    for (let i = 0; i < 50; i++) ok(await call(app, 'GET', path, { token, agent }), status, 'warm-up');
    for (let i = 0; i < REFUSED; i++) {
      const start = hr();
      ok(await call(app, 'GET', path, { token, agent }), status, path);
      times.push(hr() - start);
    }
    agent.destroy();
    return times;
  };
  const show = (label: string, times: number[]) =>
    console.log(
      `${label}: p50 ${pct(times, 50).toFixed(3)} ms, p99 ${pct(times, 99).toFixed(3)} ms, mean ${(times.reduce((a, b) => a + b, 0) / times.length).toFixed(3)} ms (${times.length})`,
    );

  // 1. Baseline.
  show('short poll (wait=0, 200)', await sequential(other, '/signaling/poll', 200));

  // 2. Refused at the per-user cap: the user's first 8 devices hold, its 9th polls.
  const holdAgent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const deviceAnswers = devices.slice(0, PER_USER).map((token) => call(app, 'GET', '/signaling/poll?wait=30', { token, agent: holdAgent }));
  await waitHeld(PER_USER);
  const beforeUser = await stats();
  show('refused at POLLS_PER_USER (wait=30, 429)', await sequential(devices[PER_USER]!, '/signaling/poll?wait=30', 429));
  const afterUser = await stats();
  console.log(
    `  after ${REFUSED} refused: RSS ${kb(afterUser.rss - beforeUser.rss)} in all, heap ${kb(afterUser.heapUsed - beforeUser.heapUsed)} in all, fds ${beforeUser.fds} -> ${afterUser.fds}`,
  );

  // 3. HELD more held polls, one user each, which fills POLLS_MAX (HELD + PER_USER).
  const before = await stats();
  const heldAnswers = holders.map((token) => call(app, 'GET', '/signaling/poll?wait=30', { token, agent: holdAgent }));
  await waitHeld(HELD + PER_USER);
  const withHeld = await stats();
  console.log(
    `held: ${HELD} polls: RSS ${mb(before.rss)} -> ${mb(withHeld.rss)} (${kb((withHeld.rss - before.rss) / HELD)}/poll), ` +
      `heap ${mb(before.heapUsed)} -> ${mb(withHeld.heapUsed)} (${kb((withHeld.heapUsed - before.heapUsed) / HELD)}/poll), ` +
      `fds ${before.fds} -> ${withHeld.fds} (${((withHeld.fds - before.fds) / HELD).toFixed(2)}/poll), each for up to 30 s`,
  );

  // 4. Refused at the total cap.
  const beforeTotal = await stats();
  show('refused at POLLS_MAX (wait=30, 503)', await sequential(other, '/signaling/poll?wait=30', 503));
  const afterTotal = await stats();
  console.log(
    `  after ${REFUSED} refused: RSS ${kb(afterTotal.rss - beforeTotal.rss)} in all, heap ${kb(afterTotal.heapUsed - beforeTotal.heapUsed)} in all, fds ${beforeTotal.fds} -> ${afterTotal.fds}`,
  );

  // 5. A burst past the total cap, each on its own connection.
  const burstStart = hr();
  let peakFds = 0;
  let peakRss = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const s = JSON.parse((await call(statsPort, 'GET', '/')).body) as { rss: number; fds: number };
      peakFds = Math.max(peakFds, s.fds);
      peakRss = Math.max(peakRss, s.rss);
      await sleep(50);
    }
  })();
  const burstStatuses = await pool(BURST, BURST_CONCURRENCY, async () => (await call(app, 'GET', '/signaling/poll?wait=30', { token: other })).status);
  const burstMs = hr() - burstStart;
  sampling = false;
  await sampler;
  const burstCounts = burstStatuses.reduce<Record<number, number>>((m, s) => ((m[s] = (m[s] ?? 0) + 1), m), {});
  console.log(
    `burst: ${BURST} polls past POLLS_MAX (${BURST_CONCURRENCY} connections at a time, a new connection each): all answered in ${burstMs.toFixed(0)} ms ` +
      `(${((BURST / burstMs) * 1000).toFixed(0)}/s), statuses ${JSON.stringify(burstCounts)}; server peak fds ${peakFds}, peak RSS ${mb(peakRss)}; held ${await held()}`,
  );

  // 6. The attack, in a fresh server so the polls held above do not count.
  holdAgent.destroy();
  void Promise.allSettled([...deviceAnswers, ...heldAnswers]);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await attack();
}

/** Scenario 6 in a fresh server, so the held polls above do not count against POLLS_MAX. */
async function attack(): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const pin = cpus().length >= 2 ? ['taskset', '-c', '0'] : [];
  const argv = [...pin, process.execPath, '--expose-gc', self, 'server'];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  process.on('exit', () => child.kill('SIGKILL'));
  const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve));
  const { app, stats: statsPort } = JSON.parse(line) as { app: number; stats: number };
  const stats = async () => JSON.parse((await call(statsPort, 'GET', '/?gc')).body) as { rss: number; heapUsed: number; fds: number };
  const reg = async (name: string) =>
    ok(await call(app, 'POST', '/auth/register', { body: { username: name, email: `${name}@example.org`, password: 'correct horse battery' } }), 201, 'register')
      .accessToken as string;
  const [victim, peer] = [await reg('attacker'), await reg('peer')];
  ok(await call(app, 'POST', '/connections/request', { token: peer, body: { username: 'attacker' } }), 201, 'request');
  ok(await call(app, 'POST', '/connections/respond', { token: victim, body: { username: 'peer', action: 'accept' } }), 200, 'respond');
  const before = await stats();
  // A new connection per poll, closed after its answer: what is measured is the polls, not idle keep-alive
  // sockets (which a client can hold open without polling at all; see docs/security.md).
  const agent = false;
  const start = hr();
  const answers: Array<Promise<Reply>> = [];
  const answeredAt: number[] = [];
  for (let i = 0; i < SAME_SESSION; i += 250) {
    for (let j = i; j < Math.min(SAME_SESSION, i + 250); j++) {
      const answer = call(app, 'GET', '/signaling/poll?wait=30', { token: victim, agent });
      void answer.then(() => (answeredAt[j] = hr()));
      answers.push(answer);
    }
    await sleep(25);
  }
  // With the caps every poll but one is answered at once (replaced); without them none is. Wait until
  // the answers and the held count settle.
  let answered = 0;
  for (const a of answers) void a.then(() => answered++);
  const heldCount = async () => {
    const text = (await call(app, 'GET', '/metrics')).body;
    return Number(
      text
        .split('\n')
        .find((l) => l.startsWith('signalbox_held_polls '))!
        .split(' ')[1],
    );
  };
  while (answered + (await heldCount()) < SAME_SESSION && hr() - start < 60_000) await sleep(50);
  const during = await stats();
  const answeredBeforeSend = answered;
  const metrics = (await call(app, 'GET', '/metrics')).body;
  const heldNow = Number(
    metrics
      .split('\n')
      .find((l) => l.startsWith('signalbox_held_polls '))!
      .split(' ')[1],
  );
  const sendStart = hr();
  ok(await call(app, 'POST', '/signaling/send', { token: peer, body: { to: 'attacker', type: 'offer', payload: 'x'.repeat(16_384) } }), 202, 'send');
  const sendMs = hr() - sendStart;
  const replies = await Promise.all(answers);
  const wokenIdx = replies.flatMap((r, i) => (r.body.includes('xxxx') ? [i] : []));
  const woken = wokenIdx.length;
  const lastWokenMs = Math.max(...wokenIdx.map((i) => answeredAt[i]!)) - sendStart;
  console.log(
    `attack: ${SAME_SESSION} concurrent wait=30 polls with one token: ${answeredBeforeSend} answered at once (replaced), held ${heldNow}; ` +
      `server RSS ${mb(before.rss)} -> ${mb(during.rss)}, heap ${mb(before.heapUsed)} -> ${mb(during.heapUsed)}, fds ${before.fds} -> ${during.fds}; ` +
      `a 16 KiB send (202 in ${sendMs.toFixed(1)} ms) then woke ${woken} poll(s), the last answered ${lastWokenMs.toFixed(1)} ms after the send began`,
  );
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

if (process.argv[2] === 'server') await serve();
else {
  // ONLY=attack runs scenario 6 alone, e.g. against a build from before the caps, for the comparison.
  if (env.ONLY === 'attack') await attack();
  else await drive();
  process.exit(0);
}
