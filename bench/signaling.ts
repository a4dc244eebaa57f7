/**
 * Signal mailbox benchmarks (bench/README.md), side by side with their baselines in the same server process:
 * a bare node:http route, a bare Koa route and an in-memory long-poll relay (bench/relay.ts).
 *
 *   npm run bench:signaling
 *   REPEATS=3 DURATION=10 WARMUP=2 CONNECTIONS=50 npm run bench:signaling     # the defaults
 *
 * The server (bench/signalingServer.ts) runs in its own process pinned to CPU 0; this driver pins itself to
 * CPU 1 (re-executing under `taskset -c 1` when it is not already). Users are registered and connected
 * through the HTTP API. Every figure is measured REPEATS times and the median quoted.
 *
 * A held poll is one device's: since the poll caps (one held poll per session, a newer one answering the older
 * at once) every idle poll slot has its own session, from its own login, POLL_USERS users with
 * ceil(max(HELD_POLLS, IDLE_POLLS) / POLL_USERS) sessions each. The server gets POLLS_PER_USER and POLLS_MAX
 * raised so that neither binds (a deployment with the defaults would refuse what this does, on purpose),
 * and after each delivery and capacity run the driver checks on /metrics that no poll was replaced or refused.
 * The server also gets MAILBOX_PER_SENDER raised (4: one sender fills its recipient's mailbox).
 *
 *   1. authenticated empty short-poll (GET /signaling/poll) vs a bare node:http route and a bare Koa route in
 *      the same server process, in the same run: autocannon, CONNECTIONS connections for DURATION s after
 *      WARMUP s each; requests/s, p99, server CPU per request and the ratios by both;
 *   2. one-at-a-time delivery latency with IDLE_POLLS other idle long-polls held: the recipient holds
 *      GET /signaling/poll?wait=30 (confirmed held through /metrics, outside the timing), the sender POSTs
 *      /signaling/send; from just before the send to the poll's answer fully read; DELIVERIES rounds, and as
 *      many against the relay, interleaved in blocks with the same timing points; p50, p99 and the ratios;
 *   3. held-poll capacity: HELD_POLLS idle long-polls over POLL_USERS users (one session per poll), each
 *      repeat in a fresh server process on the same DATA_DIR; server RSS and event-loop delay (from the bare server's /stats), RSS with
 *      none held, KB per held poll; once more at the end, after the throughput runs;
 *   4. send throughput into PAIRS mailboxes with SQLite on disk: autocannon, each connection cycling through
 *      the PAIRS sender→recipient pairs; afterwards the 202s are checked against signalbox_signals_sent_total
 *      and against the signals actually drained from the mailboxes;
 *   5. (bench/README.md) sends while HELD_POLLS polls are held, each send waking one (`toDevice`), LOAD_SENDERS
 *      senders one send at a time each for LOAD_SECONDS, in a fresh server: sends/s, send → woken poll
 *      delivery p50/p99, and RSS every 2 s against the idle-held RSS before the first send (highest, and
 *      whether the last third of the samples rose).
 * STORE=postgres runs the app on PostgreSQL, one instance on a fresh database (bench/README.md); SQLite otherwise.
 * Held polls are opened at OPEN_RATE per second (default 2,000: the event-loop figure in bench/README.md).
 *
 * Everything is on 127.0.0.1, bounded in count and time, and the server is killed at the end (or on error).
 */
import { Agent, request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import {
  call,
  connect,
  expect,
  freshPostgresDatabase,
  login,
  metric,
  metricSum,
  pinSelf,
  register,
  serverStats as stats,
  startServerProcess,
  stopOnInterrupt,
  stopProcess,
  waitHeld,
  type BenchDatabase,
  type BenchUser as User,
  type Reply,
  type ServerProcess as ServerInfo,
} from './fixture.js';
import {
  assertClean,
  cannon,
  hr,
  progress,
  knob,
  knobText,
  loadAverage,
  machine,
  mb,
  median,
  percentile,
  pool,
  runBench,
  settle,
  SMOKE,
  type Cannon,
} from './measure.js';

const env = process.env;
const REPEATS = knob('REPEATS', 3, 1);
const DURATION = knob('DURATION', 10, 0.5);
const WARMUP = knob('WARMUP', 2, 0.5);
const CONNECTIONS = knob('CONNECTIONS', 50, 4);
const IDLE_POLLS = knob('IDLE_POLLS', 1000, 20);
const HELD_POLLS = knob('HELD_POLLS', 10_000, 40);
const DELIVERIES = knob('DELIVERIES', 300, 10);
const PAIRS = knob('PAIRS', 100, 4);
const POLL_USERS = knob('POLL_USERS', 100, 4);
const SAMPLE_SECONDS = knob('SAMPLE_SECONDS', 5, 1);
/** Held polls are opened at this rate (bench/README.md: event-loop delay while 10,000 open at 2,000/s). */
const OPEN_RATE = knob('OPEN_RATE', 2000, 2000);
/** The load figure: concurrent senders, each send to one device of a poll user, for LOAD_SECONDS. */
const LOAD_SENDERS = knob('LOAD_SENDERS', 8, 2);
const LOAD_SECONDS = knob('LOAD_SECONDS', 30, 2);
/** Logins at once while creating the sessions: at most the hasher's per-caller share (8), all from 127.0.0.1. */
const LOGIN_CONCURRENCY = knob('LOGIN_CONCURRENCY', 8, 8);
/** Sent payload: about the size of an encrypted ICE candidate or a small SDP fragment. */
const PAYLOAD = 'x'.repeat(knob('PAYLOAD_BYTES', 512, 512));
/** Which figures to measure (all by default), e.g. BENCHES=poll,send while profiling. */
const BENCHES = new Set((env.BENCHES ?? 'poll,delivery,capacity,send,load').split(','));
/**
 * The app's store: `sqlite` (on disk in the run's DATA_DIR) or `postgres` (one instance on a fresh database of
 * the cluster DATABASE_URL names, else of scripts/test-postgres.sh's private cluster). The bare routes and the
 * relay are the same either way.
 */
const STORE = knobText('STORE', 'sqlite', 'sqlite');
if (STORE !== 'sqlite' && STORE !== 'postgres') throw new Error(`STORE=${STORE}: sqlite or postgres`);
/** Extra node flags for the server process, e.g. SERVER_NODE_OPTIONS=--cpu-prof. */
const SERVER_NODE_OPTIONS = (env.SERVER_NODE_OPTIONS ?? '').split(' ').filter(Boolean);
/** Sessions (devices) per idle-poll user: one held poll per session, so one per slot. */
const SESSIONS_PER_USER = Math.ceil(Math.max(BENCHES.has('capacity') || BENCHES.has('load') ? HELD_POLLS : 0, BENCHES.has('delivery') ? IDLE_POLLS : 0, 1) / POLL_USERS);
/**
 * The poll caps the bench server runs with: high enough that neither binds. Every slot user holds
 * SESSIONS_PER_USER polls (production default: 8 per user), and the total is at most
 * max(HELD_POLLS, IDLE_POLLS + 1) (production default: half the open-file limit, at most 32,768; on a
 * machine with `ulimit -n` 20000 that is exactly 10,000), plus room so a cap is never what is measured.
 */
const SERVER_POLL_CAPS = {
  POLLS_PER_USER: String(Math.max(8, SESSIONS_PER_USER)),
  POLLS_MAX: String(Math.max(HELD_POLLS, IDLE_POLLS + 1) + 100),
  // Since per-device mailboxes (docs/architecture.md) a login past DEVICES_MAX (default 10) ends the user's least
  // recently seen session: every slot's session must stay alive.
  DEVICES_MAX: String(Math.max(10, SESSIONS_PER_USER)),
};

/** Polls replaced or refused at a cap so far (signalbox_polls_refused_total, all reasons): must not move during a run. */
const refusedPolls = async (agent: Agent, port: number) => Object.values(await metricSum(agent, port, 'signalbox_polls_refused_total')).reduce((a, b) => a + b, 0);
const assertNoneRefused = async (agent: Agent, port: number, before: number, what: string) => {
  const after = await refusedPolls(agent, port);
  if (after !== before)
    throw new Error(`${what}: ${after - before} polls replaced or refused at a cap (${JSON.stringify(await metricSum(agent, port, 'signalbox_polls_refused_total'))})`);
};

// ---------------------------------------------------------------------------------------------------
// Idle long-polls: each slot holds GET /signaling/poll?wait=30 and re-issues it when it ends. Slot i uses
// slots[i], a session of its own: a second poll of the same session would answer the first at once.

/**
 * Every slot polls again with its last answer's cursor, acknowledging what it was handed (server events
 * such as `connection.accepted` are in the mailboxes from the setup: the first poll answers them at once,
 * the next one holds). `onSignals`, when given, gets every non-empty answer's entries and the time it was read.
 */
function holdPolls(
  port: number,
  slots: User[],
  count: number,
  opts: { rate?: number; onSignals?: (signals: Array<{ payload: string }>, at: number) => void } = {},
): { stop(): Promise<void>; errors: () => number; opened: Promise<void> } {
  if (slots.length < count) throw new Error(`${count} poll slots need as many sessions, have ${slots.length}`);
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: count });
  const live = new Set<ReturnType<typeof httpRequest>>();
  const cursors: Array<string | undefined> = [];
  let stopped = false;
  let errors = 0;
  const onSignals = opts.onSignals;
  const slot = (i: number) => {
    if (stopped) return;
    const user = slots[i]!;
    const after = cursors[i] ? `&after=${encodeURIComponent(cursors[i])}` : '';
    const req = httpRequest({ host: '127.0.0.1', port, path: `/signaling/poll?wait=30${after}`, agent, headers: { authorization: `Bearer ${user.token}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        live.delete(req);
        if (res.statusCode !== 200) errors++;
        else {
          const at = hr();
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { signals: Array<{ payload: string }>; cursor: string };
          cursors[i] = body.cursor;
          if (body.signals.length > 0) onSignals?.(body.signals, at);
        }
        slot(i);
      });
    });
    req.on('error', () => {
      live.delete(req);
      if (stopped) return;
      errors++;
      setTimeout(() => slot(i), 200);
    });
    live.add(req);
    req.end();
  };
  // Opened in batches every 25 ms, `rate` a second (OPEN_RATE by default), so the listen backlog never
  // overflows (a dropped SYN costs a 1 s retransmit).
  const batch = Math.max(1, Math.round(((opts.rate ?? OPEN_RATE) * 25) / 1000));
  const opening = (async () => {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by another async task while this one awaits
    for (let i = 0; i < count && !stopped; i += batch) {
      for (let j = i; j < Math.min(count, i + batch); j++) slot(j);
      await sleep(25);
    }
  })();
  return {
    errors: () => errors,
    opened: opening,
    async stop() {
      stopped = true;
      await opening;
      for (const req of live) req.destroy();
      live.clear();
      agent.destroy();
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// The benchmarks.

/** `run`'s result with the server's CPU time per answered request (all three routes live in one process). */
async function withServerCpu(agent: Agent, s: ServerInfo, run: () => Promise<Cannon>): Promise<Cannon> {
  const before = await stats(agent, s.bare);
  const result = await run();
  const after = await stats(agent, s.bare);
  return { ...result, cpuUs: (after.cpuMicros - before.cpuMicros) / Math.max(1, result.ok) };
}

async function shortPoll(s: ServerInfo, agent: Agent, users: User[]): Promise<{ app: Cannon; bare: Cannon; node: Cannon }> {
  const run = async (url: string, withAuth: boolean, duration: number) => {
    let k = 0;
    const setupClient = (client: autocannon.Client) => {
      if (withAuth) client.setHeaders({ authorization: `Bearer ${users[k++ % users.length]!.token}` });
    };
    return withServerCpu(agent, s, () => cannon({ url, connections: CONNECTIONS, duration, setupClient }, 200));
  };
  const nodeUrl = `http://127.0.0.1:${s.node}/`;
  const bareUrl = `http://127.0.0.1:${s.bare}/`;
  const appUrl = `http://127.0.0.1:${s.app}/signaling/poll`;
  await run(nodeUrl, false, WARMUP);
  const node = await run(nodeUrl, false, DURATION);
  await run(bareUrl, false, WARMUP);
  const bare = await run(bareUrl, false, DURATION);
  await run(appUrl, true, WARMUP);
  const app = await run(appUrl, true, DURATION);
  assertClean(node, 'bare node route');
  assertClean(bare, 'bare route');
  assertClean(app, 'short poll');
  return { app, bare, node };
}

/** One side's delivery times (ms) in one repeat. */
interface DeliverySide {
  p50: number;
  p99: number;
  n: number;
}

/**
 * One delivery round trip on one side: `hold` sends the held poll, `held` resolves once the server holds it
 * (untimed), then the time from just before `send` to the poll's answer fully read, its one signal checked.
 */
async function deliverOnce(
  hold: () => Promise<Reply>,
  held: () => Promise<void>,
  send: () => Promise<Reply>,
  payload: string,
): Promise<{ ms: number; body: Record<string, unknown> }> {
  const answer = hold();
  await held();
  const t0 = hr();
  const sent = send();
  const got = await answer;
  const t1 = hr();
  const body = expect(got, 200, 'held poll');
  const signals = body.signals as Array<{ payload: string }>;
  if (signals.length !== 1 || signals[0]!.payload !== payload) throw new Error(`poll answered ${signals.length} signals, not the one sent`);
  expect(await sent, 202, 'send');
  return { ms: t1 - t0, body };
}

/** Timed rounds per block: the two sides alternate in blocks this long, so both meet the same neighbours. */
const DELIVERY_BLOCK = 50;

/**
 * Send -> held poll on Signalbox and on bench/relay.ts (the in-memory relay in the same server process),
 * interleaved in blocks of DELIVERY_BLOCK timed rounds (the side going first alternating), DELIVERIES timed
 * rounds per side after WARM untimed ones each, with the same IDLE_POLLS idle polls held on the app throughout,
 * the same client Agent settings and the same timing points.
 */
async function delivery(s: ServerInfo, agent: Agent, slots: User[], sender: User, recipient: User): Promise<{ app: DeliverySide; relay: DeliverySide }> {
  const refused0 = await refusedPolls(agent, s.app);
  const idle = holdPolls(s.app, slots, IDLE_POLLS);
  const own = new Agent({ keepAlive: true, maxSockets: 4 });
  const relayAgent = new Agent({ keepAlive: true, maxSockets: 4 });
  try {
    await waitHeld(agent, s.app, IDLE_POLLS);
    let cursor = expect(await call(own, s.app, 'GET', '/signaling/poll', { token: recipient.token }), 200, 'first poll').cursor as string;
    const payloadOf = (side: string, i: number) => `${PAYLOAD.slice(0, -9)}${side}${String(i).padStart(8, '0')}`;
    const appRound = async (i: number) => {
      const payload = payloadOf('a', i);
      const { ms, body } = await deliverOnce(
        () => call(own, s.app, 'GET', `/signaling/poll?wait=30&after=${encodeURIComponent(cursor)}`, { token: recipient.token }),
        // Held for sure: the idle slots are at most IDLE_POLLS, so one more is the recipient's.
        () => waitHeld(agent, s.app, IDLE_POLLS + 1, { timeoutMs: 10_000, pauseMs: 1 }),
        () => call(own, s.app, 'POST', '/signaling/send', { token: sender.token, body: { to: recipient.username, type: 'ice', payload } }),
        payload,
      );
      cursor = body.cursor as string;
      return ms;
    };
    // Confirmed held on the setup agent, as the app's poll is through /metrics: the timed agent does the same on both sides.
    const relayHeld = async () => {
      const deadline = Date.now() + 10_000;
      while ((expect(await call(agent, s.relay, 'GET', '/held'), 200, 'relay held').held as number) < 1) {
        if (Date.now() > deadline) throw new Error('relay: the poll was not held within 10 s');
        await sleep(1);
      }
    };
    const relayRound = async (i: number) => {
      const payload = payloadOf('r', i);
      const { ms } = await deliverOnce(
        () => call(relayAgent, s.relay, 'GET', `/poll?user=${recipient.username}&wait=30`),
        relayHeld,
        () => call(relayAgent, s.relay, 'POST', '/send', { body: { to: recipient.username, payload } }),
        payload,
      );
      return ms;
    };
    const WARM = 20;
    for (let i = 0; i < WARM; i++) {
      await appRound(i);
      await relayRound(i);
    }
    const times = { app: [] as number[], relay: [] as number[] };
    for (let done = 0, block = 0; done < DELIVERIES; done += DELIVERY_BLOCK, block++) {
      const n = Math.min(DELIVERY_BLOCK, DELIVERIES - done);
      const order = block % 2 === 0 ? (['app', 'relay'] as const) : (['relay', 'app'] as const);
      for (const side of order) for (let i = 0; i < n; i++) times[side].push(await (side === 'app' ? appRound : relayRound)(WARM + done + i));
    }
    expect(await call(own, s.app, 'POST', '/signaling/ack', { token: recipient.token, body: { upTo: cursor } }), 204, 'ack');
    if (idle.errors() > 0) throw new Error(`${idle.errors()} idle polls failed`);
    await assertNoneRefused(agent, s.app, refused0, 'delivery');
    const side = (xs: number[]): DeliverySide => ({ p50: percentile(xs, 50), p99: percentile(xs, 99), n: xs.length });
    return { app: side(times.app), relay: side(times.relay) };
  } finally {
    await idle.stop();
    own.destroy();
    relayAgent.destroy();
    await waitHeld(agent, s.app, 0, { exactly: true });
  }
}

interface Capacity {
  baseRss: number;
  baseRssGc: number;
  heldRss: number;
  heldRssGc: number;
  heapUsed: number;
  baseHeapUsed: number;
  kbPerPoll: number;
  kbPerPollGc: number;
  loopP99: number;
  loopMax: number;
  rampSeconds: number;
  rampLoopP99: number;
  rampLoopMax: number;
}

async function capacity(s: ServerInfo, agent: Agent, slots: User[]): Promise<Capacity> {
  await waitHeld(agent, s.app, 0, { exactly: true });
  const refused0 = await refusedPolls(agent, s.app);
  await settle(500);
  const base = await stats(agent, s.bare);
  const baseGc = await stats(agent, s.bare, '?gc=1&reset=1');
  const t0 = hr();
  const held = holdPolls(s.app, slots, HELD_POLLS);
  try {
    // GET /metrics with 10,000 sockets open is itself dear (prom-client's process metrics list every fd
    // and handle: ~15-20 ms of loop each): asked while the polls open, it was what the loop-delay
    // percentiles measured. So the opening is watched from the driver (every poll sent, then a second
    // for the last answers), the loop delay taken then, and only afterwards /metrics confirms the count.
    await held.opened;
    await settle(1000);
    const ramp = await stats(agent, s.bare, '?reset=1');
    await waitHeld(agent, s.app, HELD_POLLS, { timeoutMs: 60_000, pauseMs: SMOKE ? 50 : 1000 }).catch((err: unknown) => {
      throw new Error(`${err instanceof Error ? err.message : String(err)}; ${held.errors()} poll answers were not 200`);
    });
    const rampSeconds = (hr() - t0) / 1000;
    await stats(agent, s.bare, '?reset=1');
    await sleep(SAMPLE_SECONDS * 1000);
    const sample = await stats(agent, s.bare);
    const sampleGc = await stats(agent, s.bare, '?gc=1');
    if (held.errors() > 0) throw new Error(`${held.errors()} held polls failed`);
    await assertNoneRefused(agent, s.app, refused0, 'capacity');
    return {
      baseRss: base.rss,
      baseRssGc: baseGc.rss,
      heldRss: sample.rss,
      heldRssGc: sampleGc.rss,
      heapUsed: sampleGc.heapUsed,
      baseHeapUsed: baseGc.heapUsed,
      kbPerPoll: (sample.rss - base.rss) / HELD_POLLS / 1024,
      kbPerPollGc: (sampleGc.rss - baseGc.rss) / HELD_POLLS / 1024,
      loopP99: sample.loopDelayMs.p99,
      loopMax: sample.loopDelayMs.max,
      rampSeconds,
      rampLoopP99: ramp.loopDelayMs.p99,
      rampLoopMax: ramp.loopDelayMs.max,
    };
  } finally {
    await held.stop();
    await waitHeld(agent, s.app, 0, { exactly: true });
  }
}

interface SendResult {
  rps: number;
  p99: number;
  /** Server CPU time per answered send, µs. */
  cpuUs: number;
  accepted: number;
  counted: number;
  drained: number;
  /** PostgreSQL's CPU time per answered send, µs (STORE=postgres; NaN when its processes cannot be read). */
  storeCpuUs?: number;
}

/** Reads every pending signal of `user` (acknowledging page by page); returns how many there were. */
async function drain(agent: Agent, port: number, user: User): Promise<number> {
  let n = 0;
  let after = '';
  for (let page = 0; page < 10_000; page++) {
    const body = expect(await call(agent, port, 'GET', `/signaling/poll${after ? `?after=${encodeURIComponent(after)}` : ''}`, { token: user.token }), 200, 'drain');
    const signals = body.signals as unknown[];
    after = body.cursor as string;
    if (signals.length === 0) return n;
    n += signals.length;
  }
  throw new Error('drain did not finish');
}

async function sendThroughput(s: ServerInfo, agent: Agent, pairs: Array<[User, User]>, db: BenchDatabase | undefined): Promise<SendResult> {
  // Pre-built requests (autocannon encodes each once); each connection starts at another pair.
  const requests: autocannon.Request[] = pairs.map(([from, to]) => ({
    method: 'POST',
    path: '/signaling/send',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${from.token}` },
    body: JSON.stringify({ to: to.username, type: 'ice', payload: PAYLOAD }),
  }));
  const run = (duration: number) => {
    let k = 0;
    const setupClient = (client: autocannon.Client) => {
      const start = (k++ * 7) % requests.length;
      client.setRequests([...requests.slice(start), ...requests.slice(0, start)].map((r) => ({ ...r })));
    };
    return cannon({ url: `http://127.0.0.1:${s.app}`, connections: CONNECTIONS, duration, requests, setupClient }, 202);
  };
  // The setup's server events (connection.accepted) out of the way: afterwards every drained entry is a send's.
  await pool(pairs, 10, ([, to]) => drain(agent, s.app, to));
  const before = await metric(agent, s.app, 'signalbox_signals_sent_total');
  const warm = await run(WARMUP);
  const dbCpu0 = db?.cpuSeconds();
  const measured = await withServerCpu(agent, s, () => run(DURATION));
  const storeCpuUs = db ? ((db.cpuSeconds() - dbCpu0!) * 1e6) / Math.max(1, measured.ok) : undefined;
  assertClean(warm, 'send warm-up');
  assertClean(measured, 'send');
  await sleep(200); // requests in flight when autocannon stopped still complete on the server
  const counted = (await metric(agent, s.app, 'signalbox_signals_sent_total')) - before;
  const drained = (await pool(pairs, 10, ([, to]) => drain(agent, s.app, to))).reduce((a, b) => a + b, 0);
  return {
    rps: measured.rps,
    p99: measured.p99,
    cpuUs: measured.cpuUs!,
    accepted: warm.ok + measured.ok,
    counted,
    drained,
    ...(storeCpuUs !== undefined ? { storeCpuUs } : {}),
  };
}

interface LoadResult {
  sendsPerSecond: number;
  sendP99: number;
  deliveryP50: number;
  deliveryP99: number;
  delivered: number;
  sent: number;
  idleHeldRss: number;
  rssSamples: number[];
  /** V8 heap used and external (Buffers, ArrayBuffers) at each RSS sample. */
  heapSamples: number[];
  externalSamples: number[];
  loopP99: number;
  loopMax: number;
}

/** Above this rise (mean of the last third of the RSS samples over the middle third's) the load's RSS is "rising", not flat. */
const RSS_RISE_FLAT = 0.05;
const maxOf = (xs: number[]) => Math.max(...xs);

/**
 * The "RSS flat" reading of the load figure: the mean of the last third of the samples against the middle
 * third's. Means, not end points, because a sample just after a major GC sits far below its neighbours.
 */
function rssTrend(samples: number[]): { rise: number; text: string } {
  const third = Math.floor(samples.length / 3);
  if (third === 0) return { rise: NaN, text: 'too few samples' };
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const middle = avg(samples.slice(third, samples.length - third));
  const last = avg(samples.slice(samples.length - third));
  const rise = last / middle - 1;
  return {
    rise,
    text: `last third ${mb(last)} vs middle third ${mb(middle)} (${rise >= 0 ? '+' : ''}${(rise * 100).toFixed(1)} %): ${rise > RSS_RISE_FLAT ? 'rising' : 'flat'}`,
  };
}

/**
 * HELD_POLLS idle long-polls held (opened at OPEN_RATE), then LOAD_SENDERS senders each sending one signal
 * at a time (`toDevice`: each send wakes exactly one held poll) for LOAD_SECONDS. A woken slot reads its
 * answer, notes when each signal arrived and polls again with the new cursor (acknowledging it). Delivery
 * is from just before a send to its signal read by the woken slot. RSS is sampled every 2 s; the idle-held
 * figure is taken after the polls are held and before the first send.
 */
async function loadWithHeldPolls(s: ServerInfo, agent: Agent, slots: User[], senders: User[]): Promise<LoadResult> {
  await waitHeld(agent, s.app, 0, { exactly: true });
  const sentAt = new Map<string, number>();
  const deliveries: number[] = [];
  const onSignals = (signals: Array<{ payload: string }>, at: number) => {
    for (const sig of signals) {
      const t0 = sentAt.get(sig.payload.slice(-12));
      if (t0 !== undefined) deliveries.push(at - t0);
    }
  };
  const held = holdPolls(s.app, slots, HELD_POLLS, { onSignals });
  const senderAgent = new Agent({ keepAlive: true, maxSockets: LOAD_SENDERS });
  try {
    await held.opened;
    await waitHeld(agent, s.app, HELD_POLLS, { timeoutMs: 60_000, pauseMs: SMOKE ? 50 : 1000 });
    await settle(2000);
    const idle = await stats(agent, s.bare, '?reset=1');
    const rssSamples: number[] = [];
    const heapSamples: number[] = [];
    const externalSamples: number[] = [];
    const sampler = setInterval(() => {
      stats(agent, s.bare).then(
        (x) => {
          rssSamples.push(x.rss);
          heapSamples.push(x.heapUsed);
          externalSamples.push(x.external);
        },
        () => {},
      );
    }, 2000);
    let seq = 0;
    let sent = 0;
    const sendTimes: number[] = [];
    const endAt = hr() + LOAD_SECONDS * 1000;
    const t0 = hr();
    await Promise.all(
      senders.slice(0, LOAD_SENDERS).map(async (sender) => {
        while (hr() < endAt) {
          const k = seq++;
          // A stride coprime with HELD_POLLS visits every slot before any slot twice.
          const target = slots[(k * 7919) % HELD_POLLS]!;
          const tag = String(k).padStart(12, '0');
          const payload = `${PAYLOAD.slice(0, -12)}${tag}`;
          const start = hr();
          sentAt.set(tag, start);
          const r = await call(senderAgent, s.app, 'POST', '/signaling/send', {
            token: sender.token,
            body: { to: target.username, toDevice: target.deviceId, type: 'ice', payload },
          });
          expect(r, 202, 'load send');
          sendTimes.push(hr() - start);
          sent++;
        }
      }),
    );
    const elapsed = (hr() - t0) / 1000;
    clearInterval(sampler);
    await sleep(500); // the last woken polls' answers
    const end = await stats(agent, s.bare);
    rssSamples.push(end.rss);
    heapSamples.push(end.heapUsed);
    externalSamples.push(end.external);
    if (held.errors() > 0) throw new Error(`${held.errors()} held polls failed during the load`);
    if (deliveries.length < sent * 0.99) throw new Error(`only ${deliveries.length} of ${sent} signals reached their held poll`);
    return {
      sendsPerSecond: sent / elapsed,
      sendP99: percentile(sendTimes, 99),
      deliveryP50: percentile(deliveries, 50),
      deliveryP99: percentile(deliveries, 99),
      delivered: deliveries.length,
      sent,
      idleHeldRss: idle.rss,
      rssSamples,
      heapSamples,
      externalSamples,
      loopP99: end.loopDelayMs.p99,
      loopMax: end.loopDelayMs.max,
    };
  } finally {
    senderAgent.destroy();
    await held.stop();
    await waitHeld(agent, s.app, 0, { exactly: true });
  }
}

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const pinned = pinSelf();
  const started = hr();
  const load0 = loadAverage();
  // SQLite (or PostgreSQL's database) lives here, for the whole run: capacity is measured in fresh server
  // processes on it.
  const dataDir = mkdtempSync(join(tmpdir(), 'signalbox-bench-'));
  const db = STORE === 'postgres' ? await freshPostgresDatabase('signalbox_bench') : undefined;
  const serverEnv = { ...SERVER_POLL_CAPS, STORE, ...(db ? { DATABASE_URL: db.url } : {}) };
  const storeText = db ? `PostgreSQL (${new URL(db.url).host}, ${db.settings})` : 'SQLite on disk';
  let server = await startServerProcess(dataDir, serverEnv, SERVER_NODE_OPTIONS).catch(async (err: unknown) => {
    rmSync(dataDir, { recursive: true, force: true });
    await db?.drop();
    throw err;
  });
  stopOnInterrupt(
    () => server.child,
    dataDir,
    () => db?.drop(),
  );
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const restart = async () => {
    agent.destroy();
    await stopProcess(server.child);
    server = await startServerProcess(dataDir, serverEnv, SERVER_NODE_OPTIONS);
  };
  try {
    const log = progress(started);
    log(
      `store: ${storeText}; server on 127.0.0.1:${server.app} (app), :${server.bare} (bare Koa), :${server.node} (bare node:http), :${server.relay} (relay); ` +
        (pinned ? 'server on CPU 0, driver on CPU 1' : 'unpinned'),
    );

    const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}_${i}`);
    const pollUsers = await pool(names('idle', POLL_USERS), 4, (u) => register(agent, server.app, u));
    // The load figure's senders, each connected to every poll user (so it may send to any slot's device),
    // before the other sessions exist: the connection events land in the first session's mailbox only.
    const loadSenders = BENCHES.has('load') ? await pool(names('ld', LOAD_SENDERS), 4, (u) => register(agent, server.app, u)) : [];
    if (loadSenders.length > 0) {
      await pool(
        loadSenders.flatMap((a) => pollUsers.map((b) => [a, b] as [User, User])),
        8,
        ([a, b]) => connect(agent, server.app, a, b),
      );
      log(`${LOAD_SENDERS} load senders connected to the ${POLL_USERS} poll users`);
    }
    await pool(pollUsers, 8, (u) => drain(agent, server.app, u));
    // One session per idle poll slot: registration gave each user its first, logins the rest. Slot i is
    // user i % POLL_USERS's session i / POLL_USERS, so any first n slots spread evenly over the users.
    const tLogin = hr();
    const extra = await pool(
      Array.from({ length: POLL_USERS * (SESSIONS_PER_USER - 1) }, (_, i) => pollUsers[i % POLL_USERS]!.username),
      LOGIN_CONCURRENCY,
      (u) => login(agent, server.app, u),
    );
    const slots = [...pollUsers, ...extra];
    if (new Set(slots.map((u) => u.token)).size !== slots.length) throw new Error('two logins returned the same token');
    log(
      `${POLL_USERS} poll users with ${SESSIONS_PER_USER} sessions each (${extra.length} logins in ${((hr() - tLogin) / 1000).toFixed(1)} s, ${LOGIN_CONCURRENCY} at once)`,
    );
    const [sender, recipient] = await pool(['dl_sender', 'dl_recipient'], 2, (u) => register(agent, server.app, u));
    await connect(agent, server.app, sender!, recipient!);
    const senders = await pool(names('snd', PAIRS), 4, (u) => register(agent, server.app, u));
    const recipients = await pool(names('rcv', PAIRS), 4, (u) => register(agent, server.app, u));
    const pairs = senders.map((snd, i) => [snd, recipients[i]!] as [User, User]);
    await pool(pairs, 4, ([a, b]) => connect(agent, server.app, a, b));
    log(`registered ${POLL_USERS + 2 + 2 * PAIRS} users, ${PAIRS + 1} connections`);

    const polls: Array<{ app: Cannon; bare: Cannon; node: Cannon }> = [];
    const loads: LoadResult[] = [];
    const deliveries: Array<{ app: DeliverySide; relay: DeliverySide }> = [];
    const caps: Capacity[] = [];
    const sends: SendResult[] = [];
    const logCapacity = (label: string, c: Capacity) =>
      log(
        `${label} ${HELD_POLLS} held: RSS ${mb(c.heldRss)} (none held ${mb(c.baseRss)}) = ${c.kbPerPoll.toFixed(1)} KB/poll; ` +
          `after GC ${mb(c.heldRssGc)} / ${mb(c.baseRssGc)} = ${c.kbPerPollGc.toFixed(1)} KB/poll; heap after GC ${mb(c.heapUsed)} (none held ${mb(c.baseHeapUsed)}); ` +
          `loop delay p99 ${c.loopP99} ms (max ${c.loopMax}); ramp ${c.rampSeconds.toFixed(1)} s, loop delay p99 ${c.rampLoopP99} ms (max ${c.rampLoopMax})`,
      );
    // Capacity in a fresh server process each time (same DATA_DIR, so the users and their tokens stay):
    // V8 keeps the heap a process once grew to, so after one 10,000-poll run (or the throughput runs)
    // neither RSS figure means much. Measured once more at the end, after the throughput runs.
    if (BENCHES.has('capacity')) {
      for (let r = 0; r < REPEATS; r++) {
        await restart();
        const c = await capacity(server, agent, slots);
        caps.push(c);
        logCapacity(`#${r + 1} (fresh server)`, c);
      }
    }
    if (BENCHES.has('load')) {
      for (let r = 0; r < REPEATS; r++) {
        await restart();
        const l = await loadWithHeldPolls(server, agent, slots, loadSenders);
        loads.push(l);
        log(
          `#${r + 1} (fresh server) ${HELD_POLLS} held, ${LOAD_SENDERS} senders: ${l.sendsPerSecond.toFixed(0)} sends/s (send p99 ${l.sendP99.toFixed(2)} ms), ` +
            `delivery p50 ${l.deliveryP50.toFixed(2)} / p99 ${l.deliveryP99.toFixed(2)} ms (${l.delivered} of ${l.sent}); RSS idle-held ${mb(l.idleHeldRss)}, ` +
            `during ${l.rssSamples.map(mb).join(' → ')}, highest ${(maxOf(l.rssSamples) / l.idleHeldRss).toFixed(2)}x idle-held, ${rssTrend(l.rssSamples).text}; ` +
            `loop delay p99 ${l.loopP99} ms (max ${l.loopMax})`,
        );
      }
    }
    if (BENCHES.has('capacity') || BENCHES.has('load')) await restart();
    for (let r = 0; r < REPEATS; r++) {
      if (BENCHES.has('poll')) {
        // Empty mailboxes: the setup's server events (connection.accepted) acknowledged first.
        await pool(pollUsers.slice(0, CONNECTIONS), 8, (u) => drain(agent, server.app, u));
        const p = await shortPoll(server, agent, pollUsers.slice(0, CONNECTIONS));
        polls.push(p);
        log(
          `#${r + 1} short poll ${p.app.rps.toFixed(0)} req/s p99 ${p.app.p99.toFixed(2)} ms; bare Koa ${p.bare.rps.toFixed(0)} req/s p99 ${p.bare.p99.toFixed(2)} ms; ` +
            `bare node ${p.node.rps.toFixed(0)} req/s p99 ${p.node.p99.toFixed(2)} ms; poll/Koa ${(p.app.rps / p.bare.rps).toFixed(3)}, poll/node ${(p.app.rps / p.node.rps).toFixed(3)}, Koa/node ${(p.bare.rps / p.node.rps).toFixed(3)}; ` +
            `server CPU per request: node ${p.node.cpuUs!.toFixed(1)} µs, Koa ${p.bare.cpuUs!.toFixed(1)} µs, poll ${p.app.cpuUs!.toFixed(1)} µs (Koa/poll ${(p.bare.cpuUs! / p.app.cpuUs!).toFixed(3)}, node/poll ${(p.node.cpuUs! / p.app.cpuUs!).toFixed(3)})`,
        );
      }
      if (BENCHES.has('delivery')) {
        const d = await delivery(server, agent, slots, sender!, recipient!);
        deliveries.push(d);
        log(
          `#${r + 1} delivery with ${IDLE_POLLS} idle polls held: Signalbox p50 ${d.app.p50.toFixed(3)} ms, p99 ${d.app.p99.toFixed(3)} ms (${d.app.n}); ` +
            `in-memory relay p50 ${d.relay.p50.toFixed(3)} ms, p99 ${d.relay.p99.toFixed(3)} ms (${d.relay.n}); ` +
            `Signalbox/relay p50 ${(d.app.p50 / d.relay.p50).toFixed(2)}x, p99 ${(d.app.p99 / d.relay.p99).toFixed(2)}x`,
        );
      }
      if (BENCHES.has('send')) {
        const snd = await sendThroughput(server, agent, pairs, db);
        sends.push(snd);
        log(
          `#${r + 1} send ${snd.rps.toFixed(0)} signals/s p99 ${snd.p99.toFixed(2)} ms, server CPU ${snd.cpuUs.toFixed(1)} µs per send${snd.storeCpuUs !== undefined ? `, PostgreSQL CPU ${snd.storeCpuUs.toFixed(1)} µs per send` : ''}; 202s ${snd.accepted}, sent_total +${snd.counted}, drained ${snd.drained}`,
        );
        if (snd.counted !== snd.drained) throw new Error(`signals lost: counted ${snd.counted}, drained ${snd.drained}`);
        // Two autocannon runs (warm-up, measured) each stop with up to CONNECTIONS requests in flight: the
        // server stores those, but their 202 never reaches the client.
        if (snd.drained < snd.accepted || snd.drained > snd.accepted + 2 * CONNECTIONS) throw new Error(`202s ${snd.accepted} do not match stored ${snd.drained}`);
      }
    }
    let capAfter: Capacity | undefined;
    if (BENCHES.has('capacity') && (BENCHES.has('poll') || BENCHES.has('send'))) {
      capAfter = await capacity(server, agent, slots);
      logCapacity('after the throughput runs,', capAfter);
    }

    const f = (n: number, d = 0) => n.toFixed(d);
    const row = (name: string, xs: number[], fmt: (n: number) => string, target: string) =>
      xs.length ? [`| ${name} | **${fmt(median(xs))}** | ${xs.map(fmt).join(' / ')} | ${target} |`] : [];
    const ratio = polls.map((p) => p.app.rps / p.bare.rps);
    const lines = [
      '',
      `Store: ${storeText}. Machine: ${machine()}; ` +
        `${pinned ? 'server pinned to CPU 0, load generator to CPU 1' : 'not pinned'}; load average ${load0} at start, ${loadAverage()} at end.`,
      `Settings: ${REPEATS} repeats, autocannon ${CONNECTIONS} connections, ${DURATION} s after ${WARMUP} s warm-up; ${IDLE_POLLS} idle polls during delivery, ` +
        `${DELIVERIES} deliveries per repeat on each side (Signalbox and the in-memory relay, interleaved in blocks of ${DELIVERY_BLOCK}); ${HELD_POLLS} held polls over ${POLL_USERS} users × ${SESSIONS_PER_USER} sessions (one poll per session); ${PAIRS} send pairs, ${PAYLOAD.length}-byte payloads.`,
      `Server caps raised for the bench: POLLS_PER_USER=${SERVER_POLL_CAPS.POLLS_PER_USER} (default 8), POLLS_MAX=${SERVER_POLL_CAPS.POLLS_MAX} (default half the open-file limit, at most 32,768), ` +
        `MAILBOX_PER_SENDER=100000 (default 100); no poll was replaced or refused during the delivery and capacity runs.`,
      '',
      '| Figure | Median | Repeats | Target |',
      '|---|---|---|---|',
      ...row(
        'bare node:http route, req/s',
        polls.map((p) => p.node.rps),
        (n) => f(n),
        '',
      ),
      ...row(
        'bare node:http route, p99',
        polls.map((p) => p.node.p99),
        (n) => `${f(n, 2)} ms`,
        '',
      ),
      ...row(
        'bare Koa route, req/s',
        polls.map((p) => p.bare.rps),
        (n) => f(n),
        '',
      ),
      ...row(
        'bare Koa route, p99',
        polls.map((p) => p.bare.p99),
        (n) => `${f(n, 2)} ms`,
        '',
      ),
      ...row(
        'authenticated empty short-poll, req/s',
        polls.map((p) => p.app.rps),
        (n) => f(n),
        '',
      ),
      ...row(
        'authenticated empty short-poll, p99',
        polls.map((p) => p.app.p99),
        (n) => `${f(n, 2)} ms`,
        '',
      ),
      ...row('short-poll / bare Koa throughput', ratio, (n) => `${f(n * 100, 1)} %`, '≥ 50 %'),
      ...row(
        'short poll / bare node:http, by throughput',
        polls.map((p) => p.app.rps / p.node.rps),
        (n) => `${f(n * 100, 1)} %`,
        '',
      ),
      ...row(
        'bare Koa / bare node:http throughput',
        polls.map((p) => p.bare.rps / p.node.rps),
        (n) => `${f(n * 100, 1)} %`,
        '',
      ),
      ...row(
        'server CPU per request, bare node:http',
        polls.map((p) => p.node.cpuUs!),
        (n) => `${f(n, 1)} µs`,
        '',
      ),
      ...row(
        'server CPU per request, bare Koa',
        polls.map((p) => p.bare.cpuUs!),
        (n) => `${f(n, 1)} µs`,
        '',
      ),
      ...row(
        'server CPU per request, short poll',
        polls.map((p) => p.app.cpuUs!),
        (n) => `${f(n, 1)} µs`,
        '',
      ),
      ...row(
        'short-poll / bare Koa, by server CPU per request (bare Koa µs ÷ poll µs)',
        polls.map((p) => p.bare.cpuUs! / p.app.cpuUs!),
        (n) => `${f(n * 100, 1)} %`,
        '(≥ 50 %)',
      ),
      ...row(
        'short poll / bare node:http, by server CPU per request (node µs ÷ poll µs)',
        polls.map((p) => p.node.cpuUs! / p.app.cpuUs!),
        (n) => `${f(n * 100, 1)} %`,
        '',
      ),
      ...row(
        `delivery send → held poll answer, p50 (${IDLE_POLLS} idle polls held)`,
        deliveries.map((d) => d.app.p50),
        (n) => `${f(n, 3)} ms`,
        '< 0.5 ms',
      ),
      ...row(
        `delivery send → held poll answer, p99 (${IDLE_POLLS} idle polls held)`,
        deliveries.map((d) => d.app.p99),
        (n) => `${f(n, 3)} ms`,
        '< 3 ms',
      ),
      ...row(
        'in-memory long-poll relay (bench/relay.ts, same process, interleaved), delivery p50',
        deliveries.map((d) => d.relay.p50),
        (n) => `${f(n, 3)} ms`,
        '',
      ),
      ...row(
        'in-memory long-poll relay, delivery p99',
        deliveries.map((d) => d.relay.p99),
        (n) => `${f(n, 3)} ms`,
        '',
      ),
      ...row(
        'delivery Signalbox / relay, p50 / p50',
        deliveries.map((d) => d.app.p50 / d.relay.p50),
        (n) => `${f(n, 2)}x`,
        '',
      ),
      ...row(
        'delivery Signalbox / relay, p99 / p99',
        deliveries.map((d) => d.app.p99 / d.relay.p99),
        (n) => `${f(n, 2)}x`,
        '',
      ),
      ...row(
        `RSS, ${HELD_POLLS} polls held (fresh server)`,
        caps.map((c) => c.heldRss),
        mb,
        '',
      ),
      ...row(
        'RSS, none held',
        caps.map((c) => c.baseRss),
        mb,
        '',
      ),
      ...row(
        'KB per held poll (RSS difference)',
        caps.map((c) => c.kbPerPoll),
        (n) => f(n, 1),
        '≤ 10',
      ),
      ...row(
        `RSS after a full GC, ${HELD_POLLS} held`,
        caps.map((c) => c.heldRssGc),
        mb,
        '',
      ),
      ...row(
        'RSS after a full GC, none held',
        caps.map((c) => c.baseRssGc),
        mb,
        '',
      ),
      ...row(
        'KB per held poll, after GC',
        caps.map((c) => c.kbPerPollGc),
        (n) => f(n, 1),
        '',
      ),
      ...row(
        `V8 heap used after a full GC, ${HELD_POLLS} held`,
        caps.map((c) => c.heapUsed),
        mb,
        '',
      ),
      ...row(
        'V8 heap used after a full GC, none held',
        caps.map((c) => c.baseHeapUsed),
        mb,
        '',
      ),
      ...row(
        'KB of V8 heap per held poll',
        caps.map((c) => (c.heapUsed - c.baseHeapUsed) / HELD_POLLS / 1024),
        (n) => f(n, 1),
        '',
      ),
      ...row(
        `event-loop delay p99, ${HELD_POLLS} held, idle (${SAMPLE_SECONDS} s)`,
        caps.map((c) => c.loopP99),
        (n) => `${f(n, 2)} ms`,
        '',
      ),
      ...row(
        `event-loop delay p99 while opening the ${HELD_POLLS} at ${OPEN_RATE}/s`,
        caps.map((c) => c.rampLoopP99),
        (n) => `${f(n, 2)} ms`,
        '< 10 ms',
      ),
      ...row(
        `event-loop delay max while opening the ${HELD_POLLS}`,
        caps.map((c) => c.rampLoopMax),
        (n) => `${f(n, 2)} ms`,
        '',
      ),
      ...row(
        `time to open ${HELD_POLLS} polls`,
        caps.map((c) => c.rampSeconds),
        (n) => `${f(n, 1)} s`,
        '',
      ),
      ...(capAfter
        ? [
            `| the same after the throughput runs (once): RSS ${HELD_POLLS} held / none held / KB per poll | ${mb(capAfter.heldRss)} / ${mb(capAfter.baseRss)} / ${f(capAfter.kbPerPoll, 1)} | | |`,
          ]
        : []),
      ...row(
        `send throughput, ${PAIRS} mailboxes, ${STORE === 'postgres' ? 'PostgreSQL' : 'SQLite on disk'}, signals/s`,
        sends.map((x) => x.rps),
        (n) => f(n),
        '≥ 5,000',
      ),
      ...row(
        'send p99',
        sends.map((x) => x.p99),
        (n) => `${f(n, 2)} ms`,
        '',
      ),
      ...row(
        'server CPU per send (sends/s one core could give: 10^6 ÷ this)',
        sends.map((x) => x.cpuUs),
        (n) => `${f(n, 1)} µs`,
        '',
      ),
      ...row(
        "PostgreSQL CPU per send (the cluster's processes, over the same run)",
        sends.flatMap((x) => (x.storeCpuUs !== undefined ? [x.storeCpuUs] : [])),
        (n) => (Number.isNaN(n) ? 'n/a (its processes unreadable)' : `${f(n, 1)} µs`),
        '',
      ),
      ...row(
        `sends/s with ${HELD_POLLS} held, each send waking one (${LOAD_SENDERS} senders, ${LOAD_SECONDS} s, fresh server)`,
        loads.map((l) => l.sendsPerSecond),
        (n) => f(n),
        '≥ 2,500',
      ),
      ...row(
        'that load: delivery send → woken poll, p50',
        loads.map((l) => l.deliveryP50),
        (n) => `${f(n, 2)} ms`,
        '',
      ),
      ...row(
        'that load: delivery send → woken poll, p99',
        loads.map((l) => l.deliveryP99),
        (n) => `${f(n, 2)} ms`,
        '< 10 ms',
      ),
      ...row(
        'that load: RSS idle-held before the sends',
        loads.map((l) => l.idleHeldRss),
        mb,
        '',
      ),
      ...row(
        'that load: RSS at the end',
        loads.map((l) => l.rssSamples[l.rssSamples.length - 1]!),
        mb,
        '',
      ),
      ...row(
        'that load: highest RSS / idle-held RSS',
        loads.map((l) => maxOf(l.rssSamples) / l.idleHeldRss),
        (n) => `${f(n, 2)}x`,
        '< 2x, flat',
      ),
      ...row(
        'that load: RSS, mean of the last third of the samples over the middle third',
        loads.map((l) => rssTrend(l.rssSamples).rise),
        (n) => (Number.isNaN(n) ? 'n/a (fewer than 3 samples)' : `${n >= 0 ? '+' : ''}${f(n * 100, 1)} %`),
        `flat: ≤ +${RSS_RISE_FLAT * 100} %`,
      ),
      ...row(
        'that load: event-loop delay p99',
        loads.map((l) => l.loopP99),
        (n) => `${f(n, 2)} ms`,
        '',
      ),
      '',
      ...loads.map(
        (l, i) =>
          `Load repeat ${i + 1}, every 2 s: RSS ${mb(l.idleHeldRss)} (idle-held) → ${l.rssSamples.map(mb).join(' → ')} ` +
          `(highest ${(maxOf(l.rssSamples) / l.idleHeldRss).toFixed(2)}x idle-held; ${rssTrend(l.rssSamples).text}); ` +
          `V8 heap used ${l.heapSamples.map(mb).join(' → ')}; external ${l.externalSamples.map(mb).join(' → ')}.`,
      ),
      ...(sends.length
        ? [
            `Send check per repeat (202s seen by the client / signalbox_signals_sent_total increase / signals drained from the mailboxes): ` +
              sends.map((x) => `${x.accepted} / ${x.counted} / ${x.drained}`).join('; ') +
              '. Counter and drained count must be equal; the 202s may fall short by the requests in flight when each autocannon run stopped.',
          ]
        : []),
    ];
    console.log(lines.join('\n'));
    log('done');
  } finally {
    agent.destroy();
    await stopProcess(server.child);
    rmSync(dataDir, { recursive: true, force: true });
    await db?.drop();
  }
}

runBench(main);
