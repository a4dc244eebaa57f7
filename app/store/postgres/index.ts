import { createHash } from 'node:crypto';
import { Arrivals } from '../arrivals.js';
import { guardUnavailable } from '../guard.js';
import { StoreUnavailableError, type Store } from '../types.js';
import { pgConnections } from './connections.js';
import { createPool, type PoolOptions } from './db.js';
import { isPostgresUnavailable as isUnavailable, writeFailureOf } from './errors.js';
import { pgKeyBackups } from './keyBackups.js';
import { pgMailboxWrites } from './mailbox.js';
import { migrate } from './migrations.js';
import { pgPresence } from './presence.js';
import { pgPushSubscriptions } from './pushSubscriptions.js';
import { pgRateLimits } from './rateLimits.js';
import { pgResetCodes } from './resetCodes.js';
import { pgSecurityEvents } from './securityEvents.js';
import { pgSessions } from './sessions.js';
import { pgSignals } from './signals.js';
import { pgTwoFactor } from './twoFactor.js';
import { pgUsers } from './users.js';

/** How long /health waits for PostgreSQL, below the probe timeouts of load balancers and orchestrators. */
const PING_TIMEOUT_MS = 2000;

/** Rejects with StoreUnavailableError when `work` has not settled within `ms`; the work itself runs on. */
async function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  work.catch(() => {}); // answered by the race below; a late failure must not go unhandled
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreUnavailableError(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

export const DEFAULT_POOL_OPTIONS: PoolOptions = { max: 10, statementTimeoutMs: 5000 };

/**
 * Connects to PostgreSQL (DATABASE_URL), brings the schema up to date (once, under an advisory lock, however
 * many instances start at once) and returns the store. Every instance sharing the database sees every write:
 * nothing is kept in one instance's memory, and mailbox writes and ended sessions are announced to all of
 * them with NOTIFY (the channels are per schema, so installations sharing a database do not wake each other).
 */
export async function openPostgresStore(url: string, options: PoolOptions = DEFAULT_POOL_OPTIONS): Promise<Store> {
  const pool = createPool(url, options);
  let channels: { arrivals: string; sessions: string };
  try {
    await migrate(pool);
    const { rows } = await pool.query<{ schema: string }>('SELECT current_schema() AS schema');
    // Channel names are identifiers (at most 63 bytes): the schema goes in as a short hash (as in the
    // sessions_ended trigger of migrations.ts).
    const tag = createHash('sha256').update(rows[0]!.schema).digest('hex').slice(0, 16);
    channels = { arrivals: `signalbox_arrivals_${tag}`, sessions: `signalbox_sessions_${tag}` };
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }
  let closed = false;
  const arrivals = new Arrivals();
  const mailbox = pgMailboxWrites(pool, arrivals, channels.arrivals);
  // A closed pool (shutdown) or an unreachable, full or read-only database: 503 with Retry-After, not 500.
  const unavailable = (err: unknown) => closed || isUnavailable(err);

  return {
    kind: 'postgres',
    users: guardUnavailable(pgUsers(pool, mailbox), unavailable),
    sessions: guardUnavailable(pgSessions(pool, { url, channel: channels.sessions }), unavailable),
    rateLimits: guardUnavailable(pgRateLimits(pool), unavailable),
    resetCodes: guardUnavailable(pgResetCodes(pool), unavailable),
    twoFactor: guardUnavailable(pgTwoFactor(pool), unavailable),
    signals: guardUnavailable(pgSignals(pool, mailbox, arrivals, { url, channel: channels.arrivals }), unavailable),
    connections: guardUnavailable(pgConnections(pool, mailbox), unavailable),
    presence: guardUnavailable(pgPresence(pool), unavailable),
    pushSubscriptions: guardUnavailable(pgPushSubscriptions(pool), unavailable),
    securityEvents: guardUnavailable(pgSecurityEvents(pool), unavailable),
    keyBackups: guardUnavailable(pgKeyBackups(pool, mailbox), unavailable),
    async ping() {
      if (closed) throw new StoreUnavailableError('the store is closed');
      try {
        await within(pool.query('SELECT 1'), PING_TIMEOUT_MS);
      } catch (err) {
        throw err instanceof StoreUnavailableError ? err : new StoreUnavailableError(undefined, { cause: err });
      }
    },
    async probeWrite() {
      if (closed) throw new StoreUnavailableError('the store is closed');
      try {
        await within(pool.query('UPDATE health_probe SET probed_at = now() WHERE id = 1'), PING_TIMEOUT_MS);
        return null;
      } catch (err) {
        // Unreachable: /health answers 503 unavailable. Reachable but refusing the write: why (disk full, read-only).
        const code = String((err as { code?: unknown }).code);
        const refused = code === '53100' || code === '25006' || code.startsWith('58');
        if (err instanceof StoreUnavailableError || (isUnavailable(err) && !refused)) {
          throw err instanceof StoreUnavailableError ? err : new StoreUnavailableError(undefined, { cause: err });
        }
        return writeFailureOf(err);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
