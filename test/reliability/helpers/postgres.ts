import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import pg from 'pg';

// The PostgreSQL side of the multi-instance suite: a database of its own per test on the cluster that
// DATABASE_URL names (scripts/test-postgres.sh starts a private one on 127.0.0.1), and a real restart of
// that cluster with pg_ctl.

/** DATABASE_URL with its database replaced by `name`. */
export function urlFor(name: string, base = process.env.DATABASE_URL ?? ''): string {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Runs one query on `url` with a connection of its own. */
export const query = <R extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []) =>
  withClient(url, async (client) => (await client.query<R>(sql, params)).rows);

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A new, empty database on DATABASE_URL's cluster; `drop` removes it (ending what is still connected). */
export async function freshDatabase(prefix = 'signalbox_mi'): Promise<TestDatabase> {
  const name = `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const admin = process.env.DATABASE_URL ?? '';
  await query(admin, `CREATE DATABASE ${name}`);
  return {
    name,
    url: urlFor(name, admin),
    drop: () => query(admin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).then(() => undefined),
  };
}

/** The newest installed PostgreSQL's binaries (Debian: /usr/lib/postgresql/<major>/bin), or PG_BIN. */
function pgBin(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const majors = readdirSync('/usr/lib/postgresql')
    .filter((d) => /^\d+$/.test(d))
    .sort((a, b) => Number(a) - Number(b));
  if (majors.length === 0) throw new Error('no PostgreSQL binaries under /usr/lib/postgresql (set PG_BIN)');
  return `/usr/lib/postgresql/${majors[majors.length - 1]}/bin`;
}

/**
 * Restarts the cluster DATABASE_URL names, as an operator would (`pg_ctl restart -m fast`: every
 * connection is cut, the server comes back with the options it was started with), and resolves once it
 * accepts connections again. Runs pg_ctl as the data directory's owner (the `postgres` user when we are root).
 */
export async function restartPostgres(): Promise<void> {
  const [{ data_directory: dataDir }] = (await query<{ data_directory: string }>(process.env.DATABASE_URL ?? '', 'SHOW data_directory')) as [{ data_directory: string }];
  const pgCtl = `${pgBin()}/pg_ctl`;
  const argv = ['-D', dataDir, '-m', 'fast', '-w', '-t', '60', 'restart'];
  const asRoot = process.getuid?.() === 0;
  // No pipes: the restarted server inherits pg_ctl's output, and a pipe it holds open would never end.
  execFileSync(asRoot ? 'runuser' : pgCtl, asRoot ? ['-u', 'postgres', '--', pgCtl, ...argv] : argv, { stdio: 'ignore', timeout: 70_000 });
}
