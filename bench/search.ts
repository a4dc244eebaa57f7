/**
 * Username search latency with 100k users in SQLite, and what validating an uploaded OpenPGP key costs.
 *
 *   npm run bench:search                 # 100k users, 2000 searches over loopback HTTP
 *   USERS=200000 SEARCHES=5000 npm run bench:search
 *
 * Users are written through the store (no argon2: search never reads the hash) into a SQLite file in a
 * temp directory; the server runs in this process as `npm start` builds it.
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from '../app/store/sqlite/driver.js';
import { pino } from 'pino';
import { readPublicKey } from '../app/accounts/pgpKey.js';
import { parseConfig } from '../app/config/parse.js';
import { createApp } from '../app/server.js';
import { openSqliteStore } from '../app/store/sqlite/index.js';
import { SEARCH_SQL } from '../app/store/sqlite/users.js';

const USERS = Number(process.env.USERS ?? 100_000);
const SEARCHES = Number(process.env.SEARCHES ?? 2000);
const KEY_ROUNDS = Number(process.env.KEY_ROUNDS ?? 200);

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const fmt = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `p50 ${percentile(s, 50).toFixed(2)} ms, p95 ${percentile(s, 95).toFixed(2)} ms, p99 ${percentile(s, 99).toFixed(2)} ms`;
};

// Deterministic pseudo-random names so runs are comparable: syllables give realistic shared prefixes.
const SYLLABLES = [
  'al',
  'be',
  'ca',
  'do',
  'el',
  'fa',
  'gi',
  'ho',
  'in',
  'ja',
  'ki',
  'lo',
  'ma',
  'ne',
  'or',
  'pa',
  'qu',
  'ri',
  'sa',
  'to',
  'ul',
  'vi',
  'wa',
  'xe',
  'yo',
  'zu',
];
function* names(): Generator<string> {
  let x = 42;
  const rnd = () => ((x = (x * 1103515245 + 12345) % 2 ** 31), x / 2 ** 31);
  for (let i = 0; ; i++) {
    const parts = Array.from({ length: 2 + Math.floor(rnd() * 3) }, () => SYLLABLES[Math.floor(rnd() * SYLLABLES.length)]!);
    yield `${parts.join('')}${rnd() < 0.3 ? '_' : ''}${i}`;
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'signalbox-bench-'));
  const file = join(dir, 'signalbox.db');
  const config = parseConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent', RATE_SEARCH_USER: 'off' }, { jwtSecret: Buffer.alloc(32, 1), dataKey: Buffer.alloc(32, 2) });
  const store = openSqliteStore(file);
  const server = createServer(createApp({ config, store, logger: pino({ level: 'silent' }) }).handler);
  try {
    // Seeded through the store (so the rows are exactly what the app writes), without argon2: search
    // never reads the hash. Each insert is its own small WAL transaction.
    const seedStart = process.hrtime.bigint();
    const gen = names();
    for (let i = 0; i < USERS; i++) {
      await store.users.create({
        id: `seed-${i}`,
        username: gen.next().value as string,
        emailIndex: `idx-${i}`,
        emailEnc: 'unused',
        birthdayEnc: null,
        passwordHash: 'unused',
        createdAt: new Date(),
        pgp: null,
        disabledAt: null,
      });
    }
    const db = new Database(file, { readonly: true });
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${SEARCH_SQL}`).all({ low: 'al', high: 'am', excludeId: 'x', limit: 20 }) as Array<{ detail: string }>)
      .map((r) => r.detail)
      .join('; ');
    db.close();
    const seedSeconds = Number(process.hrtime.bigint() - seedStart) / 1e9;

    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const reg = await fetch(`${base}/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'bench', email: 'bench@example.org', password: 'correct horse battery' }),
    });
    if (reg.status !== 201) throw new Error(`register answered ${reg.status}`);
    const { accessToken } = (await reg.json()) as { accessToken: string };

    // Prefixes of 1, 2, 3 and 5 characters: short ones hit the limit, long ones few or no rows.
    const prefixes: string[] = [];
    const pick = names();
    for (let i = 0; prefixes.length < SEARCHES; i++) {
      const name = pick.next().value as string;
      prefixes.push(name.slice(0, [1, 2, 3, 5][i % 4]));
    }
    const timeOne = async (q: string) => {
      const start = process.hrtime.bigint();
      const res = await fetch(`${base}/users/search?q=${q}&limit=20`, { headers: { authorization: `Bearer ${accessToken}` } });
      const body = (await res.json()) as { results: unknown[] };
      if (res.status !== 200) throw new Error(`search answered ${res.status}`);
      return { ms: Number(process.hrtime.bigint() - start) / 1e6, hits: body.results.length };
    };
    for (const q of prefixes.slice(0, 50)) await timeOne(q); // warm-up: JIT, SQLite page cache
    const byLength = new Map<number, number[]>();
    const all: number[] = [];
    let hits = 0;
    for (const q of prefixes) {
      const { ms, hits: n } = await timeOne(q);
      all.push(ms);
      hits += n;
      byLength.set(q.length, [...(byLength.get(q.length) ?? []), ms]);
    }

    const keyCost = async (name: string) => {
      const armored = readFileSync(join(process.cwd(), 'test', 'fixtures', 'pgp', name), 'utf8');
      const now = new Date();
      for (let i = 0; i < 10; i++) await readPublicKey(armored, now); // warm-up
      const times: number[] = [];
      for (let i = 0; i < KEY_ROUNDS; i++) {
        const start = process.hrtime.bigint();
        await readPublicKey(armored, now);
        times.push(Number(process.hrtime.bigint() - start) / 1e6);
      }
      return times;
    };
    const ed = await keyCost('ed25519.pub.asc');
    const rsa = await keyCost('rsa4096.pub.asc');

    console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, node ${process.version}`);
    console.log(`seeded ${USERS} users in ${seedSeconds.toFixed(1)} s; query plan: ${plan}`);
    console.log(`GET /users/search, ${SEARCHES} sequential, limit 20 (${(hits / SEARCHES).toFixed(1)} hits on average): ${fmt(all)}`);
    for (const [len, xs] of [...byLength].sort((a, b) => a[0] - b[0])) console.log(`  prefix of ${len}: ${fmt(xs)}`);
    console.log(`readPublicKey (parse + checks + re-armor), ed25519, ${KEY_ROUNDS} rounds: ${fmt(ed)}`);
    console.log(`readPublicKey (parse + checks + re-armor), rsa4096, ${KEY_ROUNDS} rounds: ${fmt(rsa)}`);
  } finally {
    server.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
