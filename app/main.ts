import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { pino } from 'pino';
import { checkDataDirWritable, loadConfigOrExit, openStore, requireWritableStore } from './boot.js';
import { resolvePollsMax } from './signaling/pollLimits.js';
import { purgeExpired } from './store/purge.js';
import { VERSION } from './lib/version.js';
import { nodeEndOfLifeWarning } from './lib/nodeSupport.js';

const PURGE_INTERVAL_MS = 10 * 60 * 1000;
const SHUTDOWN_GRACE_MS = 10_000;
/**
 * On SIGTERM, a socket whose request has not fully arrived (idle keep-alive, a client still sending its
 * headers or body) gets this long to bring it in, then is closed: a slow or stalled client must not hold
 * the exit for the whole grace.
 */
const SHUTDOWN_DRAIN_MS = 1_000;
/** Before the grace ends, every connection left (a request still being answered) is cut, leaving this long to close the store and exit 0. */
const SHUTDOWN_LAST_CALL_MS = 1_500;
/**
 * Below the shutdown grace, so no client can keep headers coming for longer than a shutdown waits (Node
 * checks it every connectionsCheckingInterval, 30 s, so shutdown closes such sockets itself as well).
 */
const HEADERS_TIMEOUT_MS = 8_000;

/**
 * The server's sockets whose request has not fully arrived: idle keep-alive ones (no request), those
 * whose client is still sending the request line and headers, and those whose body is still arriving.
 * A request that has arrived and is being answered is not among them.
 */
function socketsAwaitingRequest(server: Server): () => Socket[] {
  const sockets = new Set<Socket>();
  /** Each socket's latest request's response: HTTP/1.1 answers a socket's requests one at a time. */
  const latest = new WeakMap<Socket, ServerResponse>();
  // One shared listener per socket and a map write per request, no closure or listener per request: this
  // runs for every poll, and held polls are counted by the ten thousand (bench/README.md).
  function forget(this: Socket) {
    sockets.delete(this);
  }
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', forget);
  });
  // 'request' fires once the headers are in.
  server.on('request', (req: IncomingMessage, res: ServerResponse) => latest.set(req.socket, res));
  // A socket is answering while its latest request has fully arrived and its answer is not finished; a
  // finished answer means whatever the socket holds now (nothing, or a next request's first bytes) has not.
  const answering = (socket: Socket) => {
    const res = latest.get(socket);
    return res !== undefined && res.req.complete && !res.writableFinished;
  };
  return () => [...sockets].filter((s) => !answering(s));
}

async function main(): Promise<void> {
  // Everything we write (database, secrets, outbox) is for this user only.
  process.umask(0o077);
  // SQLite keeps everything in DATA_DIR: one that cannot be written stops the start with one line, instead
  // of a server that answers reads and fails every write. (With MongoDB, DATA_DIR holds at most generated
  // secrets and the dev outbox, and may be read-only when those come from the environment.)
  const config = loadConfigOrExit('signalbox', (c) => {
    if (c.store === 'sqlite') checkDataDirWritable(c.dataDir);
  });
  // The application's code is loaded once the configuration is known good: a refused start (exit 78)
  // then costs the configuration's code alone, a fifth of the CPU of loading everything.
  const [{ createApp }, { createMailer }] = await Promise.all([import('./server.js'), import('./mail/mailer.js')]);
  const logger = pino({ level: config.logLevel, base: { service: 'signalbox' } });
  const store = await openStore(config);
  await requireWritableStore(store, config);
  const mailer = createMailer(config, logger);
  const app = createApp({ config, store, logger, mailer, processMetrics: true });
  const stopBackground = app.lifecycle.start();

  const server = createServer(app.handler);
  // Above the longest long-poll hold (30 s), below common proxy timeouts.
  server.requestTimeout = 60_000;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.keepAliveTimeout = 65_000;
  const awaitingRequest = socketsAwaitingRequest(server);

  const purge = setInterval(() => {
    purgeExpired(store, new Date()).catch((err: unknown) => logger.warn({ err }, 'purge failed'));
  }, PURGE_INTERVAL_MS);
  purge.unref();

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    clearInterval(purge);
    const force = setTimeout(() => process.exit(1), SHUTDOWN_GRACE_MS);
    force.unref();
    // Held long-polls answer now (empty) so clients reconnect elsewhere, instead of being cut off.
    app.lifecycle.releasePolls();
    server.close(() => {
      // Mail already accepted (reset codes, notices) goes out before the store closes, within the grace time.
      Promise.all([mailer.idle(), stopBackground()])
        .then(() => store.close())
        .then(
          () => process.exit(0),
          // A store that fails to close may not have flushed: say so and exit non-zero, not a silent 0.
          (err: unknown) => {
            logger.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
    });
    // Connections become idle as their last answers (the released polls) go out: keep closing
    // idle keep-alive sockets until the server has none, or close() would wait for their timeout.
    // After a short drain, sockets whose request has not fully arrived (headers or a body trickling in)
    // go too; a request being answered (a slow sign-in) has until the last call.
    const began = Date.now();
    server.closeIdleConnections();
    setInterval(() => {
      server.closeIdleConnections();
      if (Date.now() - began >= SHUTDOWN_DRAIN_MS) for (const socket of awaitingRequest()) socket.destroy();
    }, 50).unref();
    setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS - SHUTDOWN_LAST_CALL_MS).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  // An IPv6 literal needs brackets in a URL (http://[::1]:8080), or the logged address is unusable.
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  // The same derivation the signaling feature used: operators see the cap on held polls and where it came from.
  const pollsMax = resolvePollsMax(config.pollsMax);
  logger.info(
    { version: VERSION, store: store.kind, dataDir: config.dataDir, pollsMax: pollsMax.max, pollsMaxSource: pollsMax.source, pollsPerUser: config.pollsPerUser },
    `signalbox listening on http://${host}:${port}`,
  );
  const oldNode = nodeEndOfLifeWarning(process.versions.node);
  if (oldNode) logger.warn(oldNode);
}

main().catch((err: unknown) => {
  // One line, whatever the message holds: it is what systemd's journal and `docker logs` show first.
  const message = (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ');
  process.stderr.write(`signalbox: failed to start: ${message}\n`);
  process.exit(1);
});
