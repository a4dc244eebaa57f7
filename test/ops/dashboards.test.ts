import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { freePort } from '../helpers/net.js';

// docs/grafana-dashboard.json and docs/prometheus-alerts.yml against what the real server exports: the
// built server (dist/app/main.js, with Node's process metrics as in production) is started, a few
// requests make the labelled series appear, and /metrics is scraped. Every metric name either file uses
// must be exported (a histogram's _bucket/_sum/_count resolve to it), and so must every label they select on.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const yaml = createRequire(import.meta.url)('js-yaml') as { load(text: string): unknown };

const dashboard = JSON.parse(readFileSync(join(ROOT, 'docs/grafana-dashboard.json'), 'utf8')) as {
  panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
};
const alerts = yaml.load(readFileSync(join(ROOT, 'docs/prometheus-alerts.yml'), 'utf8')) as {
  groups: Array<{ rules: Array<{ alert: string; expr: string }> }>;
};
const dashboardExprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
const alertExprs = alerts.groups.flatMap((g) => g.rules.map((r) => r.expr));

/** Series Prometheus itself adds to every target, not the server. */
const SCRAPE_SERIES = new Set(['up']);
/** Labels Prometheus attaches to every scraped series, and histogram buckets' `le`. */
const TARGET_LABELS = new Set(['job', 'instance', 'le']);
/** PromQL words that look like metric names. */
const PROMQL = new Set(['sum', 'by', 'rate', 'increase', 'histogram_quantile', 'without', 'on', 'ignoring', 'and', 'or', 'unless', 'humanize']);

/** The metric names an expression reads: identifiers followed by a selector, or standing alone, not functions, labels or keywords. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"[^"]*"/g, '""')
    .replace(/\bby\s*\([^)]*\)/g, '')
    .replace(/\[[^\]]*\]/g, '');
  return [...stripped.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{|\)|$|\s|==|>|<)/g)]
    .map((m) => m[1]!)
    .filter((name) => !PROMQL.has(name) && !/^\d/.test(name))
    .filter((name, i, all) => all.indexOf(name) === i)
    .filter((name) => !/=\s*""/.test(stripped.slice(stripped.indexOf(name) + name.length, stripped.indexOf(name) + name.length + 4)));
}

/** Labels an expression selects on or groups by: `name{label=...}` and `by (label, ...)`. */
function labelNames(expr: string): string[] {
  const inSelectors = [...expr.matchAll(/\{([^}]*)\}/g)].flatMap((m) => [...m[1]!.matchAll(/([a-zA-Z_]\w*)\s*(=~|!=|!~|=)/g)].map((l) => l[1]!));
  const grouped = [...expr.matchAll(/\bby\s*\(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((l) => l.trim()));
  return [...new Set([...inSelectors, ...grouped])];
}

let child: ChildProcess;
let dataDir: string;
let base: string;
let exported: { names: Set<string>; histograms: Set<string>; labels: Map<string, Set<string>>; text: string };

async function http(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body ? { 'Content-Type': 'application/json' } : {}), ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: await res.json().catch(() => null) };
}

/**
 * The label names each metric of ours declares in its source (`name: '...'` ... `labelNames: [...]`), for
 * the labelled families that have no sample yet in one short run (push wake-ups need a push service).
 */
function declaredLabels(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const files = readdirSync(join(ROOT, 'app'), { recursive: true, encoding: 'utf8' }).filter((f) => /[Mm]etrics\.ts$/.test(f));
  for (const file of files) {
    const text = readFileSync(join(ROOT, 'app', file), 'utf8');
    const parts = text.split(/(?=name: ')/);
    for (const part of parts) {
      const name = /^name: '(\w+)'/.exec(part)?.[1];
      const declared = /labelNames: \[([^\]]*)\]/.exec(part)?.[1];
      if (name && declared) out.set(name, new Set([...declared.matchAll(/'(\w+)'/g)].map((m) => m[1]!)));
    }
  }
  return out;
}

/** Every metric family's name and type (HELP/TYPE lines are there even before a sample) and the labels its samples carry. */
function parseExposition(text: string) {
  const names = new Set<string>();
  const histograms = new Set<string>();
  const labels = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) {
      names.add(type[1]!);
      if (type[2] === 'histogram') histograms.add(type[1]!);
      continue;
    }
    const sample = /^([a-zA-Z_:][\w:]*)\{([^}]*)\}/.exec(line);
    if (sample) {
      const family = sample[1]!.replace(/_(bucket|sum|count)$/, (suffix) => (histograms.has(sample[1]!.slice(0, -suffix.length)) ? '' : suffix));
      const set = labels.get(family) ?? new Set<string>();
      for (const l of sample[2]!.matchAll(/(\w+)="/g)) set.add(l[1]!);
      labels.set(family, set);
    }
  }
  return { names, histograms, labels, text };
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'signalbox-dashboards-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  child = spawn(process.execPath, [join(ROOT, 'dist/app/main.js')], {
    env: { PATH: process.env.PATH ?? '', DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 150) throw new Error('the server did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  // Enough traffic that the labelled series exist: a failed login, a poll, a refused send, a send.
  const password = 'correct horse battery';
  const alice = (await http('POST', '/auth/register', { username: 'alice_dash', email: 'alice@example.org', password })).json as { accessToken: string };
  await http('POST', '/auth/login', { username: 'alice_dash', password: 'wrong password!' });
  const phone = (await http('POST', '/auth/login', { username: 'alice_dash', password })).json as { accessToken: string };
  await http('POST', '/signaling/send', { to: 'nobody_here', type: 'custom', payload: 'x' }, alice.accessToken);
  await http('POST', '/signaling/send', { to: 'alice_dash', type: 'custom', payload: 'x' }, alice.accessToken);
  await http('GET', '/signaling/poll?wait=0', undefined, phone.accessToken);
  await http('POST', '/auth/forgot-password', { email: 'alice@example.org' });
  const res = await fetch(`${base}/metrics`);
  expect(res.status).toBe(200);
  exported = parseExposition(await res.text());
}, 30_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the setup failed before creating it
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
});

const resolveName = (name: string) => {
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return base !== name && exported.histograms.has(base) ? base : name;
};

describe.each([
  ['docs/grafana-dashboard.json', () => dashboardExprs],
  ['docs/prometheus-alerts.yml', () => alertExprs],
])('%s', (_file, exprs) => {
  it('has expressions to check', () => {
    expect(exprs().length).toBeGreaterThan(5);
  });

  it('uses only metrics the server exports', () => {
    const used = [...new Set(exprs().flatMap(metricNames))];
    expect(used.length).toBeGreaterThan(3);
    const missing = used.filter((name) => !SCRAPE_SERIES.has(name) && !exported.names.has(resolveName(name)));
    expect(missing).toEqual([]);
  });

  it('selects and groups only by labels those metrics carry', () => {
    const declared = declaredLabels();
    const wrong: string[] = [];
    for (const expr of exprs()) {
      const families = metricNames(expr)
        .map(resolveName)
        .filter((n) => !SCRAPE_SERIES.has(n));
      for (const label of labelNames(expr)) {
        if (TARGET_LABELS.has(label)) continue;
        const carries = (f: string) => exported.labels.get(f)?.has(label) ?? declared.get(f)?.has(label);
        if (!families.some(carries)) wrong.push(`${label} in ${expr}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});

describe('the series the files select on by value', () => {
  it('include failed logins under route="/auth/login", status="401", and polls under route="/signaling/poll"', () => {
    expect(exported.text).toMatch(/signalbox_http_requests_total\{[^}]*route="\/auth\/login",status="401"/);
    expect(exported.text).toMatch(/signalbox_http_requests_total\{[^}]*route="\/signaling\/poll"/);
  });

  it('covers what the issue asks to watch', () => {
    const all = [...dashboardExprs, ...alertExprs].join('\n');
    for (const name of [
      'signalbox_held_polls',
      'signalbox_signal_delivery_seconds_bucket',
      'signalbox_signals_sent_total',
      'signalbox_signals_rejected_total',
      'signalbox_polls_refused_total',
      'signalbox_mail_failures_total',
    ]) {
      expect(all).toContain(name);
    }
    const alertNames = alerts.groups.flatMap((g) => g.rules.map((r) => r.alert));
    expect(alertNames).toEqual(
      expect.arrayContaining([
        'SignalboxDown',
        'SignalboxStoreUnavailable',
        'SignalboxMailFailing',
        'SignalboxLoginFailureSpike',
        'SignalboxPollCapReached',
        'SignalboxSlowDelivery',
      ]),
    );
  });
});
