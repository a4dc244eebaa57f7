/**
 * Username search latency with 100k users in SQLite, and what validating an uploaded OpenPGP key costs.
 *
 *   npm run bench:search                 # 100k users, 2000 searches over loopback HTTP
 *   USERS=200000 SEARCHES=5000 npm run bench:search
 *
 * Users are written through the store (no argon2: search never reads the hash) into a SQLite file in a
 * temp directory; the server runs in this process as `npm start` builds it (bench/fixture.ts startInProcess),
 * asked over plain node:http on a keep-alive agent. BENCH_SMOKE=1: 500 users, 40 searches, 5 key rounds.
 */
import { readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import Database from '../app/store/sqlite/driver.js';
import { readPublicKey } from '../app/accounts/pgpKey.js';
import { SEARCH_SQL } from '../app/store/sqlite/users.js';
import { call, expect, register, startInProcess } from './fixture.js';
import { hr, knob, latencyText, machineLine, runBench } from './measure.js';

const USERS = knob('USERS', 100_000, 500);
const SEARCHES = knob('SEARCHES', 2000, 40);
const KEY_ROUNDS = knob('KEY_ROUNDS', 200, 5);

const fmt = (xs: number[]) => latencyText(xs, 2);

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
  const server = await startInProcess({ env: { RATE_SEARCH_USER: 'off' } });
  const { store } = server;
  const agent = new Agent({ keepAlive: true });
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
    const db = new Database(server.dbFile, { readonly: true });
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${SEARCH_SQL}`).all({ low: 'al', high: 'am', excludeId: 'x', limit: 20 }) as Array<{ detail: string }>)
      .map((r) => r.detail)
      .join('; ');
    db.close();
    const seedSeconds = Number(process.hrtime.bigint() - seedStart) / 1e9;

    const { token } = await register(agent, server.port, 'bench');

    // Prefixes of 1, 2, 3 and 5 characters: short ones hit the limit, long ones few or no rows.
    const prefixes: string[] = [];
    const pick = names();
    for (let i = 0; prefixes.length < SEARCHES; i++) {
      const name = pick.next().value as string;
      prefixes.push(name.slice(0, [1, 2, 3, 5][i % 4]));
    }
    const timeOne = async (q: string) => {
      const start = hr();
      const body = expect(await call(agent, server.port, 'GET', `/users/search?q=${q}&limit=20`, { token }), 200, 'search');
      return { ms: hr() - start, hits: (body.results as unknown[]).length };
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
        const start = hr();
        await readPublicKey(armored, now);
        times.push(hr() - start);
      }
      return times;
    };
    const ed = await keyCost('ed25519.pub.asc');
    const rsa = await keyCost('rsa4096.pub.asc');

    console.log(machineLine());
    console.log(`seeded ${USERS} users in ${seedSeconds.toFixed(1)} s; query plan: ${plan}`);
    console.log(`GET /users/search, ${SEARCHES} sequential, limit 20 (${(hits / SEARCHES).toFixed(1)} hits on average): ${fmt(all)}`);
    for (const [len, xs] of [...byLength].sort((a, b) => a[0] - b[0])) console.log(`  prefix of ${len}: ${fmt(xs)}`);
    console.log(`readPublicKey (parse + checks + re-armor), ed25519, ${KEY_ROUNDS} rounds: ${fmt(ed)}`);
    console.log(`readPublicKey (parse + checks + re-armor), rsa4096, ${KEY_ROUNDS} rounds: ${fmt(rsa)}`);
  } finally {
    agent.destroy();
    await server.stop();
  }
}

runBench(main);
