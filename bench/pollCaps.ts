/**
 * What a long-poll refused at a cap costs, next to one that is held (docs/security.md).
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/pollCaps.js
 *   HELD=1000 REFUSED=1000 BURST=5000 BURST_CONCURRENCY=100 SAME_SESSION=5000 node dist/bench/pollCaps.js   # the defaults
 *
 * The driver starts the server as a child process (bench/signalingServer.ts: createApp with parseConfig,
 * SQLite on disk in a temp DATA_DIR, pino to /dev/null, POLLS_MAX=HELD+8, POLLS_PER_USER=8, every RATE_* off,
 * cheap argon2id for registration only, `--expose-gc`, RSS, heap and fds on its /stats), pinned to CPU 0
 * with taskset when there are 2 CPUs.
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
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { call, connect, expect as ok, login, metric, register, serverStats, startServerProcess, stopProcess, waitHeld, type Reply } from './fixture.js';
import { hr, kb, knob, machineLine, mb, percentile as pct, pool, runBench } from './measure.js';

const HELD = knob('HELD', 1000, 20);
const REFUSED = knob('REFUSED', 1000, 20);
const BURST = knob('BURST', 5000, 100);
const SAME_SESSION = knob('SAME_SESSION', 5000, 100);
/** Connections the burst opens at once; the listen backlog (511) is not what is measured. */
const BURST_CONCURRENCY = knob('BURST_CONCURRENCY', 100, 10);
const PER_USER = 8;

/**
 * A fresh bench/signalingServer.ts process (the app, and /stats for RSS, heap and fds) with POLLS_MAX=HELD+8
 * and POLLS_PER_USER=8, its SQLite in a temp dir; `stop` ends it and removes the dir.
 */
async function startServer() {
  const dataDir = mkdtempSync(join(tmpdir(), 'signalbox-pollcaps-'));
  const server = await startServerProcess(dataDir, { POLLS_MAX: String(HELD + PER_USER), POLLS_PER_USER: String(PER_USER) });
  const stats = () => serverStats(false, server.bare, '?gc=1'); // a full GC first, so RSS and heap compare like with like
  const stop = async () => {
    await stopProcess(server.child);
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { app: server.app, bare: server.bare, stats, stop };
}

async function drive(): Promise<void> {
  const server = await startServer();
  const { app, stats } = server;
  const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
  const held = () => metric(keepAlive, app, 'signalbox_held_polls');
  const waitHeldExactly = (n: number) => waitHeld(keepAlive, app, n, { exactly: true, pauseMs: 20 });
  const registered = async (name: string) => (await register(false, app, name)).token;
  const loggedIn = async (name: string) => (await login(false, app, name)).token;

  console.log(`${machineLine()}; HELD=${HELD} REFUSED=${REFUSED} BURST=${BURST} SAME_SESSION=${SAME_SESSION}`);
  const t0 = hr();
  const holders = await pool(
    Array.from({ length: HELD }, (_, i) => `holder_${i}`),
    8,
    registered,
  );
  const [other, many] = [await registered('other_user'), await registered('many_devices'), await registered('sender_user')];
  const devices = [
    many,
    ...(await pool(
      Array.from({ length: PER_USER }, () => 'many_devices'),
      4,
      loggedIn,
    )),
  ]; // 9 sessions
  console.log(`setup: ${HELD + 3} users, ${PER_USER} extra sessions in ${((hr() - t0) / 1000).toFixed(1)} s`);

  /** REFUSED sequential polls on one keep-alive socket; their latencies in ms. */
  const sequential = async (token: string, path: string, status: number) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const times: number[] = [];
    for (let i = 0; i < 50; i++) ok(await call(agent, app, 'GET', path, { token }), status, 'warm-up');
    for (let i = 0; i < REFUSED; i++) {
      const start = hr();
      ok(await call(agent, app, 'GET', path, { token }), status, path);
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
  const deviceAnswers = devices.slice(0, PER_USER).map((token) => call(holdAgent, app, 'GET', '/signaling/poll?wait=30', { token }));
  await waitHeldExactly(PER_USER);
  const beforeUser = await stats();
  show('refused at POLLS_PER_USER (wait=30, 429)', await sequential(devices[PER_USER]!, '/signaling/poll?wait=30', 429));
  const afterUser = await stats();
  console.log(
    `  after ${REFUSED} refused: RSS ${kb(afterUser.rss - beforeUser.rss)} in all, heap ${kb(afterUser.heapUsed - beforeUser.heapUsed)} in all, fds ${beforeUser.fds} -> ${afterUser.fds}`,
  );

  // 3. HELD more held polls, one user each, which fills POLLS_MAX (HELD + PER_USER).
  const before = await stats();
  const heldAnswers = holders.map((token) => call(holdAgent, app, 'GET', '/signaling/poll?wait=30', { token }));
  await waitHeldExactly(HELD + PER_USER);
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
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by another async task while this one awaits
    while (sampling) {
      const s = await serverStats(false, server.bare);
      peakFds = Math.max(peakFds, s.fds);
      peakRss = Math.max(peakRss, s.rss);
      await sleep(50);
    }
  })();
  const burstStatuses = await pool(
    Array.from({ length: BURST }),
    BURST_CONCURRENCY,
    async () => (await call(false, app, 'GET', '/signaling/poll?wait=30', { token: other })).status,
  );
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
  keepAlive.destroy();
  void Promise.allSettled([...deviceAnswers, ...heldAnswers]);
  await server.stop();
  await attack();
}

/** Scenario 6 in a fresh server, so the held polls above do not count against POLLS_MAX. */
async function attack(): Promise<void> {
  const server = await startServer();
  const { app, stats } = server;
  const [victim, peer] = [await register(false, app, 'attacker'), await register(false, app, 'peer')];
  // Cleared after connecting: a pending connection event would answer every poll at once, and then there
  // would be no held poll for the send to wake.
  await connect(false, app, peer, victim, { clear: true });
  const before = await stats();
  // A new connection per poll, closed after its answer: what is measured is the polls, not idle keep-alive
  // sockets (which a client can hold open without polling at all; see docs/security.md).
  const agent = false;
  const start = hr();
  const answers: Array<Promise<Reply>> = [];
  const answeredAt: number[] = [];
  for (let i = 0; i < SAME_SESSION; i += 250) {
    for (let j = i; j < Math.min(SAME_SESSION, i + 250); j++) {
      const answer = call(agent, app, 'GET', '/signaling/poll?wait=30', { token: victim.token });
      void answer.then(() => (answeredAt[j] = hr()));
      answers.push(answer);
    }
    await sleep(25);
  }
  // With the caps every poll but one is answered at once (replaced); without them none is. Wait until
  // the answers and the held count settle.
  let answered = 0;
  for (const a of answers) void a.then(() => answered++);
  const heldCount = () => metric(false, app, 'signalbox_held_polls');
  while (answered + (await heldCount()) < SAME_SESSION && hr() - start < 60_000) await sleep(50);
  const during = await stats();
  const answeredBeforeSend = answered;
  const heldNow = await heldCount();
  const sendStart = hr();
  ok(await call(false, app, 'POST', '/signaling/send', { token: peer.token, body: { to: 'attacker', type: 'offer', payload: 'x'.repeat(16_384) } }), 202, 'send');
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
  await server.stop();
}

// ONLY=attack runs scenario 6 alone, e.g. against a build from before the caps, for the comparison.
runBench(process.env.ONLY === 'attack' ? attack : drive, { exit: true });
