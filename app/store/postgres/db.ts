import pg from 'pg';
import { isRetryable } from './errors.js';

/** Anything that runs a query: the pool, or one client inside a transaction. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

/**
 * int8 (count(*), sequence numbers, bigint columns) as a JS number rather than pg's default string:
 * every value the store keeps in one is far below 2^53.
 */
const INT8_OID: number = pg.types.builtins.INT8;
const defaultParser = pg.types.getTypeParser as (oid: number, format?: 'text' | 'binary') => unknown;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (v: string) => Number(v) : defaultParser(oid, format)) as typeof pg.types.getTypeParser,
};

export interface PoolOptions {
  /** The most connections this instance opens (PG_POOL_MAX). */
  max: number;
  /** The longest one statement may run before the server cancels it (PG_STATEMENT_TIMEOUT), ms. */
  statementTimeoutMs: number;
}

/** How long to wait for a connection (a new one, or a free one of the pool) before answering 503. */
export const CONNECT_TIMEOUT_MS = 5000;

export function createPool(url: string, options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    statement_timeout: options.statementTimeoutMs,
    // Never hold a row lock or an advisory lock for ever on a connection whose request went away.
    idle_in_transaction_session_timeout: Math.max(options.statementTimeoutMs * 2, 10_000),
    application_name: 'signalbox',
    types,
  });
  // An idle client whose connection died (a PostgreSQL restart) emits here; the pool drops it and the next
  // query opens a new one. Without a listener the process would crash on it.
  pool.on('error', () => {});
  return pool;
}

/** How often a transaction PostgreSQL chose as the loser of a deadlock or serialization conflict is run again. */
const RETRIES = 8;

/**
 * Runs `work` in one READ COMMITTED transaction on one client of the pool, and again (up to RETRIES times,
 * after a short random wait) when PostgreSQL rolls it back as a deadlock or serialization victim; `work`
 * must therefore be free of side effects outside the database. Row locks (`FOR UPDATE`, upserts) and
 * transaction-scoped advisory locks are what make each read-decide-write atomic. After the retries the
 * error goes up and is answered 503 (errors.ts). `alsoRetry` names other errors worth one more run.
 */
export async function transaction<R>(pool: pg.Pool, work: (q: Queryable) => Promise<R>, alsoRetry?: (err: unknown) => boolean): Promise<R> {
  for (let attempt = 0; ; attempt++) {
    const client = await pool.connect();
    let failure: unknown;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (err) {
      failure = err;
    }
    // A connection that cannot even roll back is broken: destroyed, not given back to the pool.
    const rolledBack = await client.query('ROLLBACK').then(
      () => true,
      () => false,
    );
    client.release(!rolledBack);
    if (attempt >= RETRIES || !(isRetryable(failure) || alsoRetry?.(failure))) throw failure;
    await new Promise((resolve) => setTimeout(resolve, 2 + Math.random() * 10 * (attempt + 1)));
  }
}

/**
 * A transaction-scoped advisory lock on a named thing (a pair of users, one user's sessions, an idempotency
 * key): the transactions that take the same one run one after the other, and it ends with COMMIT or ROLLBACK.
 * Two int4 keys: a namespace and the hash of the name (a collision only serialises two unrelated writes).
 */
export async function lockName(q: Queryable, namespace: number, name: string): Promise<void> {
  await q.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [namespace, name]);
}

/** Advisory lock namespaces (the first key), so that names of different kinds never share a lock. */
export const LockNamespace = {
  Migrations: 0x5b0c_0001,
  Pair: 0x5b0c_0002,
  Requester: 0x5b0c_0003,
  UserSessions: 0x5b0c_0004,
  Idempotency: 0x5b0c_0005,
} as const;
