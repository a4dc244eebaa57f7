import type { Middleware } from 'koa';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { AppContext, AppState } from '../http/context.js';
import { RequestTallies } from './requestTallies.js';

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
  // Plain tallies, turned into the two metrics' values at scrape time (requestTallies.ts says why).
  const tallies = new RequestTallies(
    registry,
    { name: 'signalbox_http_requests_total', help: 'HTTP requests by method, route template and status.' },
    {
      name: 'signalbox_http_request_duration_seconds',
      help: 'HTTP request latency by method, route template and status.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    },
  );
  const observe = (method: string, route: string, status: number, seconds: number) => tallies.observe(method, route, status, seconds);
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
