import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import { z } from 'zod';
import type { AppContext, AppState } from '../http/context.js';
import { notFound, unauthorized, unavailable } from '../core/errors.js';
import { defineRoute, type AnyRoute } from '../http/route.js';
import type { Store } from '../store/types.js';
import type { Metrics } from './metrics.js';

const TAG = 'Operations';

const healthResponse = z.object({
  status: z.literal('ok'),
  store: z.enum(['sqlite', 'mongodb']),
  version: z.string(),
  uptimeSeconds: z.number().int(),
});

export interface OpsDeps {
  store: Store;
  metrics: Metrics;
  metricsToken: string | undefined;
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
  const metricsGuard: Middleware<AppState, AppContext> = async (ctx, next) => {
    if (d.metricsToken) {
      const given = /^Bearer (.+)$/.exec(ctx.get('Authorization'))?.[1] ?? '';
      if (!constantTimeEquals(given, d.metricsToken)) {
        ctx.set('WWW-Authenticate', 'Bearer');
        throw unauthorized('The metrics token is required.');
      }
    }
    await next();
  };

  return [
    defineRoute({
      method: 'get',
      path: '/health',
      tag: TAG,
      summary: 'Liveness and store reachability',
      auth: false,
      responses: { 200: { description: 'Serving.', schema: healthResponse } },
      errors: ['unavailable'],
      handler: async (ctx) => {
        try {
          await d.store.ping();
        } catch {
          throw unavailable('The store is unreachable.');
        }
        ctx.body = {
          status: 'ok',
          store: d.store.kind,
          version: d.version,
          uptimeSeconds: Math.floor((d.now() - d.startedAt) / 1000),
        };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/metrics',
      tag: TAG,
      summary: 'Prometheus metrics',
      description: 'When METRICS_TOKEN is set, requires `Authorization: Bearer <METRICS_TOKEN>`.',
      auth: false,
      before: [metricsGuard],
      responses: { 200: { description: 'Prometheus text exposition format.' } },
      errors: ['unauthorized'],
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
        // Own keys only: `__proto__` or `constructor` would otherwise find Object's and answer 500 (fuzz, issue 17).
        const type = Object.hasOwn(DOC_ASSETS, params.file) ? DOC_ASSETS[params.file] : undefined;
        if (!type) throw notFound();
        ctx.type = type;
        ctx.body = readFileSync(join(swaggerDir, params.file));
      },
    }),
  ];
}
