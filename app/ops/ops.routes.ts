import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import { z } from 'zod';
import type { AppContext, AppState } from '../http/context.js';
import { ERRORS, notFound, unauthorized, unavailable } from '../core/errors.js';
import { defineRoute, type AnyRoute } from '../http/route.js';
import type { Store, WriteFailure } from '../store/types.js';
import { isLoopback } from '../core/loopback.js';
import { sharedWriteProbe } from './healthProbe.js';
import type { Metrics } from './metrics.js';

const TAG = 'Operations';

const healthResponse = z.object({
  status: z.literal('ok'),
  store: z.enum(['sqlite', 'mongodb', 'postgres']),
  version: z.string(),
  uptimeSeconds: z.number().int(),
});

/** Seconds a load balancer or client should wait before asking a degraded instance again. */
const DEGRADED_RETRY_AFTER_SECONDS = 5;

const DEGRADED_MESSAGES: Record<WriteFailure, string> = {
  disk_full: 'The store cannot write: its disk is full.',
  read_only: 'The store cannot write: its database or file system is read-only.',
  io_error: 'The store cannot write: its disk reports I/O errors.',
  write_failed: 'The store cannot write.',
};

/**
 * The store answers but cannot write (a full disk, a read-only file system): sends and sign-ins would
 * fail, polls still read, so this instance should leave a load balancer's rotation. Answered 503 (what
 * load balancers and the Docker/systemd health checks act on) with a body that is both the health
 * answer (`status`, `reason`) and the API's single error shape (`error.code` unavailable, as in the
 * OpenAPI document's 503), so a client of either kind reads it.
 */
const degradedResponse = healthResponse.extend({
  status: z.literal('degraded'),
  reason: z.enum(['disk_full', 'read_only', 'io_error', 'write_failed']),
  error: z.object({ code: z.literal('unavailable'), message: z.string() }),
});

const HEALTH_DESCRIPTION =
  'Reads (a trivial query) and writes (one small record, at most once per 5 s, shared by concurrent calls) ' +
  'to the store. `200` `status: "ok"`: both work. `503` with `Retry-After`: the store is unreachable ' +
  '(the error shape, `unavailable`), or it answers but cannot write, when the body also carries ' +
  '`status: "degraded"`, `reason` (`disk_full`, `read_only`, `io_error`, `write_failed`), `store`, ' +
  '`version` and `uptimeSeconds` beside `error` (`unavailable`): polls still read what is stored, sends are refused with 503.';

export interface OpsDeps {
  store: Store;
  metrics: Metrics;
  metricsToken: string | undefined;
  /** METRICS_PUBLIC: without a token, answer every client instead of loopback ones only. */
  metricsPublic: boolean;
  version: string;
  startedAt: number;
  now: () => number;
  openApi: () => unknown;
}

function constantTimeEquals(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

// The docs page is Swagger UI served from our own node_modules: self-hosters may be offline.
const swaggerDir = join(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'), '..');
const DOC_ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
};
const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Signalbox API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/init.js"></script>
</body></html>`;
// validatorUrl null: Swagger UI would otherwise embed a badge image from validator.swagger.io that
// carries this server's URL (a request to another host, and blocked by our own CSP anyway).
const DOCS_INIT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#ui', deepLinking: true, validatorUrl: null });`;
const DOCS_CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'";

export function opsRoutes(d: OpsDeps): AnyRoute[] {
  const probeWrite = sharedWriteProbe(d.store, d.now);
  const metricsGuard: Middleware<AppState, AppContext> = async (ctx, next) => {
    if (d.metricsToken) {
      const given = /^Bearer (.+)$/.exec(ctx.get('Authorization'))?.[1] ?? '';
      if (!constantTimeEquals(given, d.metricsToken)) {
        ctx.set('WWW-Authenticate', 'Bearer');
        throw unauthorized('The metrics token is required.');
      }
    } else if (!d.metricsPublic && !isLoopback(ctx.ip)) {
      // No token: the metrics (traffic, users online, errors) are for the host's own scraper only.
      // ctx.ip is the forwarded client with TRUST_PROXY, so a proxy on loopback does not open it up.
      // 404, as the nginx site answers: nothing tells a stranger the endpoint exists.
      throw notFound();
    }
    await next();
  };

  return [
    defineRoute({
      method: 'get',
      path: '/health',
      tag: TAG,
      summary: 'Liveness and store reachability',
      description: HEALTH_DESCRIPTION,
      auth: false,
      responses: {
        200: { description: 'Serving: the store reads and writes.', schema: healthResponse },
        503: { description: 'Degraded: the store answers but cannot write (this body), or it is unreachable (the error shape).', schema: degradedResponse },
      },
      errors: ['unavailable'],
      handler: async (ctx) => {
        let failure: WriteFailure | null;
        try {
          await d.store.ping();
          failure = await probeWrite();
        } catch {
          throw unavailable('The store is unreachable.');
        }
        const about = { store: d.store.kind, version: d.version, uptimeSeconds: Math.floor((d.now() - d.startedAt) / 1000) };
        if (failure === null) {
          ctx.body = { status: 'ok', ...about } satisfies z.infer<typeof healthResponse>;
          return;
        }
        ctx.status = ERRORS.unavailable.status;
        ctx.set('Retry-After', String(DEGRADED_RETRY_AFTER_SECONDS));
        const error = { code: 'unavailable' as const, message: DEGRADED_MESSAGES[failure] };
        ctx.body = { status: 'degraded', reason: failure, ...about, error } satisfies z.infer<typeof degradedResponse>;
      },
    }),
    defineRoute({
      method: 'get',
      path: '/metrics',
      tag: TAG,
      summary: 'Prometheus metrics',
      description:
        'When METRICS_TOKEN is set, requires `Authorization: Bearer <METRICS_TOKEN>` (from any client). Without it, ' +
        'answered only to loopback clients (127.0.0.0/8, ::1; the forwarded address with TRUST_PROXY) and 404 not_found ' +
        'to any other, unless METRICS_PUBLIC=true.',
      auth: false,
      before: [metricsGuard],
      responses: { 200: { description: 'Prometheus text exposition format.' } },
      errors: ['unauthorized', 'not_found'],
      handler: async (ctx) => {
        ctx.type = d.metrics.registry.contentType;
        ctx.body = await d.metrics.registry.metrics();
      },
    }),
    defineRoute({
      method: 'get',
      path: '/openapi.json',
      tag: TAG,
      summary: 'This API as OpenAPI 3.1',
      operationId: 'getOpenApiDocument',
      auth: false,
      responses: { 200: { description: 'The OpenAPI document.' } },
      handler: (ctx) => {
        ctx.body = d.openApi();
      },
    }),
    defineRoute({
      method: 'get',
      path: '/docs',
      tag: TAG,
      summary: 'The API reference, rendered',
      auth: false,
      responses: { 200: { description: 'An HTML page.' } },
      handler: (ctx) => {
        ctx.set('Content-Security-Policy', DOCS_CSP);
        ctx.type = 'text/html; charset=utf-8';
        ctx.body = DOCS_PAGE;
      },
    }),
    defineRoute({
      method: 'get',
      path: '/docs/assets/:file',
      tag: TAG,
      summary: 'Files of the rendered reference',
      auth: false,
      params: z.strictObject({ file: z.string().max(64) }),
      responses: { 200: { description: 'A static file.' } },
      errors: ['not_found'],
      handler: (ctx, { params }) => {
        ctx.set('Cache-Control', 'public, max-age=86400');
        if (params.file === 'init.js') {
          ctx.type = 'text/javascript; charset=utf-8';
          ctx.body = DOCS_INIT;
          return;
        }
        // Own keys only: `__proto__` or `constructor` would otherwise find Object's and answer 500 (found by the OpenAPI fuzz).
        const type = Object.hasOwn(DOC_ASSETS, params.file) ? DOC_ASSETS[params.file] : undefined;
        if (!type) throw notFound();
        ctx.type = type;
        ctx.body = readFileSync(join(swaggerDir, params.file));
      },
    }),
  ];
}
