import type { Counter } from 'prom-client';

/**
 * A prom-client counter whose label values are typed by the union the code counts under (a push outcome, a
 * refusal reason): a new value cannot be counted under a typo, and no label can be left out. The series'
 * names and labels are what dashboards and alerts read (docs/operations.md, docs/push.md), so they do not
 * change; only what the compiler accepts for them does.
 */
export interface LabelledCounter<Labels extends Record<string, string>> {
  inc(labels: Labels, value?: number): void;
}

/** `counter` typed as a LabelledCounter: its label names must be the keys of `Labels`. */
export function labelled<Labels extends Record<string, string>>(counter: Counter<Extract<keyof Labels, string>>): LabelledCounter<Labels> {
  return counter;
}
