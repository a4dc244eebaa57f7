/**
 * What `POST /signaling/send` costs with 1 and with 10 recipient devices (docs/architecture.md: per-device mailboxes),
 * side by side with a bare Koa route in the same server process.
 *
 *   npm run bench:fanout
 *   REPEATS=3 DEVICES=1,10 PAYLOADS=1024,16384 PAIRS=20 SEQUENTIAL=300 CONNECTIONS=16 AMOUNT=2000 GROWTH=200 \
 *     DELIVERIES=40 STRAGGLER_MS=500 BARE_SECONDS=3 npm run bench:fanout        # the defaults; about 1-2 minutes
 *
 * Only the HTTP API is used to drive the server, so the same compiled script runs against a build before
 * per-device mailboxes and one after (copy dist/bench/sendFanout.js into the other build's dist/bench/, next
 * to its own signalingServer.js). The server is that build's bench/signalingServer.ts, in its own process
 * pinned to CPU 0 (`taskset -c 0`); this driver re-runs itself on CPU 1. The server runs as for
 * bench:signaling: MAILBOX_MAX and MAILBOX_PER_SENDER 100000, every RATE_* off, cheap argon2id, SQLite on disk
 * in a temp DATA_DIR; DEVICES_MAX is the default 10 (registration is a device, so each recipient logs in
 * N - 1 more times), POLLS_PER_USER 16 and POLLS_MAX 1000 here.
 *
 * Users: PAIRS senders (one session each), and for each N in DEVICES, PAIRS recipients with N sessions
 * (devices), each connected to its sender. For each N and each payload size in PAYLOADS:
 *
 *   1. sequential: one sender -> one recipient, one send at a time on a keep-alive socket, SEQUENTIAL timed
 *      (after 20 untimed); every device drains (polls and acknowledges) its mailbox every 50 sends, untimed,
 *      so the mailboxes stay shallow. p50/p95/p99 of the send's response time.
 *   2. concurrent: autocannon, CONNECTIONS connections, AMOUNT sends in all, each connection cycling through
 *      the PAIRS sender -> recipient requests (AMOUNT / PAIRS pending per device at the end). Sends/s and
 *      p50/p95/p99. Afterwards every device drains its mailbox and the signals it received are counted
 *      (devices in turn: before per-device mailboxes the first device's acknowledgement empties the others').
 *   3. database growth: GROWTH sequential sends left pending, the SQLite file's b-tree and overflow pages (dbstat, read-only
 *      connection from the driver, untimed) before and after: allocated and used bytes per send. Then drained.
 *   4. delivery: every device of the recipient holds GET /signaling/poll?wait=30&after=<its cursor> (held, per
 *      signalbox_held_polls on /metrics, before timing); from just before the send to each device's answer
 *      fully read: the first device's and the last device's time; devices that have not answered STRAGGLER_MS
 *      after the send are counted as not reached and their polls closed. DELIVERIES timed (after 5 untimed).
 *   5. independence (N > 1): one signal, no poll held; device 0 polls it and acknowledges it; how many of the
 *      other N - 1 devices still receive it on their next poll.
 *
 * Baseline, in the same server process: the bare Koa route, sequential (GET) and autocannon with the same
 * connections and each payload as a POST body (the bare route never reads it), for BARE_SECONDS.
 * All of it (baseline included) runs REPEATS times in the same server, the cases interleaved; the table quotes
 * the median of each figure over the repeats and the notes under it list the repeats.
 *
 * Everything is on 127.0.0.1, bounded in count and time; the server is stopped at the end (or on error).
 * Set RESULT_JSON=<file> to also write the figures as JSON.
 */
import { Agent, request as httpRequest, type ClientRequest } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type autocannon from 'autocannon';
import Database from '../app/store/sqlite/driver.js';
import {
  call,
  connect,
  expect,
  login,
  pinSelf,
  register,
  startServerProcess,
  stopOnInterrupt,
  stopProcess,
  waitHeld,
  type BenchUser,
  type ServerProcess as ServerInfo,
} from './fixture.js';
import { cannon, hr, progress, knob, knobText, latency as lat, machine, median, pool, runBench, type Cannon, type Latency as Lat } from './measure.js';

const env = process.env;
const list = (name: string, full: string, smoke: string) =>
  knobText(name, full, smoke)
    .split(',')
    .map(Number)
    .filter((n) => n > 0);
const REPEATS = knob('REPEATS', 3, 1);
const DEVICES = list('DEVICES', '1,10', '1,2');
const PAYLOADS = list('PAYLOADS', '1024,16384', '1024');
const PAIRS = knob('PAIRS', 20, 2);
const SEQUENTIAL = knob('SEQUENTIAL', 300, 10);
const CONNECTIONS = knob('CONNECTIONS', 16, 2);
const AMOUNT = knob('AMOUNT', 2000, 20);
const GROWTH = knob('GROWTH', 200, 5);
const DELIVERIES = knob('DELIVERIES', 40, 3);
const STRAGGLER_MS = knob('STRAGGLER_MS', 500, 500);
const BARE_SECONDS = knob('BARE_SECONDS', 3, 1);
const LOGIN_CONCURRENCY = knob('LOGIN_CONCURRENCY', 8, 8);
const DRAIN_EVERY = 50;
/** How delivery waits for the held-poll count: exactly, checked every millisecond, for at most 10 s. */
const HELD_EXACTLY = { exactly: true, timeoutMs: 10_000, pauseMs: 1 };
const SERVER_ENV = { POLLS_PER_USER: '16', POLLS_MAX: '1000' };

// ---------------------------------------------------------------------------------------------------
// Devices: a user's sessions, each with its own cursor.

interface Device extends BenchUser {
  /** This device's last cursor ('' before its first poll). */
  cursor: string;
}

const asDevice = (u: BenchUser): Device => ({ ...u, cursor: '' });

interface Signal {
  from: string;
  type: string;
  payload: string;
}

const pollPath = (d: Device, wait = 0) => {
  const q = [...(wait ? [`wait=${wait}`] : []), ...(d.cursor ? [`after=${encodeURIComponent(d.cursor)}`] : [])];
  return `/signaling/poll${q.length ? `?${q.join('&')}` : ''}`;
};

/** Polls (and acknowledges) until the device's mailbox is empty; returns the client signals (not server events) it received. */
async function drain(agent: Agent, port: number, d: Device): Promise<number> {
  let n = 0;
  for (let page = 0; page < 100_000; page++) {
    const body = expect(await call(agent, port, 'GET', pollPath(d), { token: d.token }), 200, 'drain');
    const signals = body.signals as Signal[];
    d.cursor = body.cursor as string;
    if (signals.length === 0) return n;
    n += signals.filter((s) => !s.type.includes('.')).length;
  }
  throw new Error('drain did not finish');
}

/** Drains every device of a user in turn; returns the client signals each received. */
const drainUser = async (agent: Agent, port: number, devices: Device[]) => {
  const out: number[] = [];
  for (const d of devices) out.push(await drain(agent, port, d));
  return out;
};

// ---------------------------------------------------------------------------------------------------
// Measurements.

const payloadOf = (bytes: number, i: number) => `${'x'.repeat(bytes - 8)}${String(i).padStart(8, '0')}`;

async function bareSequential(s: ServerInfo, agent: Agent, n: number): Promise<Lat> {
  const times: number[] = [];
  for (let i = 0; i < n + 20; i++) {
    const t0 = hr();
    expect(await call(agent, s.bare, 'GET', '/'), 200, 'bare');
    if (i >= 20) times.push(hr() - t0);
  }
  return lat(times);
}

async function bareConcurrent(s: ServerInfo, bytes: number): Promise<Cannon> {
  const body = JSON.stringify({ to: 'nobody', type: 'ice', payload: payloadOf(bytes, 0) });
  const opts = { url: `http://127.0.0.1:${s.bare}/`, connections: CONNECTIONS, method: 'POST' as const, headers: { 'content-type': 'application/json' }, body };
  await cannon({ ...opts, duration: 1 }, 200);
  return cannon({ ...opts, duration: BARE_SECONDS }, 200);
}

interface Pair {
  sender: Device;
  devices: Device[];
}

async function sequentialSends(s: ServerInfo, agent: Agent, pair: Pair, bytes: number): Promise<Lat & { devicesAnswered: unknown }> {
  const times: number[] = [];
  let devicesAnswered: unknown;
  for (let i = 0; i < SEQUENTIAL + 20; i++) {
    const payload = payloadOf(bytes, i);
    const t0 = hr();
    const r = await call(agent, s.app, 'POST', '/signaling/send', { token: pair.sender.token, body: { to: pair.devices[0]!.username, type: 'ice', payload } });
    const t1 = hr();
    devicesAnswered = expect(r, 202, 'send').devices;
    if (i >= 20) times.push(t1 - t0);
    if ((i + 1) % DRAIN_EVERY === 0) await drainUser(agent, s.app, pair.devices);
  }
  await drainUser(agent, s.app, pair.devices);
  return { ...lat(times), devicesAnswered };
}

interface ConcurrentResult extends Cannon {
  received: number;
  receivedPerDevice: { min: number; max: number };
}

async function concurrentSends(s: ServerInfo, agent: Agent, pairs: Pair[], bytes: number): Promise<ConcurrentResult> {
  const requests: autocannon.Request[] = pairs.map((p, i) => ({
    method: 'POST',
    path: '/signaling/send',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${p.sender.token}` },
    body: JSON.stringify({ to: p.devices[0]!.username, type: 'ice', payload: payloadOf(bytes, i) }),
  }));
  let k = 0;
  const setupClient = (client: autocannon.Client) => {
    const start = (k++ * 7) % requests.length;
    client.setRequests([...requests.slice(start), ...requests.slice(0, start)].map((r) => ({ ...r })));
  };
  const c = await cannon({ url: `http://127.0.0.1:${s.app}`, connections: CONNECTIONS, amount: AMOUNT, requests, setupClient }, 202);
  if (c.other > 0 || c.errors > 0) throw new Error(`concurrent sends: ${c.other} unexpected statuses, ${c.errors} errors`);
  await sleep(100);
  const perDevice = (await pool(pairs, 4, (p) => drainUser(agent, s.app, p.devices))).flat();
  return { ...c, received: perDevice.reduce((a, b) => a + b, 0), receivedPerDevice: { min: Math.min(...perDevice), max: Math.max(...perDevice) } };
}

/**
 * Bytes of the database's b-tree and overflow pages (dbstat), per table and index, through a short read-only
 * connection: allocated (whole pages) and used (less each page's unused bytes).
 */
function dbBytes(file: string): Map<string, { pages: number; used: number }> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT name, SUM(pgsize) AS bytes, SUM(pgsize - unused) AS used FROM dbstat GROUP BY name').all() as Array<{
      name: string;
      bytes: number;
      used: number;
    }>;
    return new Map(rows.map((r) => [r.name, { pages: r.bytes, used: r.used }]));
  } finally {
    db.close();
  }
}

interface Growth {
  /** Allocated page bytes per send (what the file grows by when no free pages are reused). */
  bytesPerSend: number;
  /** Of those, bytes in use (cells and headers). */
  usedPerSend: number;
  byObject: Record<string, number>;
}

async function growth(s: ServerInfo, agent: Agent, pair: Pair, bytes: number, dbFile: string): Promise<Growth> {
  await drainUser(agent, s.app, pair.devices);
  const before = dbBytes(dbFile);
  for (let i = 0; i < GROWTH; i++) {
    const r = await call(agent, s.app, 'POST', '/signaling/send', {
      token: pair.sender.token,
      body: { to: pair.devices[0]!.username, type: 'ice', payload: payloadOf(bytes, i) },
    });
    expect(r, 202, 'send');
  }
  const after = dbBytes(dbFile);
  await drainUser(agent, s.app, pair.devices);
  const byObject: Record<string, number> = {};
  let total = 0;
  let used = 0;
  for (const name of new Set([...before.keys(), ...after.keys()])) {
    const d = (after.get(name)?.pages ?? 0) - (before.get(name)?.pages ?? 0);
    used += (after.get(name)?.used ?? 0) - (before.get(name)?.used ?? 0);
    total += d;
    if (d !== 0) byObject[name] = Math.round(d / GROWTH);
  }
  return { bytesPerSend: total / GROWTH, usedPerSend: used / GROWTH, byObject };
}

interface CaseRun {
  seq: Lat & { devicesAnswered: unknown };
  conc: ConcurrentResult;
  growth: Growth;
  delivery: DeliveryResult;
}

interface DeliveryResult {
  first: Lat;
  last: Lat;
  /** Devices whose held poll answered with the signal, per send. */
  reached: { min: number; max: number; mean: number };
  n: number;
}

/** Holds one poll per device, sends, and times each device's answer. */
async function delivery(s: ServerInfo, agent: Agent, pair: Pair, bytes: number): Promise<DeliveryResult> {
  const devices = pair.devices;
  await drainUser(agent, s.app, devices);
  const own = devices.map(() => new Agent({ keepAlive: true, maxSockets: 1 }));
  const sendAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  const firsts: number[] = [];
  const lasts: number[] = [];
  const reached: number[] = [];
  const WARM = 5;
  try {
    await waitHeld(agent, s.app, 0, HELD_EXACTLY);
    for (let i = 0; i < DELIVERIES + WARM; i++) {
      const payload = payloadOf(bytes, 1_000_000 + i);
      const answers: Array<number | null> = devices.map(() => null);
      const reqs: ClientRequest[] = [];
      const done = devices.map(
        (d, j) =>
          new Promise<void>((resolve) => {
            const req = httpRequest({ host: '127.0.0.1', port: s.app, path: pollPath(d, 30), agent: own[j], headers: { authorization: `Bearer ${d.token}` } }, (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (c: Buffer) => chunks.push(c));
              res.on('end', () => {
                const t = hr();
                if (res.statusCode === 200) {
                  const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { signals: Signal[]; cursor: string };
                  d.cursor = body.cursor;
                  if (body.signals.some((x) => x.payload === payload)) answers[j] = t;
                }
                resolve();
              });
              res.on('error', () => resolve());
            });
            req.on('error', () => resolve());
            reqs.push(req);
            req.end();
          }),
      );
      await waitHeld(agent, s.app, devices.length, HELD_EXACTLY);
      const t0 = hr();
      const sent = call(sendAgent, s.app, 'POST', '/signaling/send', { token: pair.sender.token, body: { to: devices[0]!.username, type: 'ice', payload } });
      await Promise.race([Promise.all(done), sleep(STRAGGLER_MS)]);
      expect(await sent, 202, 'send');
      // Polls that did not answer in time: closed (the server releases them), then the devices drain.
      for (const r of reqs) r.destroy();
      await Promise.all(done);
      await waitHeld(agent, s.app, 0, HELD_EXACTLY);
      const got = answers.filter((t): t is number => t !== null).map((t) => t - t0);
      if (i >= WARM) {
        reached.push(got.length);
        if (got.length > 0) firsts.push(Math.min(...got));
        if (got.length === devices.length) lasts.push(Math.max(...got));
      }
      // Pending leftovers (a device whose poll did not see it) are acknowledged before the next send.
      await drainUser(agent, s.app, devices);
    }
  } finally {
    for (const a of own) a.destroy();
    sendAgent.destroy();
  }
  return {
    first: lat(firsts),
    last: lat(lasts),
    reached: { min: Math.min(...reached), max: Math.max(...reached), mean: reached.reduce((a, b) => a + b, 0) / reached.length },
    n: reached.length,
  };
}

/** One signal, no poll held; device 0 reads and acknowledges it; how many other devices still receive it. */
async function independence(s: ServerInfo, agent: Agent, pair: Pair): Promise<{ others: number; received: number }> {
  const [first, ...others] = pair.devices;
  await drainUser(agent, s.app, pair.devices);
  const payload = payloadOf(64, 42);
  expect(await call(agent, s.app, 'POST', '/signaling/send', { token: pair.sender.token, body: { to: first!.username, type: 'ice', payload } }), 202, 'send');
  const got = expect(await call(agent, s.app, 'GET', pollPath(first!), { token: first!.token }), 200, 'poll');
  if (!(got.signals as Signal[]).some((x) => x.payload === payload)) throw new Error('device 0 did not receive the signal');
  first!.cursor = got.cursor as string;
  await drain(agent, s.app, first!); // acknowledges it
  let received = 0;
  for (const d of others) {
    const body = expect(await call(agent, s.app, 'GET', pollPath(d), { token: d.token }), 200, 'poll');
    if ((body.signals as Signal[]).some((x) => x.payload === payload)) received++;
    d.cursor = body.cursor as string;
  }
  await drainUser(agent, s.app, pair.devices);
  return { others: others.length, received };
}

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const pinned = pinSelf();
  const started = hr();
  const load0 = loadavg();
  const loads: number[] = [load0[0]!];
  const loadTimer = setInterval(() => loads.push(loadavg()[0]!), 5000);
  const log = progress(started);
  const dataDir = mkdtempSync(join(tmpdir(), 'signalbox-fanout-'));
  const dbFile = join(dataDir, 'signalbox.db');
  const server = await startServerProcess(dataDir, SERVER_ENV);
  stopOnInterrupt(() => server.child, dataDir);
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  try {
    log(`server on 127.0.0.1:${server.app} (app) and :${server.bare} (bare Koa); ${pinned ? 'server on CPU 0, driver on CPU 1' : 'unpinned'}`);
    const senders = await pool(
      Array.from({ length: PAIRS }, (_, i) => `fan_snd_${i}`),
      4,
      async (u) => asDevice(await register(agent, server.app, u)),
    );
    const byN = new Map<number, Pair[]>();
    for (const n of DEVICES) {
      const firsts = await pool(
        Array.from({ length: PAIRS }, (_, i) => `fan_rcv${n}_${i}`),
        4,
        async (u) => asDevice(await register(agent, server.app, u)),
      );
      const extra = await pool(
        Array.from({ length: PAIRS * (n - 1) }, (_, i) => firsts[i % PAIRS]!.username),
        LOGIN_CONCURRENCY,
        async (u) => asDevice(await login(agent, server.app, u)),
      );
      const pairs = senders.map((sender, i) => ({ sender, devices: [firsts[i]!, ...extra.filter((_, j) => j % PAIRS === i)] }));
      await pool(pairs, 4, (p) => connect(agent, server.app, p.sender, p.devices[0]!));
      // Server events (connection requested/accepted, where the build writes them) out of the way.
      await pool(pairs, 4, (p) => drainUser(agent, server.app, p.devices));
      byN.set(n, pairs);
    }
    log(
      `registered ${PAIRS} senders and ${PAIRS} recipients per N in ${DEVICES.join(', ')} (devices: ${[...byN.values()].map((ps) => ps[0]!.devices.length).join(', ')})`,
    );

    const bareSeqs: Lat[] = [];
    const bares = new Map<number, Cannon[]>(PAYLOADS.map((b) => [b, []]));
    const indeps = new Map<number, { others: number; received: number }>();
    const runs = new Map<string, CaseRun[]>();
    const key = (n: number, bytes: number) => `${n}:${bytes}`;
    for (let r = 0; r < REPEATS; r++) {
      const bs = await bareSequential(server, agent, SEQUENTIAL);
      bareSeqs.push(bs);
      for (const b of PAYLOADS) bares.get(b)!.push(await bareConcurrent(server, b));
      log(
        `#${r + 1} bare: sequential p50 ${bs.p50.toFixed(3)} ms; ${PAYLOADS.map((b) => `POST ${b} B ${bares.get(b)![r]!.rps.toFixed(0)} req/s p50 ${bares.get(b)![r]!.p50.toFixed(2)} ms`).join('; ')}`,
      );
      for (const n of DEVICES) {
        const pairs = byN.get(n)!;
        if (r === 0 && n > 1) {
          const indep = await independence(server, agent, pairs[0]!);
          indeps.set(n, indep);
          log(`N=${n} independence: ${indep.received} of ${indep.others} other devices received a signal device 0 had acknowledged`);
        }
        for (const bytes of PAYLOADS) {
          const tag = `#${r + 1} N=${n} ${bytes} B`;
          const seq = await sequentialSends(server, agent, pairs[0]!, bytes);
          log(`${tag} sequential: p50 ${seq.p50.toFixed(3)} p95 ${seq.p95.toFixed(3)} p99 ${seq.p99.toFixed(3)} ms (202 devices: ${String(seq.devicesAnswered)})`);
          const conc = await concurrentSends(server, agent, pairs, bytes);
          log(
            `${tag} concurrent: ${conc.rps.toFixed(0)} sends/s in ${conc.seconds.toFixed(2)} s, p50 ${conc.p50.toFixed(2)} p95 ${conc.p95.toFixed(2)} p99 ${conc.p99.toFixed(2)} ms; ` +
              `202s ${conc.ok}, client signals drained ${conc.received} (per device ${conc.receivedPerDevice.min}-${conc.receivedPerDevice.max})`,
          );
          const g = await growth(server, agent, pairs[1] ?? pairs[0]!, bytes, dbFile);
          log(`${tag} growth: ${g.bytesPerSend.toFixed(0)} B/send allocated, ${g.usedPerSend.toFixed(0)} used ${JSON.stringify(g.byObject)}`);
          const d = await delivery(server, agent, pairs[0]!, bytes);
          log(
            `${tag} delivery: first p50 ${d.first.p50.toFixed(3)} p99 ${d.first.p99.toFixed(3)} ms; all ${n}: p50 ${d.last.p50.toFixed(3)} p99 ${d.last.p99.toFixed(3)} ms (${d.last.n} of ${d.n}); ` +
              `devices reached per send ${d.reached.min}-${d.reached.max} (mean ${d.reached.mean.toFixed(2)})`,
          );
          if (!runs.has(key(n, bytes))) runs.set(key(n, bytes), []);
          runs.get(key(n, bytes))!.push({ seq, conc, growth: g, delivery: d });
        }
      }
    }
    clearInterval(loadTimer);
    const load1 = loadavg();
    loads.push(load1[0]!);

    const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '–');
    const m = <T>(xs: T[], get: (x: T) => number) => median(xs.map(get));
    const bareSeqP50 = m(bareSeqs, (x) => x.p50);
    const bareRps = (b: number) => m(bares.get(b)!, (x) => x.rps);
    const lines = [
      '',
      `Machine: ${machine()}; ` +
        `${pinned ? 'server pinned to CPU 0, driver to CPU 1' : 'not pinned'}; load average (1 min) ${load0.map((x) => x.toFixed(2)).join(' ')} at start, ` +
        `${load1.map((x) => x.toFixed(2)).join(' ')} at end, max ${Math.max(...loads).toFixed(2)} during; ${((hr() - started) / 1000).toFixed(0)} s.`,
      `Settings: REPEATS=${REPEATS} PAIRS=${PAIRS} SEQUENTIAL=${SEQUENTIAL} CONNECTIONS=${CONNECTIONS} AMOUNT=${AMOUNT} GROWTH=${GROWTH} DELIVERIES=${DELIVERIES} STRAGGLER_MS=${STRAGGLER_MS} BARE_SECONDS=${BARE_SECONDS}. Medians of the repeats.`,
      `Bare Koa route, sequential GET: p50 ${f(bareSeqP50, 3)} / p95 ${f(
        m(bareSeqs, (x) => x.p95),
        3,
      )} / p99 ${f(
        m(bareSeqs, (x) => x.p99),
        3,
      )} ms; ` +
        PAYLOADS.map(
          (b) =>
            `${CONNECTIONS} connections, POST ${b} B: ${f(bareRps(b), 0)} req/s (${bares
              .get(b)!
              .map((x) => f(x.rps, 0))
              .join(' / ')}), ` + `p50 ${f(m(bares.get(b)!, (x) => x.p50))} / p95 ${f(m(bares.get(b)!, (x) => x.p95))} / p99 ${f(m(bares.get(b)!, (x) => x.p99))} ms`,
        ).join('; ') +
        '.',
      '',
      '| Devices | Payload | Sequential send p50 / p95 / p99 | ×bare p50 | Concurrent sends/s | ×bare | Concurrent p50 / p95 / p99 | Signals drained / 202s | DB bytes per send (allocated / used) | Delivery: first device p50 / p99 | Delivery: all devices p50 / p99 | Devices reached per send |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ];
    const notes: string[] = [];
    for (const n of DEVICES) {
      for (const bytes of PAYLOADS) {
        const rs = runs.get(key(n, bytes))!;
        const seqP50 = m(rs, (x) => x.seq.p50);
        const rps = m(rs, (x) => x.conc.rps);
        const reachedMin = Math.min(...rs.map((x) => x.delivery.reached.min));
        const reachedMax = Math.max(...rs.map((x) => x.delivery.reached.max));
        const allN = rs.reduce((a, x) => a + x.delivery.last.n, 0);
        const total = rs.reduce((a, x) => a + x.delivery.n, 0);
        lines.push(
          `| ${n} | ${bytes / 1024} KiB | ${f(seqP50, 3)} / ${f(
            m(rs, (x) => x.seq.p95),
            3,
          )} / ${f(
            m(rs, (x) => x.seq.p99),
            3,
          )} ms | ${f(seqP50 / bareSeqP50, 1)} | ` +
            `${f(rps, 0)} | ${f((rps / bareRps(bytes)) * 100, 1)} % | ${f(m(rs, (x) => x.conc.p50))} / ${f(m(rs, (x) => x.conc.p95))} / ${f(m(rs, (x) => x.conc.p99))} ms | ` +
            `${rs.reduce((a, x) => a + x.conc.received, 0)} / ${rs.reduce((a, x) => a + x.conc.ok, 0)} | ${f(
              m(rs, (x) => x.growth.bytesPerSend),
              0,
            )} / ${f(
              m(rs, (x) => x.growth.usedPerSend),
              0,
            )} | ` +
            `${f(
              m(rs, (x) => x.delivery.first.p50),
              3,
            )} / ${f(
              m(rs, (x) => x.delivery.first.p99),
              3,
            )} ms | ` +
            `${f(
              m(rs, (x) => x.delivery.last.p50),
              3,
            )} / ${f(
              m(rs, (x) => x.delivery.last.p99),
              3,
            )} ms (${allN} of ${total} sends) | ${reachedMin}${reachedMax !== reachedMin ? `-${reachedMax}` : ''} of ${n} |`,
        );
        notes.push(
          `N=${n}, ${bytes} B, repeats: sequential p50 ${rs.map((x) => f(x.seq.p50, 3)).join(' / ')} ms; concurrent ${rs.map((x) => f(x.conc.rps, 0)).join(' / ')} sends/s; ` +
            `delivery to all p50 ${rs.map((x) => f(x.delivery.last.p50, 3)).join(' / ')} ms; 202 \`devices\`: ${String(rs[0]!.seq.devicesAnswered)}; ` +
            `allocated bytes per send by table/index: ${JSON.stringify(rs[0]!.growth.byObject)}`,
        );
      }
    }
    lines.push(
      '',
      ...[...indeps].map(([n, x]) => `N=${n}: after device 0 read and acknowledged a signal, ${x.received} of ${x.others} other devices still received it.`),
      ...notes,
    );
    const bareSeq = bareSeqs;
    const bare = Object.fromEntries(bares);
    const cases = Object.fromEntries(runs);
    console.log(lines.join('\n'));
    if (env.RESULT_JSON) writeFileSync(env.RESULT_JSON, JSON.stringify({ load0, load1, loads, bareSeq, bare, cases, independence: Object.fromEntries(indeps) }, null, 2));
    log('done');
  } finally {
    clearInterval(loadTimer);
    agent.destroy();
    await stopProcess(server.child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

runBench(main);
