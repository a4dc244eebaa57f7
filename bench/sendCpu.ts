/**
 * The server's CPU time per `POST /signaling/send`, for one or more builds side by side (bench/README.md,
 * "Lean send").
 *
 *   npm run bench:send-cpu                                  # this build alone
 *   npx tsc -p tsconfig.build.json && node dist/bench/sendCpu.js dist /tmp/before/dist [<dist>...]
 *   ROUNDS=3 SENDS=5000 CONCURRENCY=4 DRAIN_EVERY=500 WARMUP_SENDS=500    # the defaults
 *
 * Each `<dist>` is a build's output directory (this one's `dist`, or another checkout's, built with its own
 * `tsc -p tsconfig.build.json`); its own bench/signalingServer.js is started in a child process (createApp with
 * parseConfig, SQLite on disk in a temp DATA_DIR, pino writing every request line to /dev/null, every RATE_* off),
 * pinned to CPU 0 with taskset when there are 2 CPUs, while this driver pins itself to CPU 1. Two users register
 * and connect; after WARMUP_SENDS untimed sends, SENDS sends of a 200-byte payload go over one keep-alive Agent,
 * CONCURRENCY in flight, in batches of DRAIN_EVERY: the server's CPU time (`cpuMicros` of its /stats) is read
 * before and after each batch, and between batches the recipient's mailbox is cleared (untimed), so that every
 * batch sends into a shallow mailbox as a conversation does. The builds alternate, ROUNDS times each, each round
 * in a fresh server; the figure is CPU microseconds per send, the median over the rounds. Loopback only.
 * `SERVER_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=<dir>"` profiles each server (startup and setup included).
 */
import { Agent } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { knob, median, runBench } from './measure.js';

type Fixture = typeof import('./fixture.js');

const ROUNDS = knob('ROUNDS', 3, 1);
const SENDS = knob('SENDS', 5000, 100);
const CONCURRENCY = knob('CONCURRENCY', 4, 4);
const DRAIN_EVERY = knob('DRAIN_EVERY', 500, 50);
const WARMUP_SENDS = knob('WARMUP_SENDS', 500, 20);
/** Without arguments, this build's own output directory (the one this script was compiled into). */
const THIS_BUILD = dirname(dirname(fileURLToPath(import.meta.url)));

/** The server CPU microseconds per send of one round in a fresh server of the build `dist`. */
async function round(dist: string, n: number): Promise<number> {
  const f = (await import(pathToFileURL(join(dist, 'bench/fixture.js')).href)) as Fixture;
  const dataDir = mkdtempSync(join(tmpdir(), 'signalbox-send-cpu-'));
  const server = await f.startServerProcess(dataDir, {}, (process.env.SERVER_NODE_OPTIONS ?? '').split(' ').filter(Boolean));
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  try {
    const alice = await f.register(agent, server.app, `alice${n}`);
    const bob = await f.register(agent, server.app, `bob${n}`);
    await f.connect(agent, server.app, alice, bob, { clear: true });
    const body = { to: bob.username, type: 'offer', payload: 'x'.repeat(200), sessionId: 'call-1' };
    const sendMany = async (count: number) => {
      let started = 0;
      const lane = async () => {
        while (started++ < count) f.expect(await f.call(agent, server.app, 'POST', '/signaling/send', { token: alice.token, body }), 202, 'send');
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, lane));
    };
    const drain = async () => f.expect(await f.call(agent, server.app, 'DELETE', '/signaling/clear', { token: bob.token }), 204, 'clear');
    await sendMany(WARMUP_SENDS);
    await drain();
    let micros = 0;
    for (let sent = 0; sent < SENDS; sent += DRAIN_EVERY) {
      const before = await f.serverStats(agent, server.bare);
      await sendMany(Math.min(DRAIN_EVERY, SENDS - sent));
      const after = await f.serverStats(agent, server.bare);
      micros += after.cpuMicros - before.cpuMicros;
      await drain();
    }
    return micros / SENDS;
  } finally {
    agent.destroy();
    await f.stopProcess(server.child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const given = process.argv.slice(2).map((d) => resolve(d));
  const dists = given.length > 0 ? given : [THIS_BUILD];
  const { pinSelf } = (await import(pathToFileURL(join(dists[0]!, 'bench/fixture.js')).href)) as Fixture;
  pinSelf(); // re-runs this driver on CPU 1 (the server has CPU 0) and exits with it; unpinned on 1 CPU
  const figures = new Map(dists.map((d) => [d, [] as number[]]));
  for (let n = 0; n < ROUNDS; n++) {
    for (const dist of dists) {
      const perSend = await round(dist, n);
      figures.get(dist)!.push(perSend);
      console.log(
        `round ${n + 1} ${dist}: ${perSend.toFixed(1)} µs CPU per send (load ${loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')})`,
      );
    }
  }
  for (const [dist, values] of figures) {
    console.log(`${dist}: median ${median(values).toFixed(1)} µs CPU per send over ${values.length} rounds (${values.map((v) => v.toFixed(1)).join(', ')})`);
  }
}

runBench(main);
