import type { IncomingMessage, ServerResponse } from 'node:http';
import Koa from 'koa';
import type { Logger } from 'pino';
import { createAccounts } from './accounts/accounts.module.js';
import type { PasswordHasher } from './accounts/passwordHasher.js';
import type { Config } from './config/parse.js';
import type { Caller } from './core/caller.js';
import { createConnections } from './connections/connections.module.js';
import { createDiagnostics } from './diagnostics/diagnostics.module.js';
import { createLanding } from './landing/landing.module.js';
import { createExamples } from './examples/examples.module.js';
import { createGuides } from './guides/guides.module.js';
import { registerMailMetrics } from './mail/mailMetrics.js';
import type { Platform } from './core/platform.js';
import { RateLimiter } from './core/rateLimiter.js';
import type { AppContext, AppState } from './http/context.js';
import { errorHandler } from './http/errorHandler.js';
import { cors, securityHeaders } from './http/headers.js';
import { jsonBody } from './http/jsonBody.js';
import { leanHandler } from './http/lean.js';
import { requestContext } from './http/requestContext.js';
import { mountRoutes, type Feature } from './http/router.js';
import { systemClock, type Clock } from './lib/clock.js';
import { FieldCipher } from './lib/fieldCipher.js';
import type { Scheduler } from './lib/scheduler.js';
import { createMailer, type Mailer } from './mail/mailer.js';
import { createOps } from './ops/ops.module.js';
import { bestEffortLastSeen } from './presence/lastSeenWrites.js';
import { createPresence } from './presence/presence.module.js';
import { createPush } from './push/push.module.js';
import { createSdk } from './sdk/sdk.module.js';
import { createSignaling } from './signaling/signaling.module.js';
import type { Store } from './store/types.js';
import { createUsers } from './users/users.module.js';

export interface AppDeps {
  config: Config;
  store: Store;
  logger: Logger;
  clock?: Clock;
  /** What held polls' waits and the periodic session check run by; real time by default, driven by tests that would otherwise sleep. */
  scheduler?: Scheduler;
  /** Waits between a push wake-up's attempts (push/sender.ts RETRY_DELAYS_MS by default); tests that retry take shorter ones. */
  pushRetryDelaysMs?: readonly number[];
  /** Tests pass cheaper argon2 parameters; production uses the defaults. */
  hasher?: PasswordHasher;
  /** Process-wide metrics (CPU, memory, event loop): on in main.ts, off in tests. */
  processMetrics?: boolean;
  /** Defaults to SMTP_URL, or the DATA_DIR/outbox directory without it. */
  mailer?: Mailer;
  /** The built client SDK served at /sdk/signalbox.js; defaults to client/dist/signalbox.js. */
  sdkBundlePath?: string;
}

/** What main.ts drives around the HTTP server: background work and an orderly stop. */
export interface Lifecycle {
  /** Starts background work: expired-signal sweeps and cross-instance wake-ups. Returns its stop. */
  start(): () => Promise<void>;
  /** First step of shutdown: every held poll answers now (empty) and no new poll waits. */
  releasePolls(): void;
}

/** A node:http request handler, as `createServer` takes it. */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** What `createApp` builds: the HTTP server's handler, what drives the app around it, and the Koa app behind both. */
export interface SignalboxApp {
  /**
   * The request handler a server listens with: the lean routes (http/lean.ts) first, then Koa. HTTP/1.1
   * only (main.ts serves node:http): Koa's own callback also takes HTTP/2 requests, the lean route does not.
   */
  handler: RequestHandler;
  lifecycle: Lifecycle;
  /**
   * The Koa app with every route, its `callback()` left as Koa defines it: what tests compare the lean route
   * with, and what reads its middleware (the routers).
   */
  koa: Koa<AppState, AppContext>;
}

/**
 * Builds the app from its parts: the shared platform, then each feature from what it needs of it
 * and of the features before it. No listening and no globals: main.ts and tests both call this.
 */
export function createApp(deps: AppDeps): SignalboxApp {
  const { config, store, logger } = deps;
  const clock = deps.clock ?? systemClock;
  const cipher = new FieldCipher(config.dataKey);
  const limiter = new RateLimiter(store.rateLimits, config.rateLimits, clock, (subject) => cipher.blindIndex(subject, 'rate-limit'), config.rateIpv6Prefix);
  const platform: Platform = { config, store, clock, cipher, limiter, logger, mailer: deps.mailer ?? createMailer(config, logger) };

  const ops = createOps({ ...platform, processMetrics: deps.processMetrics ?? false, allRoutes: () => routes });
  registerMailMetrics(ops.metrics.registry, platform.mailer);
  const signaling = createSignaling({ ...platform, registry: ops.metrics.registry, scheduler: deps.scheduler });
  const presence = createPresence({ ...platform, isHolding: signaling.isHolding });
  const accounts = createAccounts({
    ...platform,
    hasher: deps.hasher,
    onSignOut: (userId) => presence.service.signOut(userId),
    onSessionsEnded: (ended) => signaling.sessionsEnded(ended), // their held polls answer 401 at once
  });
  const users = createUsers({ ...platform, presenceFor: (viewerId, targetId) => presence.service.presenceFor(viewerId, targetId) });
  const connections = createConnections({ ...platform, presence: presence.service });
  const push = createPush({ ...platform, registry: ops.metrics.registry, isHoldingDevice: signaling.isHoldingDevice, retryDelaysMs: deps.pushRetryDelaysMs });
  const sdk = createSdk({ logger, bundlePath: deps.sdkBundlePath });

  // The order of the reference, and the router's: accounts' /users/me comes before users' /users/:username.
  const features: Feature[] = [
    accounts,
    users,
    connections,
    signaling,
    push,
    presence,
    ops,
    sdk,
    createDiagnostics(),
    createGuides(),
    createLanding({ examples: config.examples }),
  ];
  // The example apps only when asked for (EXAMPLES, or npm run dev): a production server serves none.
  if (config.examples) features.push(createExamples());
  const routes = features.flatMap((feature) => feature.routes);
  // lastSeen of the user (presence) and of the device (session) from every authenticated request
  // (best effort: a store that cannot write fails neither a poll nor anything else for it)
  // (each write is due at most every 30 s: when neither is, the request waits on nothing)
  const onAuthenticated = bestEffortLastSeen((caller: Caller) => {
    const userSeen = presence.service.seen(caller.userId);
    const deviceSeen = accounts.deviceSeen(caller);
    if (!userSeen && !deviceSeen) return undefined;
    return Promise.all([userSeen, deviceSeen]).then(() => undefined);
  }, logger);
  const router = mountRoutes(routes, { authenticate: accounts.authenticate, onAuthenticated });

  const app = new Koa<AppState, AppContext>({ proxy: config.trustProxy, maxIpsCount: 1 });
  // With TRUST_PROXY only the address our own proxy appended is believed (maxIpsCount 1): a client
  // cannot pick its rate-limit identity by sending its own X-Forwarded-For.
  app.silent = true; // errors are logged by errorHandler, once
  app.use(requestContext(logger));
  app.use(ops.metrics.http);
  app.use(securityHeaders());
  app.use(cors(config.corsOrigins));
  app.use(errorHandler(logger, config.maxBodyBytes));
  app.use(jsonBody(config.maxBodyBytes));
  app.use(router.routes());
  app.use(router.allowedMethods());
  // Koa's callback is built once, after every middleware is registered (it composes them then).
  const koaCallback = app.callback();
  // Koa settles every request itself (ctx.onerror answers and logs a throw): its promise carries nothing more.
  const koaHandler: RequestHandler = (req, res) => void koaCallback(req, res);
  // The hot poll and send routes are answered before Koa (same checks, bytes, log line and metrics;
  // docs/architecture.md, "The path of GET /signaling/poll"); the rest, and any request they leave, go through
  // the middleware above.
  const lean = {
    logger,
    trustProxy: config.trustProxy,
    corsOrigins: config.corsOrigins,
    maxBodyBytes: config.maxBodyBytes,
    observe: ops.metrics.observe,
    callerOf: accounts.callerOf,
    onAuthenticated,
  };
  const handler = leanHandler(lean, signaling.leanRoutes, koaHandler);
  const lifecycle: Lifecycle = {
    start() {
      const stops = features.flatMap((feature) => (feature.start ? [feature.start()] : []));
      return async () => {
        await Promise.all(stops.map((stop) => stop()));
      };
    },
    releasePolls() {
      for (const feature of features) feature.stop?.();
    },
  };
  return { koa: app, handler, lifecycle };
}
