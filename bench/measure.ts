import autocannon from 'autocannon';
import { cpus, loadavg, totalmem } from 'node:os';

// What every bench measures and prints with (bench/README.md): its sizes (full, or tiny under the smoke run),
// timing, percentiles, byte units, the machine and load line, and how a run ends. Setting up servers and
// users is bench/fixture.ts.

/**
 * `BENCH_SMOKE=1` (set by `npm run bench:smoke`, bench/smoke.ts): every bench runs at a tiny size, to show it
 * still runs end to end; its figures then say nothing about speed.
 */
export const SMOKE = process.env.BENCH_SMOKE === '1';

/** A numeric size from the environment (`name`), else the full default, or `smoke` under BENCH_SMOKE=1. */
export function knob(name: string, full: number, smoke: number): number {
  const raw = process.env[name];
  const value = raw === undefined ? (SMOKE ? smoke : full) : Number(raw);
  if (!Number.isFinite(value)) throw new Error(`${name}=${raw} is not a number`);
  return value;
}

/** A text setting (a list, a mode) from the environment, else the full default, or `smoke` under BENCH_SMOKE=1. */
export const knobText = (name: string, full: string, smoke: string): string => process.env[name] ?? (SMOKE ? smoke : full);

/** Milliseconds, monotonic, sub-microsecond resolution. */
export const hr = () => Number(process.hrtime.bigint()) / 1e6;

/** Milliseconds `fn` took. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = hr();
  await fn();
  return hr() - started;
}

export const median = (xs: number[]) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export const mean = (xs: number[]) => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length);

/** The nearest-rank percentile: the smallest sample with at least p % of them at or below it; NaN for none. */
export const percentile = (xs: number[], p: number) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};

export interface Latency {
  p50: number;
  p95: number;
  p99: number;
  n: number;
}
export const latency = (xs: number[]): Latency => ({ p50: percentile(xs, 50), p95: percentile(xs, 95), p99: percentile(xs, 99), n: xs.length });

/** "p50 … ms, p95 … ms, p99 … ms" of samples in milliseconds. */
export const latencyText = (xs: number[], digits = 2) => {
  const l = latency(xs);
  return `p50 ${l.p50.toFixed(digits)} ms, p95 ${l.p95.toFixed(digits)} ms, p99 ${l.p99.toFixed(digits)} ms`;
};

/** A Markdown row of call setup times in ms: count, p50, p95, min, max, mean (bench/callSetup.ts, bench/nodePeerCalls.ts). */
export function msRow(name: string, samples: number[]): string {
  const sorted = [...samples].sort((x, y) => x - y);
  const ms = (x: number) => `${Math.round(x)} ms`;
  return `| ${name} | ${sorted.length} | ${ms(percentile(sorted, 50))} | ${ms(percentile(sorted, 95))} | ${ms(sorted[0] ?? NaN)} | ${ms(sorted.at(-1) ?? NaN)} | ${ms(mean(sorted))} |`;
}

export const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;
export const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;

/** The 1, 5 and 15 minute load averages: the machine is shared, so every bench prints them with its figures. */
export const loadAverage = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** "2 x <CPU model>, 24 GiB RAM, Node v20…, linux" */
export function machine(): string {
  const cpu = cpus();
  return `${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}, ${process.platform}`;
}

/** The line each bench prints first: the machine, the load average, and SMOKE when the sizes are the smoke run's. */
export const machineLine = () => `machine: ${machine()}; load average ${loadAverage()}${SMOKE ? '; BENCH_SMOKE=1 (tiny sizes: checks the bench runs, not speed)' : ''}`;

/** A progress line on stderr, `[  12 s] msg`, seconds since `started` (an hr() reading). */
export const progress = (started: number) => (msg: string) => console.error(`[${((hr() - started) / 1000).toFixed(0).padStart(4)} s] ${msg}`);

/** Runs `fn` over `items` with at most `limit` at once; results in the items' order. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!, i);
    }),
  );
  return out;
}

/**
 * Runs a bench's main: a failure is printed and the process exits 1 (the smoke run counts on it). With
 * `exit`, the process also exits 0 when done, for benches that leave handles behind on purpose (held
 * polls' sockets, werift's TURN refresh timers) rather than wait them out.
 */
export function runBench(main: () => Promise<void>, opts: { exit?: boolean } = {}): void {
  main().then(
    () => {
      if (opts.exit) process.exit(0);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}

/** An autocannon run's figures, from the answers with the expected status. */
export interface Cannon {
  rps: number;
  /** Server CPU time (user + system) per answered request, µs; set where the run measures it. */
  cpuUs?: number;
  p50: number;
  p95: number;
  p99: number;
  ok: number;
  /** Answers with another status. */
  other: number;
  errors: number;
  seconds: number;
}

/**
 * autocannon with `opts`, counting the answers with `okStatus`. Latencies are the exact response times of
 * those answers (autocannon's own histogram has 1 ms resolution). For a bounded `amount` the time is taken
 * here, from the start to the last expected answer: autocannon counts its duration in whole ticks of its 1 s
 * timer, too coarse for that.
 */
export function cannon(opts: autocannon.Options, okStatus: number): Promise<Cannon> {
  return new Promise((resolve, reject) => {
    const latencies: number[] = [];
    const t0 = hr();
    let last = t0;
    const instance = autocannon(opts, (err, result) => {
      if (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      const seconds = opts.amount !== undefined ? (last - t0) / 1000 : result.duration;
      const ok = result.statusCodeStats?.[`${okStatus}`]?.count ?? 0;
      resolve({
        rps: ok / seconds,
        p50: percentile(latencies, 50),
        p95: percentile(latencies, 95),
        p99: percentile(latencies, 99),
        ok,
        other: result['1xx'] + result['2xx'] + result['3xx'] + result['4xx'] + result['5xx'] - ok,
        errors: result.errors,
        seconds,
      });
    });
    instance.on('response', (_client, status, _bytes, responseTime) => {
      if (status === okStatus) {
        latencies.push(responseTime);
        last = hr();
      }
    });
  });
}

/** Stops the bench when an autocannon run met other statuses or errors. */
export const assertClean = (c: Cannon, what: string) => {
  if (c.other > 0 || c.errors > 0) throw new Error(`${what}: ${c.other} unexpected statuses, ${c.errors} errors`);
};

/**
 * Waits `ms` for the machine to settle before a reading (answers in flight, RSS after a burst); at most
 * 50 ms under BENCH_SMOKE=1, whose readings say nothing anyway.
 */
export const settle = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, SMOKE ? Math.min(ms, 50) : ms));
