import pg from 'pg';
import { CONNECT_TIMEOUT_MS } from './db.js';

export interface Backoff {
  /** Wait before the first reconnect after a connection that worked. */
  firstMs: number;
  /** The wait doubles with each failed reconnect up to this. */
  maxMs: number;
}

export interface WatchOptions {
  /** Told when the listening connection fails or cannot be opened (held polls then re-check on an interval). */
  onFailure: (err: unknown) => void;
  /** Told when LISTEN works again after a failure (held polls re-check once, then wait for notifications). */
  onRecovered?: () => void;
  backoff?: Backoff;
  /** The heartbeat and connect bounds; the defaults below (tests shorten them). */
  timing?: Partial<typeof DEFAULT_TIMING>;
}

const DEFAULT_BACKOFF: Backoff = { firstMs: 100, maxMs: 5000 };

/**
 * How often the listening connection proves it is still there. A connection cut without a word (a firewall
 * dropping its state, a host gone) would otherwise look idle for as long as TCP keepalive takes to notice,
 * minutes, while every notification is lost: a `SELECT 1` every `heartbeatMs` that gets no answer within
 * `heartbeatTimeoutMs` counts as a failure, and the connection is replaced.
 */
const DEFAULT_TIMING = { heartbeatMs: 15_000, heartbeatTimeoutMs: 5_000, connectTimeoutMs: CONNECT_TIMEOUT_MS };

/**
 * Keeps one connection of its own (outside the pool: LISTEN belongs to a session) listening on `channel`
 * and calls `onPayload` with each notification's payload. When the connection fails (PostgreSQL restarted,
 * a network cut, the connection killed) it reports `onFailure`, reconnects after a wait that doubles from
 * `backoff.firstMs` to `backoff.maxMs`, and reports `onRecovered` once LISTEN is in place again:
 * notifications sent meanwhile are lost, so the caller re-checks what it holds then. Returns a function
 * that stops for good.
 */
export function watchNotifications(url: string, channel: string, onPayload: (payload: string) => void, options: WatchOptions): () => Promise<void> {
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const timing = { ...DEFAULT_TIMING, ...options.timing };
  let stopped = false;
  let client: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;
  let nextWaitMs = backoff.firstMs;
  let failing = false;

  const fail = (failed: pg.Client, err: unknown) => {
    if (client !== failed) return; // already handled (error and end both fire)
    client = undefined;
    failed.removeAllListeners('notification');
    failed.end().catch(() => {});
    if (stopped) return;
    failing = true;
    options.onFailure(err);
    const wait = nextWaitMs;
    nextWaitMs = Math.min(nextWaitMs * 2, backoff.maxMs);
    retry = setTimeout(open, wait);
    retry.unref();
  };

  const open = () => {
    retry = undefined;
    if (stopped) return;
    const c = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: timing.connectTimeoutMs,
      query_timeout: timing.heartbeatTimeoutMs,
      application_name: 'signalbox-listen',
      keepAlive: true,
      keepAliveInitialDelayMillis: timing.heartbeatMs,
    });
    client = c;
    c.on('notification', (n) => {
      if (n.channel === channel && n.payload) onPayload(n.payload);
    });
    c.on('error', (err) => fail(c, err));
    c.on('end', () => fail(c, new Error('the LISTEN connection to PostgreSQL ended')));
    c.connect()
      .then(() => c.query(`LISTEN ${c.escapeIdentifier(channel)}`))
      .then(
        () => {
          if (client !== c) return;
          if (stopped) {
            c.end().catch(() => {});
            return;
          }
          nextWaitMs = backoff.firstMs;
          const heartbeat = setInterval(() => {
            if (client !== c) {
              clearInterval(heartbeat);
              return;
            }
            c.query('SELECT 1').catch((err: unknown) => fail(c, err));
          }, timing.heartbeatMs);
          heartbeat.unref();
          c.once('end', () => clearInterval(heartbeat));
          if (failing) {
            failing = false;
            options.onRecovered?.();
          }
        },
        (err: unknown) => fail(c, err),
      );
  };

  open();
  return async () => {
    stopped = true;
    clearTimeout(retry);
    const c = client;
    client = undefined;
    if (c) await c.end().catch(() => {});
  };
}
