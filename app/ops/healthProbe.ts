import type { Store, WriteFailure } from '../store/types.js';

/**
 * At most one write probe per this long: load balancers, Docker and systemd ask /health every few
 * seconds from several places, and each probe is a real commit. An answer up to this old is fresh
 * enough for a check that runs at that pace.
 */
export const WRITE_PROBE_INTERVAL_MS = 5_000;

/**
 * The store's write probe, rate-limited and shared: calls within WRITE_PROBE_INTERVAL_MS of the last
 * probe get its answer, and calls while one runs wait for that one instead of starting another. A probe
 * that rejects (the store is unreachable) is not remembered, so the next call probes again.
 */
export function sharedWriteProbe(store: Pick<Store, 'probeWrite'>, now: () => number): () => Promise<WriteFailure | null> {
  let last: { at: number; failure: WriteFailure | null } | undefined;
  let running: Promise<WriteFailure | null> | undefined;
  return () => {
    const t = now();
    // A clock that went back (a test's, or NTP) makes the remembered answer stale, not fresh.
    if (last && t >= last.at && t - last.at < WRITE_PROBE_INTERVAL_MS) return Promise.resolve(last.failure);
    running ??= store
      .probeWrite()
      .then((failure) => {
        last = { at: t, failure };
        return failure;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
}
