import Router from '@koa/router';
import Koa, { type Middleware } from 'koa';
import type { Logger } from 'pino';
import { accountRoutes } from './accounts/accounts.routes.js';
import { AccountService } from './accounts/accounts.service.js';
import { ownAccountRoutes } from './accounts/ownAccount.routes.js';
import { PasswordHasher } from './accounts/passwordHasher.js';
import { passwordResetRoutes } from './accounts/passwordReset.routes.js';
import { PasswordResetService } from './accounts/passwordReset.service.js';
import { AccessTokens } from './accounts/tokens.js';
import { twoFactorRoutes } from './accounts/twoFactor.routes.js';
import { TwoFactorService } from './accounts/twoFactor.service.js';
import type { Config } from './config.js';
import { connectionRoutes } from './connections/connections.routes.js';
import { ConnectionService } from './connections/connections.service.js';
import { PresenceService } from './presence/presence.service.js';
import { RateLimiter } from './core/rateLimiter.js';
import { authenticate, onAuthenticated } from './http/authenticate.js';
import type { AppContext, AppState } from './http/context.js';
import { errorHandler } from './http/errorHandler.js';
import { cors, securityHeaders } from './http/headers.js';
import { jsonBody } from './http/jsonBody.js';
import { requestContext } from './http/requestContext.js';
import type { AnyRoute } from './http/route.js';
import { parseInput } from './http/validate.js';
import { systemClock, type Clock } from './lib/clock.js';
import { FieldCipher } from './lib/fieldCipher.js';
import { VERSION } from './lib/version.js';
import { createMailer, type Mailer } from './mail/mailer.js';
import { createMetrics } from './ops/metrics.js';
import { buildOpenApi } from './ops/openapi.js';
import { opsRoutes } from './ops/ops.routes.js';
import { Cursors } from './signaling/cursor.js';
import { IceServerService } from './signaling/iceServers.js';
import { iceServerRoutes } from './signaling/iceServers.routes.js';
import { mailboxRoutes } from './signaling/mailbox.routes.js';
import { MailboxService } from './signaling/mailbox.service.js';
import { MailboxNotifier } from './signaling/notifier.js';
import { resolvePollsMax } from './signaling/pollLimits.js';
import { startCrossInstanceWakeups } from './signaling/wakeups.js';
import { createSignalMetrics } from './signaling/signalMetrics.js';
import type { Store } from './store/types.js';
import { userRoutes } from './users/users.routes.js';
import { UserDirectory } from './users/users.service.js';

export interface AppDeps {
  config: Config;
  store: Store;
  logger: Logger;
  clock?: Clock;
  /** Tests pass cheaper argon2 parameters; production uses the defaults. */
  hasher?: PasswordHasher;
  /** Process-wide metrics (CPU, memory, event loop): on in main.ts, off in tests. */
  processMetrics?: boolean;
  /** Defaults to SMTP_URL, or the DATA_DIR/outbox directory without it. */
  mailer?: Mailer;
}


/** What main.ts drives around the HTTP server: background work and an orderly stop. */
export interface Lifecycle {
  /** Starts background work: expired-signal sweeps and cross-instance wake-ups. Returns its stop. */
  start(): () => Promise<void>;
  /** First step of shutdown: every held poll answers now (empty) and no new poll waits. */
  releasePolls(): void;
}

export type SignalboxApp = Koa<AppState, AppContext> & { lifecycle: Lifecycle };

/** Signals expire after SIGNAL_TTL (minutes); sweeping every minute keeps mailboxes small. */
const SIGNAL_SWEEP_INTERVAL_MS = 60_000;

/** Builds the Koa app from its parts. No listening and no globals: main.ts and tests both call this. */
export function createApp(deps: AppDeps): SignalboxApp {
  const { config, store, logger } = deps;
  const clock = deps.clock ?? systemClock;
  const hasher = deps.hasher ?? new PasswordHasher();
  const cipher = new FieldCipher(config.dataKey);
  const tokens = new AccessTokens(config.jwtSecret, config.accessTokenTtl, clock);
  const limiter = new RateLimiter(store.rateLimits, config.rateLimits, clock, (subject) => cipher.blindIndex(subject, 'rate-limit'));
  const notifier = new MailboxNotifier({ perUser: config.pollsPerUser, total: resolvePollsMax(config.pollsMax).max });
  const presence = new PresenceService({ store, clock, windowSeconds: config.presenceWindow, isHolding: (userId) => notifier.isHolding(userId) });
  const mailer = deps.mailer ?? createMailer(config, logger);
  const twoFactor = new TwoFactorService({ store, hasher, cipher, clock, limiter });
  const accounts = new AccountService({ store, hasher, tokens, cipher, clock, config, limiter, twoFactor, mailer, onSignOut: (userId) => presence.signOut(userId) });
  const connections = new ConnectionService({ store, clock, presence, config });
  const resets = new PasswordResetService({ store, accounts, hasher, cipher, clock, mailer, limiter, config });
  const metrics = createMetrics({ processMetrics: deps.processMetrics ?? false });
  const signalMetrics = createSignalMetrics(metrics.registry, () => notifier.heldPolls);
  const mailboxes = new MailboxService({ store, clock, cursors: new Cursors(cipher), notifier, limiter, metrics: signalMetrics, config });

  const routes: AnyRoute[] = [];
  let openApiDoc: unknown;
  routes.push(
    ...accountRoutes(accounts, cipher, limiter),
    ...passwordResetRoutes(resets, limiter),
    ...twoFactorRoutes(twoFactor, accounts),
    ...ownAccountRoutes(accounts, cipher),
    ...userRoutes(new UserDirectory({ users: store.users, limiter, presenceFor: (viewerId, targetId) => presence.presenceFor(viewerId, targetId) })),
    ...connectionRoutes(connections),
    ...mailboxRoutes(mailboxes),
    ...iceServerRoutes(new IceServerService({ config, clock, limiter })),
    ...opsRoutes({
      store,
      metrics,
      metricsToken: config.metricsToken,
      version: VERSION,
      startedAt: clock.now(),
      now: () => clock.now(),
      openApi: () => (openApiDoc ??= buildOpenApi(routes, { version: VERSION })),
    }),
  );

  const router = new Router<AppState, AppContext>();
  const auth = authenticate(tokens, store.sessions, clock, config.sessionMaxAge);
  const seen = onAuthenticated((c) => presence.seen(c.userId)); // lastSeen from every authenticated request
  for (const route of routes) {
    const chain: Array<Middleware<AppState, AppContext>> = [...(route.before ?? [])];
    if (route.auth) chain.push(auth, seen);
    chain.push(async (ctx) => {
      const [body, query, params] = parseInput([
        [route.body, ctx.request.body, ''],
        [route.query, ctx.query, 'query'],
        [route.params, ctx.params, 'params'],
      ]);
      await route.handler(ctx, { body, query, params });
    });
    // The router makes a trailing slash optional but not the other way round: `/connections/` (the
    // contract's spelling) is registered bare too, so `GET /connections` reaches it as clients expect.
    const paths = route.path.length > 1 && route.path.endsWith('/') ? [route.path, route.path.slice(0, -1)] : [route.path];
    router[route.method](paths, ...(chain as Parameters<typeof router.get>[1][]));
  }

  const app = new Koa<AppState, AppContext>({ proxy: config.trustProxy, maxIpsCount: 1 });
  // With TRUST_PROXY only the address our own proxy appended is believed (maxIpsCount 1): a client
  // cannot pick its rate-limit identity by sending its own X-Forwarded-For.
  app.silent = true; // errors are logged by errorHandler, once
  app.use(requestContext(logger));
  app.use(metrics.http);
  app.use(securityHeaders());
  app.use(cors(config.corsOrigins));
  app.use(errorHandler(logger, config.maxBodyBytes));
  app.use(jsonBody(config.maxBodyBytes));
  app.use(router.routes());
  app.use(router.allowedMethods());
  const lifecycle: Lifecycle = {
    start() {
      const sweep = setInterval(() => {
        mailboxes.sweepExpired().catch((err: unknown) => logger.warn({ err }, 'signal sweep failed'));
      }, SIGNAL_SWEEP_INTERVAL_MS);
      sweep.unref();
      const stopWakeups = startCrossInstanceWakeups(store.signals, notifier, logger);
      return async () => {
        clearInterval(sweep);
        await stopWakeups();
      };
    },
    releasePolls: () => notifier.close(),
  };
  return Object.assign(app, { lifecycle });
}
