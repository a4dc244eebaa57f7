import { createHash, randomUUID } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import pg from 'pg';

/**
 * Fresh schemas on the test cluster (DATABASE_URL, e.g. from scripts/test-postgres.sh): every store a test
 * opens gets a schema of its own, named in its URL's search_path, so tests and parallel test files never
 * meet, and the schema is dropped afterwards.
 */
export const adminUrl = process.env.DATABASE_URL ?? '';

export interface TestSchema {
  /** DATABASE_URL with this schema as the search_path. */
  url: string;
  name: string;
  drop(): Promise<void>;
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export function urlWithSchema(name: string): string {
  const url = new URL(adminUrl);
  url.searchParams.set('options', `-c search_path=${name}`);
  return url.toString();
}

export async function createTestSchema(): Promise<TestSchema> {
  const name = `signalbox_test_${randomUUID().replaceAll('-', '')}`;
  await admin((c) => c.query(`CREATE SCHEMA ${name}`));
  return {
    url: urlWithSchema(name),
    name,
    drop: () => admin((c) => c.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`)).then(() => undefined),
  };
}

/**
 * A TCP relay on loopback in front of the test cluster, standing in for the network between an instance
 * and PostgreSQL: `cut()` refuses new connections and drops the open ones (as a PostgreSQL restart or a
 * network cut does), `restore()` listens again on the same port.
 */
export interface Relay {
  /** `url` with the relay's port instead of PostgreSQL's. */
  via(url: string): string;
  cut(): Promise<void>;
  restore(): Promise<void>;
  /** Stops forwarding bytes without closing anything (a half-open connection, a black hole); `flow()` undoes it. */
  stall(): void;
  flow(): void;
  close(): Promise<void>;
}

export async function startRelay(): Promise<Relay> {
  const target = new URL(adminUrl);
  const sockets = new Set<Socket>();
  let stalled = false;
  let server: Server | undefined;
  let port = 0;
  const listen = async () => {
    const s = createServer((client) => {
      const upstream = connect(Number(target.port || 5432), target.hostname);
      for (const [from, to] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        sockets.add(from);
        from.on('error', () => to.destroy());
        from.on('close', () => {
          sockets.delete(from);
          to.destroy();
        });
        from.pipe(to);
        if (stalled) from.pause();
      }
    });
    await new Promise<void>((resolve) => s.listen(port, '127.0.0.1', resolve));
    port = (s.address() as AddressInfo).port;
    server = s;
  };
  const cut = async () => {
    const s = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen();
  return {
    via(url) {
      const u = new URL(url);
      u.port = String(port);
      return u.toString();
    },
    cut,
    restore: listen,
    stall() {
      stalled = true;
      for (const socket of sockets) socket.pause();
    },
    flow() {
      stalled = false;
      for (const socket of sockets) socket.resume();
    },
    close: cut,
  };
}

/**
 * Resolves once `count` connections LISTEN on the schema's channels (arrivals and ended sessions; each
 * started app opens one of each): their last statement, as pg_stat_activity shows it.
 */
export async function listeners(schema: TestSchema, count: number): Promise<void> {
  const tag = createHash('sha256').update(schema.name).digest('hex').slice(0, 16);
  await admin(async (client) => {
    for (;;) {
      const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE query IN ($1, $2)', [
        `LISTEN "signalbox_arrivals_${tag}"`,
        `LISTEN "signalbox_sessions_${tag}"`,
      ]);
      if (rows[0]!.n === count) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  });
}
