/**
 * The part of a change stream that re-opening needs: the driver's ChangeStream emits `change`,
 * `resumeTokenChanged` with every answer of its cursor (the first one and each empty wait included:
 * the sign that it works), `error`, and `close` (also after an error it gave up on). It does not
 * forward its cursor's `init`.
 */
export interface WatchStream<C> {
  on(event: 'change', listener: (change: C) => void): unknown;
  on(event: 'resumeTokenChanged' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: unknown) => void): unknown;
  close(): Promise<void> | void;
}

export interface Backoff {
  /** Wait before the first re-open after a stream that worked. */
  firstMs: number;
  /** The wait doubles with each failed re-open up to this. */
  maxMs: number;
}

/** setTimeout and clearTimeout, injectable so a test can see the waits without sleeping through them. */
export interface Timers {
  set(run: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: Timers = {
  set: (run, ms) => setTimeout(run, ms).unref(),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface ResilientWatchOptions {
  backoff: Backoff;
  /** Told of every error or unexpected close (the caller falls back to re-checking meanwhile). */
  onFailure: (err: unknown) => void;
  /** Told once a stream opened after failures proves itself (the caller can stop re-checking). */
  onRecovered?: () => void;
  timers?: Timers;
}

/**
 * Keeps a change stream open: after `error` or an unexpected `close` it closes what is left and opens
 * a new one (through `open`) after a wait that doubles from `backoff.firstMs` to `backoff.maxMs`, and
 * starts again from `firstMs` once a stream proves itself (an answer of its cursor). The driver resumes by
 * itself only once, on errors it deems resumable; one outage longer than server selection (a failover,
 * a restart) used to end the stream for good. Changes missed while no stream is open are the caller's
 * to cover (`onFailure`: held polls re-check on an interval). Returns a function that stops for good.
 */
export function resilientWatch<C>(open: () => WatchStream<C>, onChange: (change: C) => void, options: ResilientWatchOptions): () => Promise<void> {
  const timers = options.timers ?? realTimers;
  let stopped = false;
  let current: WatchStream<C> | undefined;
  let retry: unknown;
  let nextWaitMs = options.backoff.firstMs;
  let failing = false;

  const scheduleReopen = (err: unknown) => {
    failing = true;
    options.onFailure(err);
    const wait = nextWaitMs;
    nextWaitMs = Math.min(nextWaitMs * 2, options.backoff.maxMs);
    retry = timers.set(() => {
      retry = undefined;
      start();
    }, wait);
  };

  const start = () => {
    if (stopped) return;
    let stream: WatchStream<C>;
    try {
      stream = open();
    } catch (err) {
      scheduleReopen(err);
      return;
    }
    current = stream;
    // Each stream ends once: an error is usually followed by its close, and both must not re-open twice.
    let ended = false;
    const end = (err: unknown) => {
      if (ended || stopped) return;
      ended = true;
      current = undefined;
      void Promise.resolve()
        .then(() => stream.close())
        .catch(() => {}); // it is broken already; closing is only to free its cursor
      scheduleReopen(err);
    };
    const healthy = () => {
      if (ended) return;
      nextWaitMs = options.backoff.firstMs;
      if (failing) {
        failing = false;
        options.onRecovered?.();
      }
    };
    stream.on('resumeTokenChanged', healthy);
    stream.on('change', (change) => {
      healthy();
      onChange(change);
    });
    stream.on('error', end);
    stream.on('close', () => end(new Error('change stream closed')));
  };

  start();
  return async () => {
    stopped = true;
    if (retry !== undefined) timers.clear(retry);
    const stream = current;
    current = undefined;
    await stream?.close();
  };
}
