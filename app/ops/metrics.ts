import type { Middleware } from 'koa';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { AppContext, AppState } from '../http/context.js';

export interface Metrics {
  registry: Registry;
  /** Counts and times every request by route template (never the raw path: it holds usernames). */
  http: Middleware<AppState, AppContext>;
  /** What `http` records for one request, for a route answered outside Koa (the lean poll route). */
  observe: (method: string, route: string, status: number, seconds: number) => void;
}

/** A registry of our own per app, so several apps in one process (tests) never share counters. */
export function createMetrics(options: { processMetrics: boolean }): Metrics {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'signalbox_http_requests_total',
    help: 'HTTP requests by method, route template and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'signalbox_http_request_duration_seconds',
    help: 'HTTP request latency by method, route template and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });

  // One pair of label-bound children per method/route/status, found by a plain string key: hashing
  // the label object on every request was a measurable share of the poll hot path.
  const children = new Map<string, { count: () => void; time: (seconds: number) => void }>();
  const childrenFor = (method: string, route: string, status: string) => {
    const key = `${method} ${status} ${route}`;
    let child = children.get(key);
    if (!child) {
      const counter = requests.labels(method, route, status);
      const histogram = duration.labels(method, route, status);
      child = { count: () => counter.inc(), time: (seconds) => histogram.observe(seconds) };
      children.set(key, child);
    }
    return child;
  };

  const observe = (method: string, route: string, status: number, seconds: number) => {
    const child = childrenFor(method, route, String(status));
    child.count();
    child.time(seconds);
  };
  const http: Middleware<AppState, AppContext> = async (ctx, next) => {
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const route = typeof ctx._matchedRoute === 'string' ? ctx._matchedRoute : 'unmatched';
      observe(ctx.method, route, ctx.status, Number(process.hrtime.bigint() - started) / 1e9);
    }
  };
  return { registry, http, observe };
}
