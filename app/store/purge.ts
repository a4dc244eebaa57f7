import type { Store } from './types.js';

/**
 * Calls `purgeExpired(now)` on every aggregate that has one, so a new aggregate with expiring rows
 * is purged without anyone remembering to list it here. Answers how many records each one removed.
 */
export async function purgeExpired(store: Store, now: Date): Promise<Record<string, number>> {
  const removed: Record<string, number> = {};
  for (const [name, aggregate] of Object.entries(store) as Array<[string, unknown]>) {
    const purge = (aggregate as { purgeExpired?: unknown } | null)?.purgeExpired;
    if (typeof purge === 'function') removed[name] = await (purge as (now: Date) => Promise<number>).call(aggregate, now);
  }
  return removed;
}
