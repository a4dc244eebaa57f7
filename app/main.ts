import { createServer } from 'node:http';
import { pino } from 'pino';
import { loadConfigOrExit, openStore } from './boot.js';
import { createMailer } from './mail/mailer.js';
import { createApp } from './server.js';
import { resolvePollsMax } from './signaling/pollLimits.js';
import { purgeExpired } from './store/purge.js';
import { VERSION } from './lib/version.js';

const PURGE_INTERVAL_MS = 10 * 60 * 1000;
const SHUTDOWN_GRACE_MS = 10_000;

async function main(): Promise<void> {
  // Everything we write (database, secrets, outbox) is for this user only.
  process.umask(0o077);
  const config = loadConfigOrExit('signalbox');
  const logger = pino({ level: config.logLevel, base: { service: 'signalbox' } });
  const store = await openStore(config);
  const mailer = createMailer(config, logger);
  const app = createApp({ config, store, logger, mailer, processMetrics: true });
  const stopBackground = app.lifecycle.start();

  const server = createServer(app.callback());
  // Above the longest long-poll hold (30 s), below common proxy timeouts.
  server.requestTimeout = 60_000;
  server.headersTimeout = 15_000;
  server.keepAliveTimeout = 65_000;

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
        .finally(() => process.exit(0));
    });
    // Connections become idle as their last answers (the released polls) go out: keep closing
    // idle keep-alive sockets until the server has none, or close() would wait for their timeout.
    server.closeIdleConnections();
    setInterval(() => server.closeIdleConnections(), 50).unref();
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
}

main().catch((err: unknown) => {
  process.stderr.write(`signalbox: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
