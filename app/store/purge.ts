import type { Store } from './types.js';

/**
 * Calls `purgeExpired(now)` on every aggregate that has one, so a new aggregate with expiring rows
 * is purged without anyone remembering to list it here.
 */
export async function purgeExpired(store: Store, now: Date): Promise<void> {
  for (const aggregate of Object.values(store) as unknown[]) {
    const purge = (aggregate as { purgeExpired?: unknown } | null)?.purgeExpired;
    if (typeof purge === 'function') await (purge as (now: Date) => Promise<number>).call(aggregate, now);
  }
}
