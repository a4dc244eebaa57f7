import type { TestApp } from '../helpers/app.js';
import { metricValue } from '../helpers/signaling.js';

/** The value of a labelled metric, e.g. `signalbox_polls_refused_total` with `reason="user_cap"`; 0 when absent. */
export async function labelledMetricValue(t: TestApp, name: string, labels: string): Promise<number> {
  const text = (await t.http.get('/metrics')).text;
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** Resolves once the app reports `n` held polls (each registered and waiting). */
export async function heldPolls(t: TestApp, n: number): Promise<void> {
  while ((await metricValue(t, 'signalbox_held_polls')) !== n) await new Promise((r) => setTimeout(r, 5));
}
