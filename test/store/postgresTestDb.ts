import { randomUUID } from 'node:crypto';
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
