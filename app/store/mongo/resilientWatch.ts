/**
 * The part of a change stream that re-opening needs: the driver's ChangeStream emits `change`,
 * `resumeTokenChanged` with every answer of its cursor (the first one and each empty wait included:
 * the sign that it works), `error`, and `close`. It does not forward its cursor's `init`.
 *
 * How the driver ends and resumes (mongodb's change_stream.js, emitter mode): on a resumable error
 * (network errors, and server errors labelled ResumableChangeStreamError) it closes its cursor, which
 * emits `close` on the ChangeStream, selects a server and opens a new cursor from the last resume
 * token, without emitting `error`: nothing is missed. `close` is emitted each time an inner cursor
 * closes, so it alone never means the stream is over. The stream is over only when the driver gives
 * up (a non-resumable error, or no server to resume on): then it emits `error` and closes itself; or
 * after an invalidate event (the collection dropped or renamed), after which its cursor is exhausted.
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

export interface ResilientWatchOptions<C = unknown> {
  backoff: Backoff;
  /** Told of every error or unexpected close (the caller falls back to re-checking meanwhile). */
  onFailure: (err: unknown) => void;
  /** Told once a stream opened after failures proves itself (the caller can stop re-checking). */
  onRecovered?: () => void;
  timers?: Timers;
  /** Whether a change is the stream's last (an invalidate event): it is passed on, then a new stream opened. */
  isLast?: (change: C) => boolean;
}

/**
 * Keeps a change stream open: after the driver gives up on one (`error`, or an invalidate event) it
 * closes what is left and opens a new one (through `open`) after a wait that doubles from
 * `backoff.firstMs` to `backoff.maxMs`, and starts again from `firstMs` once a stream proves itself (an
 * answer of its cursor). The driver's own resume is left alone: a `close` without an error is its
 * cursor being replaced, and treating it as the end used to tear the resume down, re-open from "now"
 * (losing what the resume token would have kept) and report a failure for a mere blip. The driver
 * resumes once per error; an outage longer than server selection (a failover, a restart) ends the
 * stream with an `error`, and that is where re-opening takes over. Changes missed while no stream is
 * open are the caller's to cover (`onFailure`: held polls re-check on an interval). Returns a function
 * that stops for good.
 */
export function resilientWatch<C>(open: () => WatchStream<C>, onChange: (change: C) => void, options: ResilientWatchOptions<C>): () => Promise<void> {
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
      if (options.isLast?.(change)) end(new Error('change stream invalidated'));
    });
    stream.on('error', end);
    // Not `close`: the driver emits it whenever a cursor of the stream closes, resumes included.
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
