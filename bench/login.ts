/**
 * Login latency with the production argon2id parameters, over real HTTP on loopback.
 *
 *   npm run bench:login                 # 200 sequential logins, then 200 at concurrency 8
 *   LOGINS=500 CONCURRENCY=16 npm run bench:login
 *
 * The server runs in this process on a SQLite file in a temp directory, exactly as `npm start`
 * builds it (createApp with the default PasswordHasher). Results go to stdout as a Markdown row.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { DEFAULT_ARGON2 } from '../app/accounts/passwordHasher.js';
import { parseConfig } from '../app/config/parse.js';
import { createApp } from '../app/server.js';
import { openSqliteStore } from '../app/store/sqlite/index.js';

const LOGINS = Number(process.env.LOGINS ?? 200);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8);

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'signalbox-bench-'));
  const config = parseConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent' }, { jwtSecret: Buffer.alloc(32, 1), dataKey: Buffer.alloc(32, 2) });
  const store = openSqliteStore(join(dir, 'signalbox.db'));
  const server = createServer(createApp({ config, store, logger: pino({ level: 'silent' }) }).handler);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const post = (path: string, body: unknown) => fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  try {
    const reg = await post('/auth/register', { username: 'bench', email: 'bench@example.org', password: 'correct horse battery' });
    if (reg.status !== 201) throw new Error(`register answered ${reg.status}`);

    const timeOne = async (password: string, expected: number, username = 'bench') => {
      const start = process.hrtime.bigint();
      const res = await post('/auth/login', { username, password });
      await res.arrayBuffer();
      if (res.status !== expected) throw new Error(`login answered ${res.status}`);
      return Number(process.hrtime.bigint() - start) / 1e6;
    };

    await timeOne('correct horse battery', 200); // warm-up: JIT, first SQLite page reads
    const sequential: number[] = [];
    for (let i = 0; i < LOGINS; i++) sequential.push(await timeOne('correct horse battery', 200));

    const wrong: number[] = [];
    for (let i = 0; i < Math.min(LOGINS, 50); i++) wrong.push(await timeOne('wrong password', 401));

    const unknown: number[] = [];
    for (let i = 0; i < Math.min(LOGINS, 50); i++) unknown.push(await timeOne('wrong password', 401, `nobody_${i}`));

    const concurrent: number[] = [];
    const wallStart = process.hrtime.bigint();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next++ < LOGINS) concurrent.push(await timeOne('correct horse battery', 200));
      }),
    );
    const wallSeconds = Number(process.hrtime.bigint() - wallStart) / 1e9;

    const fmt = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return `p50 ${percentile(s, 50).toFixed(1)} ms, p95 ${percentile(s, 95).toFixed(1)} ms, p99 ${percentile(s, 99).toFixed(1)} ms`;
    };
    const p = DEFAULT_ARGON2;
    console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, node ${process.version}`);
    console.log(`argon2id m=${p.memoryCost} KiB, t=${p.timeCost}, p=${p.parallelism}; ${LOGINS} logins each`);
    console.log(`sequential, right password:  ${fmt(sequential)}`);
    console.log(`sequential, wrong password:  ${fmt(wrong)} (${wrong.length} logins)`);
    console.log(`sequential, unknown user:    ${fmt(unknown)} (${unknown.length} logins)`);
    console.log(`concurrency ${CONCURRENCY}:             ${fmt(concurrent)}, ${(LOGINS / wallSeconds).toFixed(1)} logins/s`);
  } finally {
    server.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
