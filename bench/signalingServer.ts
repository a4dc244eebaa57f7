/**
 * The server process for `bench/signaling.ts` (run it through `npm run bench:signaling`, which pins it to
 * CPU 0 with taskset). One process, five loopback listeners on ephemeral ports:
 *
 * - the real Signalbox app, built as `npm start` builds it: createApp with parseConfig, the SQLite store on
 *   disk in a temp DATA_DIR (or, with STORE=postgres and DATABASE_URL in this process's environment, the
 *   PostgreSQL store on that database), LOG_LEVEL=info with pino writing every request line to /dev/null
 *   (through its SonicBoom stream, asynchronous by default, as to stdout in production), process metrics on,
 *   main.ts's HTTP timeouts. What differs from
 *   production, and why: MAILBOX_MAX=100000 and MAILBOX_PER_SENDER=100000 (the send bench puts hundreds of
 *   signals from one sender into one mailbox), every RATE_* off (the benches send far more than one user
 *   may and log in thousands of times from one address), POLLS_PER_USER and POLLS_MAX as the driver sets
 *   them (it holds up to 100 polls per user, one per session, and 10,000 in all: a deployment with the
 *   defaults would refuse that, on purpose), ACCESS_TOKEN_TTL=3600 (a run outlasts the default 15 minutes),
 *   and cheap argon2id parameters (only registration and login hash, and neither is measured here);
 * - a bare Koa app, `new Koa()` with one middleware answering `{ ok: true }`: the baseline the issue asks for;
 * - a bare node:http server answering the same `{"ok":true}` with a JSON content type: the floor under both;
 * - bench/relay.ts, an in-memory long-poll relay on Koa: the baseline of the delivery figure;
 * - on the bare app's port, `GET /stats` (`?reset=1` clears the event-loop delay histogram, `?gc=1` runs a
 *   full GC first): CPU time used, RSS, heap, open file descriptors and event-loop delay percentiles (perf_hooks.monitorEventLoopDelay)
 *   of this process. The bare route pays one string comparison for it.
 *
 * When ready it prints one JSON line `{"app": port, "bare": port, "node": port, "relay": port, "dataDir": ...}` on stdout. SIGTERM (or
 * SIGINT, or its stdin closing when the driver dies, or 30 minutes passing) answers every held poll, closes
 * the listeners and the store, removes its temp dir (not one BENCH_DATA_DIR named) and exits.
 */
import { readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Koa from 'koa';
import { listen, rateLimitsOff, startInProcess } from './fixture.js';
import { createRelay } from './relay.js';

/**
 * The poll caps, raised by the driver (which sets POLLS_PER_USER, POLLS_MAX and DEVICES_MAX in this
 * process's environment from its HELD_POLLS, IDLE_POLLS and POLL_USERS) so that they never bind in the
 * bench; unset, the production defaults apply (8 per user; half the open-file limit, at most 32,768;
 * 10 devices per user, past which a login ends the least recently seen session).
 */
const POLL_CAPS = Object.fromEntries(
  (['POLLS_PER_USER', 'POLLS_MAX', 'DEVICES_MAX'] as const).flatMap((k) => (process.env[k] !== undefined ? [[k, process.env[k]]] : [])),
);

/** The store, as the driver's STORE knob chose it (docs/configuration.md): unset, SQLite in DATA_DIR. */
const STORE_ENV = Object.fromEntries(
  (['STORE', 'DATABASE_URL'] as const).flatMap((k) => (process.env[k] !== undefined && process.env.STORE !== undefined ? [[k, process.env[k]]] : [])),
);

async function main(): Promise<void> {
  // The driver passes its own DATA_DIR so that a restarted server finds the same users (and removes it
  // itself); run alone, the server makes and removes a temp dir.
  const bench = await startInProcess({
    dataDir: process.env.BENCH_DATA_DIR,
    processMetrics: true,
    env: {
      LOG_LEVEL: 'info',
      MAILBOX_MAX: '100000',
      // One sender per recipient in the send bench: its share is the whole mailbox (production: 100).
      MAILBOX_PER_SENDER: '100000',
      ACCESS_TOKEN_TTL: '3600',
      ...rateLimitsOff(),
      ...POLL_CAPS,
      ...STORE_ENV,
    },
  });

  const LOOP_RESOLUTION_MS = 10;
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  loopDelay.enable();
  const gc = (globalThis as { gc?: () => void }).gc;
  const delay = (ns: number) => Math.max(0, Math.round(ns / 1e4 - LOOP_RESOLUTION_MS * 100) / 100);
  const bare = new Koa();
  bare.use((ctx) => {
    if (ctx.path === '/stats') {
      if (ctx.query.gc !== undefined && gc) gc();
      const mem = process.memoryUsage();
      const cpu = process.cpuUsage();
      ctx.body = {
        // CPU time this process has used (user + system), for CPU per request: unlike throughput, it
        // barely moves when other processes share the machine.
        cpuMicros: cpu.user + cpu.system,
        rss: mem.rss,
        heapUsed: mem.heapUsed,
        external: mem.external,
        // Open file descriptors: what a held or refused poll leaves open (bench/pollCaps.ts).
        fds: readdirSync('/proc/self/fd').length,
        // The histogram records the whole interval between its timer's runs, the resolution included:
        // an idle loop reads ~10 ms. The delay is what exceeds the resolution.
        loopDelayMs: {
          p50: delay(loopDelay.percentile(50)),
          p99: delay(loopDelay.percentile(99)),
          max: delay(loopDelay.max),
          mean: delay(loopDelay.mean),
          count: loopDelay.count,
        },
      };
      if (ctx.query.reset !== undefined) loopDelay.reset();
      return;
    }
    ctx.body = { ok: true };
  });
  const bareServer = createServer(bare.callback());
  bareServer.keepAliveTimeout = 65_000;
  const BARE_BODY = Buffer.from(JSON.stringify({ ok: true }));
  const nodeServer = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': BARE_BODY.length });
    res.end(BARE_BODY);
  });
  nodeServer.keepAliveTimeout = 65_000;
  const relay = createRelay();
  const relayServer = createServer(relay.app.callback());
  // As main.ts's: above the longest hold (30 s), so both sides of the delivery figure keep their sockets alike.
  relayServer.requestTimeout = 60_000;
  relayServer.keepAliveTimeout = 65_000;

  const barePort = await listen(bareServer);
  const nodePort = await listen(nodeServer);
  const relayPort = await listen(relayServer);

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(1), 5000).unref();
    bareServer.close();
    bareServer.closeAllConnections();
    nodeServer.close();
    nodeServer.closeAllConnections();
    relay.release();
    relayServer.close();
    relayServer.closeAllConnections();
    // process.exit in finally ends the server either way: there is no caller left to hand a rejection to.
    void bench.stop().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The driver going away (a crash, kill -9) closes our stdout pipe: stop rather than linger.
  process.stdout.on('error', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
  // Bounded whatever happens to the driver.
  setTimeout(stop, 30 * 60_000).unref();

  process.stdout.write(`${JSON.stringify({ app: bench.port, bare: barePort, node: nodePort, relay: relayPort, dataDir: bench.dataDir })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`signalingServer: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
