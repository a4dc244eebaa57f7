import { describe, expect, it } from '@jest/globals';
import { Counter, Histogram, Registry } from 'prom-client';
import { RequestTallies } from '../../app/ops/requestTallies.js';

const COUNTER = { name: 'signalbox_http_requests_total', help: 'HTTP requests by method, route template and status.' };
const HISTOGRAM = {
  name: 'signalbox_http_request_duration_seconds',
  help: 'HTTP request latency by method, route template and status.',
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
};

/** What the tallies stand in for: prom-client's own counter and histogram, labelled per request. */
function promClientPair() {
  const registry = new Registry();
  const labelNames = ['method', 'route', 'status'] as const;
  const counter = new Counter({ ...COUNTER, labelNames, registers: [registry] });
  const histogram = new Histogram({ ...HISTOGRAM, labelNames, registers: [registry] });
  const observe = (method: string, route: string, status: number, seconds: number) => {
    counter.labels(method, route, String(status)).inc();
    histogram.labels(method, route, String(status)).observe(seconds);
  };
  return { registry, observe };
}

function talliedPair() {
  const registry = new Registry();
  const tallies = new RequestTallies(registry, COUNTER, HISTOGRAM);
  return { registry, observe: (m: string, r: string, s: number, sec: number) => tallies.observe(m, r, s, sec) };
}

// Interleaved series, durations on bucket bounds, between them, above the last one, and sums whose float
// additions would differ if made in another order.
const REQUESTS: Array<[string, string, number, number]> = [
  ['GET', '/signaling/poll', 200, 0.0001],
  ['POST', '/auth/login', 401, 0.1],
  ['GET', '/signaling/poll', 200, 0.0005],
  ['GET', '/signaling/poll', 401, 0.00051],
  ['GET', 'unmatched', 404, 31],
  ['POST', '/auth/login', 200, 0.30000000000000004],
  ['GET', '/signaling/poll', 200, 0.1 + 0.2],
  ['POST', '/auth/login', 401, 30],
  ['GET', '/signaling/poll', 200, 0.0007],
  ['GET', '/users/:username', 200, 0.0123],
  ['POST', '/signaling/send', 202, 0],
];

describe('RequestTallies', () => {
  it('scrapes as the same text as prom-client fed the same requests', async () => {
    const reference = promClientPair();
    const tallied = talliedPair();
    // Scraped twice, with requests between: a scrape changes nothing that the next one shows.
    for (const half of [REQUESTS.slice(0, 5), REQUESTS.slice(5)]) {
      for (const [m, r, s, sec] of half) {
        reference.observe(m, r, s, sec);
        tallied.observe(m, r, s, sec);
      }
      const text = await tallied.registry.metrics();
      expect(text).toBe(await reference.registry.metrics());
    }
    // Not vacuous: each series, each bucket and the sum are there.
    const text = await tallied.registry.metrics();
    expect(text).toContain('signalbox_http_requests_total{method="GET",route="/signaling/poll",status="200"} 4');
    expect(text).toContain('signalbox_http_request_duration_seconds_bucket{le="0.0005",method="GET",route="/signaling/poll",status="200"} 2');
    expect(text).toContain('signalbox_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="unmatched",status="404"} 1');
    expect(text).toContain('signalbox_http_request_duration_seconds_bucket{le="30",method="GET",route="unmatched",status="404"} 0');
  });

  it('answers the same JSON as prom-client', async () => {
    const reference = promClientPair();
    const tallied = talliedPair();
    for (const [m, r, s, sec] of REQUESTS) {
      reference.observe(m, r, s, sec);
      tallied.observe(m, r, s, sec);
    }
    expect(await tallied.registry.getMetricsAsJSON()).toEqual(await reference.registry.getMetricsAsJSON());
  });

  it('is emptied by resetMetrics as prom-client is', async () => {
    const reference = promClientPair();
    const tallied = talliedPair();
    for (const [m, r, s, sec] of REQUESTS) {
      reference.observe(m, r, s, sec);
      tallied.observe(m, r, s, sec);
    }
    reference.registry.resetMetrics();
    tallied.registry.resetMetrics();
    expect(await tallied.registry.metrics()).toBe(await reference.registry.metrics());
    reference.observe('GET', '/health', 200, 0.002);
    tallied.observe('GET', '/health', 200, 0.002);
    expect(await tallied.registry.metrics()).toBe(await reference.registry.metrics());
    expect(await tallied.registry.metrics()).toContain('signalbox_http_requests_total{method="GET",route="/health",status="200"} 1');
  });

  it('refuses a second metric of the same name on the registry, as prom-client does', () => {
    const registry = new Registry();
    new RequestTallies(registry, COUNTER, HISTOGRAM);
    expect(() => new Counter({ ...COUNTER, registers: [registry] })).toThrow(/already been registered/);
  });
});
