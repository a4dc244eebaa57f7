/**
 * Several instances on one PostgreSQL against one instance on SQLite, in the same run (docs/scaling.md).
 *
 *   npm run bench:scale
 *   DURATION=10 SENDERS=8 ROUNDS=100 npm run bench:scale      # the defaults
 *
 * For each configuration (SQLite × 1, PostgreSQL × 1, × 2, × 3) the built server (`node dist/app/main.js`,
 * what production runs) is started that many times on a fresh database, on 127.0.0.1, each instance with its
 * own DATA_DIR and the same secrets. SENDERS users each send to one recipient of their own, one send at a time,
 * for DURATION s; sender i sends through instance i mod N and its recipient polls (with `after`, as the SDK
 * does) through instance i+1 mod N, so with two or more instances every delivery crosses instances. Measured:
 *   - sends/s: sends answered 202 over the load period (429s and errors counted apart);
 *   - wake-up: a probe device holds GET /signaling/poll?wait=30 on one instance (held, confirmed on /metrics),
 *     another user sends to it through the next instance; from just before the send to the poll's answer.
 *     ROUNDS times with nothing else running ("idle"), then continuously during the load ("under load", the send
 *     LOAD_SETTLE_MS = 50 ms after the poll);
 *   - CPU seconds spent meanwhile by the instances, by PostgreSQL (every `postgres` process) and by this driver,
 *     per 1,000 sends, and the load average, to say what bounds the figures on this machine.
 * PostgreSQL is the cluster DATABASE_URL names, else a private one started by scripts/test-postgres.sh
 * (and stopped at the end). Everything is on loopback, bounded in count and time, and killed at the end.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { call, connect, expect, metric, rateLimitsOff, register as registerUser, startBuiltServer, stopProcess, type BenchUser as User } from './fixture.js';
import { hr, knob, knobText, loadAverage, machine, percentile, runBench } from './measure.js';

const env = process.env;
const DURATION = knob('DURATION', 10, 2);
const SENDERS = knob('SENDERS', 8, 2);
const ROUNDS = knob('ROUNDS', 100, 10);
/** Under load, how long after the probe's poll its send goes (see wakeOnce). */
const LOAD_SETTLE_MS = knob('LOAD_SETTLE_MS', 50, 50);
const PAYLOAD = 'x'.repeat(knob('PAYLOAD_BYTES', 512, 512));
// The smoke run has no PostgreSQL (plain `npm test` needs none): SQLite only.
const CONFIGS = knobText('CONFIGS', 'sqlite:1,postgres:1,postgres:2,postgres:3', 'sqlite:1')
  .split(',')
  .map((c) => {
    const [store, n] = c.split(':');
    return { store: store as 'sqlite' | 'postgres', instances: Number(n) };
  });

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// ---------------------------------------------------------------------------------------------------
// PostgreSQL: the cluster, a fresh database per configuration.

let startedCluster = false;
function clusterUrl(): string {
  if (env.DATABASE_URL) return env.DATABASE_URL;
  startedCluster = true;
  return execFileSync('bash', [join(ROOT, 'scripts/test-postgres.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const withDatabase = (url: string, name: string) => {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
};

// ---------------------------------------------------------------------------------------------------
// CPU seconds from /proc: the instances, PostgreSQL's processes, this driver.

const TICKS = 100; // USER_HZ on Linux
function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS; // utime, stime
  } catch {
    return 0;
  }
}
function postgresCpuSeconds(): number {
  let sum = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres') sum += cpuSecondsOf(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return sum;
}
const selfCpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

// ---------------------------------------------------------------------------------------------------
// Instances.

interface Instance {
  port: number;
  child: ChildProcess;
}

/** One instance of the build (bench/fixture.ts startBuiltServer): its own DATA_DIR, the same secrets as the others. */
const startInstance = (storeEnv: Record<string, string>): Promise<Instance> => startBuiltServer({ ...rateLimitsOff(), ...storeEnv });

const stopInstances = (instances: Instance[]) => Promise.all(instances.map(({ child }) => stopProcess(child)));

// ---------------------------------------------------------------------------------------------------
// Users, through the API (production argon2: a registration costs a hash).

let userCounter = 0;
const register = (agent: Agent, port: number, prefix: string): Promise<User> =>
  registerUser(agent, port, `${prefix}${++userCounter}_${Math.random().toString(36).slice(2, 6)}`);

const pair = (agent: Agent, port: number, a: User, b: User) => connect(agent, port, a, b, { clear: true });

const heldPolls = (agent: Agent, port: number) => metric(agent, port, 'signalbox_held_polls');

// ---------------------------------------------------------------------------------------------------
// One configuration.

interface Result {
  config: string;
  sendsPerSecond: number;
  refused429: number;
  errors: number;
  idleP50: number;
  idleP99: number;
  loadP50: number;
  loadP99: number;
  loadRounds: number;
  cpuPer1000: { instances: number; postgres: number; driver: number };
  load: string;
}

/**
 * A probe: the poll held on `pollPort`, the send through `sendPort`; ms from the send to the answer. Idle, the
 * poll is confirmed held on /metrics first. Under load the recipients' polls come and go on the same
 * instance, so the count cannot single the probe's out: the send follows the poll after `settleMs` instead
 * (a poll not yet held by then answers the signal at once, which the figure then undercounts).
 */
async function wakeOnce(
  agentPoll: Agent,
  agentSend: Agent,
  agentMetrics: Agent,
  pollPort: number,
  sendPort: number,
  from: User,
  to: User,
  cursor: { after?: string },
  settleMs?: number,
): Promise<number> {
  const q = cursor.after ? `after=${encodeURIComponent(cursor.after)}&` : '';
  const held = call(agentPoll, pollPort, 'GET', `/signaling/poll?${q}wait=30`, { token: to.token });
  if (settleMs !== undefined) await sleep(settleMs);
  else {
    const deadline = Date.now() + 10_000;
    while ((await heldPolls(agentMetrics, pollPort)) < 1) {
      if (Date.now() > deadline) throw new Error('probe poll not held within 10 s');
      await sleep(2);
    }
  }
  const t0 = hr();
  expect(
    await call(agentSend, sendPort, 'POST', '/signaling/send', { token: from.token, body: { to: to.username, type: 'custom', payload: PAYLOAD } }),
    202,
    'probe send',
  );
  const body = expect(await held, 200, 'probe poll');
  const took = hr() - t0;
  if ((body.signals as unknown[]).length !== 1) throw new Error(`probe poll answered ${(body.signals as unknown[]).length} signals`);
  cursor.after = body.cursor as string;
  return took;
}

async function runConfig(store: 'sqlite' | 'postgres', n: number, pgUrl: string | undefined): Promise<Result> {
  let storeEnv: Record<string, string> = {};
  let dropDatabase = async () => {};
  if (store === 'postgres') {
    const name = `signalbox_scale_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    await adminQuery(pgUrl!, `CREATE DATABASE ${name}`);
    dropDatabase = () => adminQuery(pgUrl!, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    storeEnv = { STORE: 'postgres', DATABASE_URL: withDatabase(pgUrl!, name) };
  }
  const instances: Instance[] = [];
  try {
    // The first migrates; the others start on the migrated database.
    instances.push(await startInstance(storeEnv));
    instances.push(...(await Promise.all(Array.from({ length: n - 1 }, () => startInstance(storeEnv)))));
    const ports = instances.map((i) => i.port);
    const setup = new Agent({ keepAlive: true, maxSockets: 4 });
    const senders: User[] = [];
    const recipients: User[] = [];
    for (let i = 0; i < SENDERS; i++) {
      senders.push(await register(setup, ports[i % n]!, 's'));
      recipients.push(await register(setup, ports[(i + 1) % n]!, 'r'));
      await pair(setup, ports[0]!, senders[i]!, recipients[i]!);
    }
    const probeFrom = await register(setup, ports[0]!, 'pf');
    const probeTo = await register(setup, ports[0]!, 'pt');
    await pair(setup, ports[0]!, probeFrom, probeTo);
    setup.destroy();

    const probeAgents = [
      new Agent({ keepAlive: true, maxSockets: 1 }),
      new Agent({ keepAlive: true, maxSockets: 1 }),
      new Agent({ keepAlive: true, maxSockets: 2 }),
    ] as const;
    const probePoll = ports[1 % n]!;
    const probeSend = ports[0]!;
    const cursor: { after?: string } = {};
    // Idle: nothing else runs.
    const idle: number[] = [];
    for (let r = 0; r < ROUNDS; r++) idle.push(await wakeOnce(...probeAgents, probePoll, probeSend, probeFrom, probeTo, cursor));

    // Under load: SENDERS senders, their recipients draining, and the probe going on meanwhile.
    let running = true;
    let sent = 0;
    let refused429 = 0;
    let errors = 0;
    const before = {
      instances: instances.reduce((s, i) => s + cpuSecondsOf(i.child.pid!), 0),
      postgres: store === 'postgres' ? postgresCpuSeconds() : 0,
      driver: selfCpuSeconds(),
    };
    const loadBefore = loadavg()[0]!;
    const started = hr();
    const sendLoops = senders.map(async (s, i) => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const port = ports[i % n]!;
      while (running) {
        const r = await call(agent, port, 'POST', '/signaling/send', { token: s.token, body: { to: recipients[i]!.username, type: 'custom', payload: PAYLOAD } }).catch(
          () => null,
        );
        if (r?.status === 202) sent++;
        else if (r?.status === 429) {
          refused429++;
          await sleep(5);
        } else errors++;
      }
      agent.destroy();
    });
    const pollLoops = recipients.map(async (u, i) => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const port = ports[(i + 1) % n]!;
      let after: string | undefined;
      while (running) {
        const q = after ? `after=${encodeURIComponent(after)}&` : '';
        const r = await call(agent, port, 'GET', `/signaling/poll?${q}wait=2`, { token: u.token }).catch(() => null);
        if (r?.status === 200) after = (JSON.parse(r.body) as { cursor: string }).cursor;
        else errors++;
      }
      agent.destroy();
    });
    const underLoad: number[] = [];
    const probeLoop = (async () => {
      await sleep(500); // the load first
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by another async task while this one awaits
      while (running) {
        underLoad.push(await wakeOnce(...probeAgents, probePoll, probeSend, probeFrom, probeTo, cursor, LOAD_SETTLE_MS));
      }
    })();
    await sleep(DURATION * 1000);
    running = false;
    const elapsedS = (hr() - started) / 1000;
    await Promise.all([...sendLoops, probeLoop]);
    const after = {
      instances: instances.reduce((s, i) => s + cpuSecondsOf(i.child.pid!), 0),
      postgres: store === 'postgres' ? postgresCpuSeconds() : 0,
      driver: selfCpuSeconds(),
    };
    await Promise.all(pollLoops);
    for (const a of probeAgents) a.destroy();
    const per1000 = (x: number) => Math.round((x / Math.max(sent, 1)) * 1000 * 100) / 100;
    return {
      config: `${store} × ${n}`,
      sendsPerSecond: Math.round(sent / elapsedS),
      refused429,
      errors,
      idleP50: percentile(idle, 50),
      idleP99: percentile(idle, 99),
      loadP50: percentile(underLoad, 50),
      loadP99: percentile(underLoad, 99),
      loadRounds: underLoad.length,
      cpuPer1000: {
        instances: per1000(after.instances - before.instances),
        postgres: per1000(after.postgres - before.postgres),
        driver: per1000(after.driver - before.driver),
      },
      load: `${loadBefore.toFixed(2)} → ${loadavg()[0]!.toFixed(2)}`,
    };
  } finally {
    await stopInstances(instances);
    await dropDatabase().catch(() => {});
  }
}

async function main(): Promise<void> {
  const needsPg = CONFIGS.some((c) => c.store === 'postgres');
  const pgUrl = needsPg ? clusterUrl() : undefined;
  console.log(`bench:scale — ${new Date().toISOString().slice(0, 10)}, ${machine()}, load average ${loadAverage()}`);
  console.log(`DURATION=${DURATION} s, SENDERS=${SENDERS}, ROUNDS=${ROUNDS}, payload ${PAYLOAD.length} B; PostgreSQL: ${pgUrl ? new URL(pgUrl).host : '-'}`);
  const results: Result[] = [];
  try {
    for (const c of CONFIGS) {
      const r = await runConfig(c.store, c.instances, pgUrl);
      results.push(r);
      console.error(JSON.stringify(r));
    }
  } finally {
    if (startedCluster) execFileSync('bash', [join(ROOT, 'scripts/test-postgres.sh'), 'stop'], { stdio: 'inherit' });
  }
  const f = (x: number) => x.toFixed(1);
  console.log('');
  console.log(
    '| Configuration | Sends/s | 429 / errors | Wake-up idle p50 / p99 | Wake-up under load p50 / p99 (rounds) | CPU s per 1,000 sends: instances / PostgreSQL / driver | Load average (1 min) |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(
      `| ${r.config} | ${r.sendsPerSecond} | ${r.refused429} / ${r.errors} | ${f(r.idleP50)} / ${f(r.idleP99)} ms | ${f(r.loadP50)} / ${f(r.loadP99)} ms (${r.loadRounds}) | ${r.cpuPer1000.instances} / ${r.cpuPer1000.postgres} / ${r.cpuPer1000.driver} | ${r.load} |`,
    );
  }
}

runBench(main);
