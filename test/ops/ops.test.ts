import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import request from 'supertest';
import { parseConfig } from '../../app/config/parse.js';
import { VERSION } from '../../app/lib/version.js';
import { createApp, type SignalboxApp } from '../../app/server.js';
import { openSqliteStore } from '../../app/store/sqlite/index.js';
import type { Store } from '../../app/store/types.js';
import { makeTestApp } from '../helpers/app.js';
import { registerUser } from '../helpers/factories.js';
import { useTestApp } from '../helpers/perTest.js';

const t = useTestApp();

/** The real store, except that `ping` fails as if the database were gone. */
const unreachable = (store: Store): Store => ({
  ...store,
  ping: () => Promise.reject(new Error('SQLITE_CANTOPEN: /secret/path/signalbox.db')),
});

/** The lines of a Prometheus exposition that belong to one metric (samples only, no comments). */
const samples = (text: string, name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));

describe('GET /health', () => {
  it('answers 200 with status, store kind, version and uptime', async () => {
    const res = await t.http.get('/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', store: 'sqlite', version: VERSION, uptimeSeconds: 0 });
  });

  it('counts uptime in whole seconds from when the app was built', async () => {
    t.clock.advance(42.7);
    const res = await t.http.get('/health');
    expect(res.body.uptimeSeconds).toBe(42);
  });

  it('reports the package version', async () => {
    const res = await t.http.get('/health');
    expect(res.body.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(res.body.version).not.toBe('0.0.0');
  });

  it('answers 503 unavailable in the error shape when the store does not answer', async () => {
    const down = makeTestApp({ wrapStore: unreachable });
    try {
      const res = await down.http.get('/health');
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ error: { code: 'unavailable', message: expect.any(String) } });
      expect(res.headers['retry-after']).toMatch(/^\d+$/);
      expect(res.text).not.toMatch(/SQLITE_CANTOPEN|secret|at .*\.js/);
    } finally {
      await down.close();
    }
  });
});

describe('GET /metrics', () => {
  it('answers in the Prometheus text format', async () => {
    const res = await t.http.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.text).toContain('# TYPE signalbox_http_requests_total counter');
  });

  it('counts requests by method, matched route and status', async () => {
    await registerUser(t);
    await t.http.post('/auth/register').send({ username: 'x', email: 'nope', password: 'short' });
    const res = await t.http.get('/metrics');
    const lines = samples(res.text, 'signalbox_http_requests_total');
    expect(lines).toContain('signalbox_http_requests_total{method="POST",route="/auth/register",status="201"} 1');
    expect(lines).toContain('signalbox_http_requests_total{method="POST",route="/auth/register",status="400"} 1');
  });

  it('labels a route with a path parameter by its template, never by the raw path', async () => {
    await t.http.get('/docs/assets/init.js').expect(200);
    await t.http.get('/docs/assets/no-such-file.js').expect(404);
    const res = await t.http.get('/metrics');
    const lines = samples(res.text, 'signalbox_http_requests_total');
    expect(lines).toContain('signalbox_http_requests_total{method="GET",route="/docs/assets/:file",status="200"} 1');
    expect(lines).toContain('signalbox_http_requests_total{method="GET",route="/docs/assets/:file",status="404"} 1');
    expect(res.text).not.toContain('init.js');
    expect(res.text).not.toContain('no-such-file');
  });

  it('labels requests that match no route as "unmatched"', async () => {
    await t.http.get('/users/by-raw/path/carol_secret').expect(404);
    const res = await t.http.get('/metrics');
    expect(samples(res.text, 'signalbox_http_requests_total')).toContain('signalbox_http_requests_total{method="GET",route="unmatched",status="404"} 1');
    expect(res.text).not.toContain('carol_secret');
  });

  it('records a duration histogram with the same labels', async () => {
    await registerUser(t);
    const res = await t.http.get('/metrics');
    expect(res.text).toContain('# TYPE signalbox_http_request_duration_seconds histogram');
    const labels = 'method="POST",route="/auth/register",status="201"';
    const buckets = samples(res.text, 'signalbox_http_request_duration_seconds_bucket').filter((l) => l.includes(labels));
    expect(buckets.length).toBeGreaterThan(1);
    expect(buckets).toContain(`signalbox_http_request_duration_seconds_bucket{le="+Inf",${labels}} 1`);
    expect(samples(res.text, 'signalbox_http_request_duration_seconds_count')).toContain(`signalbox_http_request_duration_seconds_count{${labels}} 1`);
    expect(samples(res.text, 'signalbox_http_request_duration_seconds_sum').some((l) => l.includes(labels))).toBe(true);
  });

  it('keeps its counters per app, so two apps in one process do not share them', async () => {
    const other = makeTestApp();
    try {
      await registerUser(other);
      const res = await t.http.get('/metrics');
      expect(res.text).not.toContain('route="/auth/register"');
    } finally {
      await other.close();
    }
  });
});

describe('GET /metrics with METRICS_TOKEN set', () => {
  const token = 'metrics-token-0123456789abcdef';
  const guarded = useTestApp({ env: { METRICS_TOKEN: token } });

  it('refuses a request without a token with 401 unauthorized', async () => {
    const res = await guarded.http.get('/metrics');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.text).not.toContain('signalbox_http_requests_total');
  });

  it('refuses a wrong bearer token with 401 unauthorized', async () => {
    const res = await guarded.http.get('/metrics').set('Authorization', `Bearer ${token.slice(0, -1)}x`);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
  });

  it('refuses the token when it is not sent as a bearer token', async () => {
    const res = await guarded.http.get('/metrics').set('Authorization', token);
    expect(res.status).toBe(401);
  });

  it('answers the metrics to the right bearer token', async () => {
    const res = await guarded.http.get('/metrics').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
    expect(res.text).toContain('signalbox_http_requests_total');
  });

  it('leaves the other endpoints open', async () => {
    const res = await guarded.http.get('/health');
    expect(res.status).toBe(200);
  });
});

describe('GET /metrics without METRICS_TOKEN', () => {
  // Behind a proxy (TRUST_PROXY) the client is the forwarded address: a proxy on loopback opens nothing.
  const proxied = useTestApp({ env: { TRUST_PROXY: 'true' } });
  const open = useTestApp({ env: { TRUST_PROXY: 'true', METRICS_PUBLIC: 'true' } });

  it('answers 404 not_found to a client that is not on loopback', async () => {
    const res = await proxied.http.get('/metrics').set('X-Forwarded-For', '203.0.113.5');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
    expect(res.text).not.toContain('signalbox_http_requests_total');
  });

  it.each(['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1'])('answers a loopback client (%s)', async (ip) => {
    const res = await proxied.http.get('/metrics').set('X-Forwarded-For', ip);
    expect(res.status).toBe(200);
    expect(res.text).toContain('signalbox_http_requests_total');
  });

  it('answers any client with METRICS_PUBLIC=true', async () => {
    const res = await open.http.get('/metrics').set('X-Forwarded-For', '203.0.113.5');
    expect(res.status).toBe(200);
    expect(res.text).toContain('signalbox_http_requests_total');
  });
});

/** An app built exactly as main.ts builds it, so the test can read the router it serves from. */
function bareApp(): { app: SignalboxApp; close(): Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'signalbox-routes-'));
  const config = parseConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent' }, { jwtSecret: Buffer.alloc(32, 7), dataKey: Buffer.alloc(32, 9) });
  const store = openSqliteStore(join(dir, 'signalbox.db'));
  const app = createApp({ config, store, logger: pino({ level: 'silent' }) });
  return {
    app,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface RouterLayer {
  path: string | RegExp;
  methods: string[];
}

/** Every `METHOD /path` the app's routers dispatch, in OpenAPI path syntax. HEAD comes free with GET. */
function servedOperations(app: SignalboxApp['koa']): string[] {
  const routers = app.middleware
    .map((mw) => (mw as unknown as { router?: { stack: RouterLayer[] } }).router)
    .filter((r): r is { stack: RouterLayer[] } => r !== undefined);
  const ops = new Set<string>();
  for (const router of routers) {
    for (const layer of router.stack) {
      for (const method of layer.methods.filter((m) => m !== 'HEAD')) {
        // A route declared as `/x/` is served both ways (http/router.ts): one operation, documented bare as `/x`.
        const path = String(layer.path).replace(/:([A-Za-z0-9_]+)/g, '{$1}');
        const bareServedToo = path.length > 1 && path.endsWith('/') && router.stack.some((l) => l.path === String(layer.path).slice(0, -1));
        const documentedAs = bareServedToo ? path.slice(0, -1) : path;
        ops.add(`${method.toLowerCase()} ${documentedAs}`);
      }
    }
  }
  return [...ops].sort();
}

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.1 document titled Signalbox with the package version', async () => {
    const res = await t.http.get('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body.openapi).toMatch(/^3\.1\.\d+$/);
    expect(res.body.info).toMatchObject({ title: 'Signalbox', version: VERSION, 'x-api-version': '1.1' });
  });

  it('documents every route the app serves, with its method, and nothing it does not serve', async () => {
    const { app, close } = bareApp();
    try {
      const served = servedOperations(app.koa);
      expect(served).toContain('post /auth/register');
      expect(served).toContain('get /health');
      const doc = (await request(app.handler).get('/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
      const documented = Object.entries(doc.paths)
        .flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method} ${path}`))
        .sort();
      expect(documented).toEqual(served);
    } finally {
      await close();
    }
  });

  it('gives every operation a summary, a unique operationId and at least one success response', async () => {
    const res = await t.http.get('/openapi.json');
    const operations = Object.values(res.body.paths as Record<string, Record<string, Record<string, unknown>>>).flatMap((ops) => Object.values(ops));
    expect(operations.length).toBeGreaterThan(5);
    for (const op of operations) {
      expect(op.summary).toEqual(expect.any(String));
      expect(Object.keys(op.responses as object).some((s) => /^2\d\d$/.test(s))).toBe(true);
    }
    const ids = operations.map((op) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('marks authenticated operations with the bearer scheme and public ones with none', async () => {
    const res = await t.http.get('/openapi.json');
    expect(res.body.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    expect(res.body.paths['/users/me'].get.security).toEqual([{ bearer: [] }]);
    expect(res.body.paths['/auth/register'].post.security).toEqual([]);
  });

  it('lists a response for the status of every error code an operation names', async () => {
    // Transcribed from docs/api.md (Conventions), independently of app/ops/openapi.ts.
    const contract: Record<string, string> = {
      invalid_json: '400',
      validation_failed: '400',
      invalid_otp: '400',
      invalid_pgp_key: '400',
      invalid_totp: '400',
      unauthorized: '401',
      invalid_credentials: '401',
      totp_required: '401',
      forbidden: '403',
      not_connected: '403',
      invalid_password: '403',
      not_found: '404',
      conflict: '409',
      username_taken: '409',
      email_taken: '409',
      already_connected: '409',
      request_pending: '409',
      payload_too_large: '413',
      unsupported_media_type: '415',
      rate_limited: '429',
      mailbox_full: '429',
      internal: '500',
      unavailable: '503',
    };
    const res = await t.http.get('/openapi.json');
    const missing: string[] = [];
    for (const [path, ops] of Object.entries(res.body.paths as Record<string, Record<string, { description?: string; responses: object }>>)) {
      for (const [method, op] of Object.entries(ops)) {
        const codes = [...(/Error codes: (.*)\./.exec(op.description ?? '')?.[1] ?? '').matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!);
        for (const code of codes) {
          if (!Object.keys(op.responses).includes(contract[code] ?? `unknown code ${code}`)) missing.push(`${method} ${path}: ${code}`);
        }
      }
    }
    expect(res.body.paths['/metrics'].get.description).toContain('`unauthorized`');
    expect(missing).toEqual([]);
  });

  it('resolves every $ref inside the document', async () => {
    const res = await t.http.get('/openapi.json');
    const refs = [...JSON.stringify(res.body).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of new Set(refs)) {
      expect(ref.startsWith('#/')).toBe(true);
      const target = ref
        .slice(2)
        .split('/')
        .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key.replace(/~1/g, '/').replace(/~0/g, '~')], res.body);
      expect({ ref, found: target !== undefined }).toEqual({ ref, found: true });
    }
  });
});

describe('GET /docs', () => {
  /** The src/href of every script and stylesheet the page loads. */
  const assetUrls = (html: string) => [...html.matchAll(/<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);

  it('answers an HTML page', async () => {
    const res = await t.http.get('/docs');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.text).toMatch(/^<!doctype html>/i);
  });

  it('loads only assets from this server, never from another host', async () => {
    const res = await t.http.get('/docs');
    const urls = assetUrls(res.text);
    expect(urls.length).toBeGreaterThanOrEqual(2);
    for (const url of urls) expect(url).toMatch(/^\/(?!\/)/);
    expect(res.text).not.toMatch(/https?:\/\//i);
  });

  it('forbids loading anything from elsewhere through its Content-Security-Policy', async () => {
    const res = await t.http.get('/docs');
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/https?:|\*/);
  });

  it('serves each asset the page loads with a JavaScript or CSS content type', async () => {
    const page = await t.http.get('/docs');
    for (const url of assetUrls(page.text)) {
      const res = await t.http.get(url);
      expect({ url, status: res.status }).toEqual({ url, status: 200 });
      const expected = url.endsWith('.css') ? /^text\/css/ : /^(text|application)\/javascript/;
      expect({ url, type: res.headers['content-type'] }).toEqual({ url, type: expect.stringMatching(expected) });
      expect(Number(res.headers['content-length'] ?? (res.body as Buffer | string).length)).toBeGreaterThan(0);
    }
  });

  it("points the page at this server's /openapi.json and turns off the external validator badge", async () => {
    const res = await t.http.get('/docs/assets/init.js');
    expect(res.text).toContain("url: '/openapi.json'");
    // Swagger UI otherwise embeds an image from validator.swagger.io carrying this server's URL.
    expect(res.text).toMatch(/validatorUrl:\s*(null|'none')/);
    expect(res.text).not.toMatch(/https?:\/\//i);
  });

  it('answers 404 not_found for a file that is not one of its assets', async () => {
    const res = await t.http.get('/docs/assets/package.json');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });
});
