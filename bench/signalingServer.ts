/**
 * The server process for `bench/signaling.ts` (run it through `npm run bench:signaling`, which pins it to
 * CPU 0 with taskset). One process, four loopback listeners on ephemeral ports:
 *
 * - the real Signalbox app, built as `npm start` builds it: createApp with parseConfig, the SQLite store on
 *   disk in a temp DATA_DIR, LOG_LEVEL=info with pino writing every request line (synchronously, as to
 *   stdout in production) to /dev/null, process metrics on, main.ts's HTTP timeouts. What differs from
 *   production, and why: MAILBOX_MAX=100000 and MAILBOX_PER_SENDER=100000 (the send bench puts hundreds of
 *   signals from one sender into one mailbox), every RATE_* off (the benches send far more than one user
 *   may and log in thousands of times from one address), POLLS_PER_USER and POLLS_MAX as the driver sets
 *   them (it holds up to 100 polls per user, one per session, and 10,000 in all: a deployment with the
 *   defaults would refuse that, on purpose), ACCESS_TOKEN_TTL=3600 (a run outlasts the default 15 minutes),
 *   and cheap argon2id parameters (only registration and login hash, and neither is measured here);
 * - a bare Koa app, `new Koa()` with one middleware answering `{ ok: true }`: the baseline the issue asks for;
 * - a bare node:http server answering the same `{"ok":true}` with a JSON content type: the floor under both;
 * - on the bare app's port, `GET /stats` (`?reset=1` clears the event-loop delay histogram, `?gc=1` runs a
 *   full GC first): CPU time used, RSS, heap and event-loop delay percentiles (perf_hooks.monitorEventLoopDelay)
 *   of this process. The bare route pays one string comparison for it.
 *
 * When ready it prints one JSON line `{"app": port, "bare": port, "node": port, "dataDir": ...}` on stdout. SIGTERM (or
 * SIGINT, or its stdin closing when the driver dies, or 30 minutes passing) answers every held poll, closes
 * the listeners and the store, removes its temp dir (not one BENCH_DATA_DIR named) and exits.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Koa from 'koa';
import { pino } from 'pino';
import { PasswordHasher } from '../app/accounts/passwordHasher.js';
import { openStore } from '../app/boot.js';
import { RATE_LIMIT_VARIABLES } from '../app/config/environment.js';
import { parseConfig } from '../app/config/parse.js';
import { createApp } from '../app/server.js';

/** Like test/helpers/app.ts TEST_ARGON2: real argon2id, cheap enough to register a few hundred users and log in ~10,000 sessions quickly. */
const BENCH_ARGON2 = { memoryCost: 4096, timeCost: 1, parallelism: 1 };

/** Every RATE_* limit of app/config/environment.ts: the bench logs in thousands of times from one address and sends far more than one user may. */
const RATE_LIMITS_OFF = Object.fromEntries(RATE_LIMIT_VARIABLES.map((name) => [name, 'off']));

/**
 * The poll caps, raised by the driver (which sets POLLS_PER_USER, POLLS_MAX and DEVICES_MAX in this
 * process's environment from its HELD_POLLS, IDLE_POLLS and POLL_USERS) so that they never bind in the
 * bench; unset, the production defaults apply (8 per user; half the open-file limit, at most 32,768;
 * 10 devices per user, past which a login ends the least recently seen session).
 */
const POLL_CAPS = Object.fromEntries(
  (['POLLS_PER_USER', 'POLLS_MAX', 'DEVICES_MAX'] as const).flatMap((k) => (process.env[k] !== undefined ? [[k, process.env[k]]] : [])),
);

const listen = (server: Server) =>
  new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });

async function main(): Promise<void> {
  // The driver passes its own DATA_DIR so that a restarted server finds the same users (and removes it
  // itself); run alone, the server makes and removes a temp dir.
  const owned = !process.env.BENCH_DATA_DIR;
  const dir = process.env.BENCH_DATA_DIR ?? mkdtempSync(join(tmpdir(), 'signalbox-bench-'));
  const config = parseConfig(
    {
      DATA_DIR: dir,
      LOG_LEVEL: 'info',
      MAILBOX_MAX: '100000',
      // One sender per recipient in the send bench: its share is the whole mailbox (production: 100).
      MAILBOX_PER_SENDER: '100000',
      ACCESS_TOKEN_TTL: '3600',
      ...RATE_LIMITS_OFF,
      ...POLL_CAPS,
    },
    { jwtSecret: Buffer.alloc(32, 1), dataKey: Buffer.alloc(32, 2) },
  );
  const logger = pino({ level: config.logLevel, base: { service: 'signalbox' } }, pino.destination('/dev/null'));
  const store = await openStore(config);
  const app = createApp({ config, store, logger, hasher: new PasswordHasher(BENCH_ARGON2), processMetrics: true });
  const stopBackground = app.lifecycle.start();
  const appServer = createServer(app.handler);
  appServer.requestTimeout = 60_000; // as main.ts: above the longest hold (30 s)
  appServer.headersTimeout = 15_000;
  appServer.keepAliveTimeout = 65_000;

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

  const appPort = await listen(appServer);
  const barePort = await listen(bareServer);
  const nodePort = await listen(nodeServer);

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(1), 5000).unref();
    app.lifecycle.releasePolls();
    bareServer.close();
    bareServer.closeAllConnections();
    nodeServer.close();
    nodeServer.closeAllConnections();
    appServer.close(() => {
      // process.exit in finally ends the server either way: there is no caller left to hand a rejection to.
      void stopBackground()
        .then(() => store.close())
        .finally(() => {
          if (owned) rmSync(dir, { recursive: true, force: true });
          process.exit(0);
        });
    });
    appServer.closeIdleConnections();
    setInterval(() => appServer.closeIdleConnections(), 50).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The driver going away (a crash, kill -9) closes our stdout pipe: stop rather than linger.
  process.stdout.on('error', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
  // Bounded whatever happens to the driver.
  setTimeout(stop, 30 * 60_000).unref();

  process.stdout.write(`${JSON.stringify({ app: appPort, bare: barePort, node: nodePort, dataDir: dir })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`signalingServer: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
