import type { Registry } from 'prom-client';

/** One series: a method, route template and status, as the counter and the histogram label it. */
interface Series {
  readonly labels: { method: string; route: string; status: string };
  count: number;
  sum: number;
  /** Observations per bucket (not cumulative), in the order of `bounds`; above the last one only `count` grows. */
  readonly perBucket: number[];
}

export interface TalliedMetric {
  name: string;
  help: string;
}

/**
 * The HTTP request counter and latency histogram, tallied in plain numbers and turned into prom-client's
 * values only when `/metrics` is scraped. prom-client's labelled `inc` and `observe` hash and validate the
 * labels on every call, which was ~5 % of the empty short poll's server CPU (bench/README.md); here a
 * request costs three Map lookups and a few additions.
 *
 * Both metrics are registered on the registry as objects with prom-client's `get`/`getForPromString`
 * contract, answering exactly what a prom-client `Counter` and `Histogram` fed the same observations
 * answer: the same series in the same order (first observed first), the same labels, bucket counts and
 * sum (the same additions in the same order). `test/ops/requestTallies.test.ts` compares the two.
 */
export class RequestTallies {
  /** route → method → status → series: constant strings and small integers, so no key is built per request. */
  private readonly byRoute = new Map<string, Map<string, Map<number, Series>>>();
  /** Every series in the order first observed: prom-client's order in its text and JSON. */
  private readonly series: Series[] = [];
  /** The histogram's upper bounds, ascending. */
  private readonly bounds: number[];

  constructor(registry: Registry, counter: TalliedMetric, histogram: TalliedMetric & { buckets: readonly number[] }) {
    const bounds = [...histogram.buckets];
    this.bounds = bounds;
    const counterMetric = {
      name: counter.name,
      help: counter.help,
      type: 'counter' as const,
      aggregator: 'sum' as const,
      get: async () => ({
        help: counter.help,
        name: counter.name,
        type: 'counter' as const,
        values: this.series.map((s) => ({ value: s.count, labels: s.labels })),
        aggregator: 'sum' as const,
      }),
      reset: () => this.reset(),
    };
    const bucketName = `${histogram.name}_bucket`;
    // prom-client's Histogram.getForPromString: per series its cumulative buckets, +Inf, sum, count, with
    // the series' labels as shared labels (the text format writes `le` first, then them).
    const forPromString = async () => ({
      name: histogram.name,
      help: histogram.help,
      type: 'histogram' as const,
      values: this.series.flatMap((s) => {
        let cumulative = 0;
        const buckets = bounds.map((bound, i) => {
          cumulative += s.perBucket[i]!;
          return { labels: { le: bound }, sharedLabels: s.labels, value: cumulative, metricName: bucketName, exemplar: null };
        });
        return [
          ...buckets,
          { labels: { le: '+Inf' }, sharedLabels: s.labels, value: s.count, metricName: bucketName, exemplar: null },
          { labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${histogram.name}_sum`, exemplar: undefined },
          { labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${histogram.name}_count`, exemplar: undefined },
        ];
      }),
      aggregator: 'sum' as const,
    });
    const histogramMetric = {
      name: histogram.name,
      help: histogram.help,
      type: 'histogram' as const,
      aggregator: 'sum' as const,
      getForPromString: forPromString,
      // prom-client's Histogram.get: the same values with the shared labels merged into each one's own.
      get: async () => {
        const data = await forPromString();
        return {
          ...data,
          values: data.values.map(({ sharedLabels, labels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } })),
        };
      },
      reset: () => this.reset(),
    };
    // The registry only calls these members (metrics(), getMetricsAsJSON(), resetMetrics()); its type
    // names prom-client's own classes.
    registry.registerMetric(counterMetric as unknown as Parameters<Registry['registerMetric']>[0]);
    registry.registerMetric(histogramMetric as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** One request: counted, and its duration put in its bucket (prom-client's rule: the first bound ≥ it). */
  observe(method: string, route: string, status: number, seconds: number): void {
    let byMethod = this.byRoute.get(route);
    if (!byMethod) this.byRoute.set(route, (byMethod = new Map<string, Map<number, Series>>()));
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, (byStatus = new Map<number, Series>()));
    let s = byStatus.get(status);
    if (!s) {
      s = { labels: { method, route, status: String(status) }, count: 0, sum: 0, perBucket: this.bounds.map(() => 0) };
      byStatus.set(status, s);
      this.series.push(s);
    }
    s.count += 1;
    s.sum += seconds;
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (seconds <= bounds[i]!) {
        s.perBucket[i] = s.perBucket[i]! + 1;
        break;
      }
    }
  }

  /** `registry.resetMetrics()`: every series forgotten, as prom-client's reset empties its map. */
  private reset(): void {
    this.byRoute.clear();
    this.series.length = 0;
  }
}
