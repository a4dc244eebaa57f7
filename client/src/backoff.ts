/** How the SDK waits between attempts after network errors and 5xx answers. */
export interface RetryPolicy {
  /** The first wait; each further failure doubles it. Default 1000 ms. */
  baseMs: number;
  /** The longest wait. Default 30 000 ms. */
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { baseMs: 1000, maxMs: 30_000 };

/**
 * The wait before attempt `failures + 1`: exponential, capped, with "equal jitter" (half fixed, half
 * random), so clients cut off together by one outage do not all come back in the same instant while
 * each still waits at least half the nominal time.
 */
export function backoffDelay(failures: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const nominal = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, failures - 1));
  return Math.round(nominal / 2 + random() * (nominal / 2));
}

/**
 * How the SDK waits between attempts (a backoff step, a Retry-After): `pause` below, unless the
 * Signalbox was given another (an internal option, so tests can see the wait asked for and end it).
 */
export type Pause = (ms: number, signal?: AbortSignal) => { done: Promise<void>; wake: () => void };

/**
 * Resolves after `ms`, or early when `signal` aborts or `wake` is called (the device came back online).
 * Never rejects: the caller looks at its own state to see why it woke.
 */
export function pause(ms: number, signal?: AbortSignal): { done: Promise<void>; wake: () => void } {
  let wake = () => {};
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(finish, ms);
    function finish() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', finish);
      resolve();
    }
    wake = finish;
    if (signal?.aborted) finish();
    else signal?.addEventListener('abort', finish, { once: true });
  });
  return { done, wake };
}
