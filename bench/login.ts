/**
 * Login latency with the production argon2id parameters, over real HTTP on loopback.
 *
 *   npm run bench:login                 # 200 sequential logins, then 200 at concurrency 8
 *   LOGINS=500 CONCURRENCY=16 npm run bench:login
 *
 * The server runs in this process on a SQLite file in a temp directory, as `npm start` builds it
 * (bench/fixture.ts startInProcess, with the default PasswordHasher); requests are plain node:http over a
 * keep-alive agent. BENCH_SMOKE=1: 4 logins at concurrency 2.
 */
import { Agent } from 'node:http';
import { DEFAULT_ARGON2 } from '../app/accounts/passwordHasher.js';
import { call, PASSWORD, register, startInProcess } from './fixture.js';
import { knob, latencyText, machineLine, runBench, timed } from './measure.js';

const LOGINS = knob('LOGINS', 200, 4);
const CONCURRENCY = knob('CONCURRENCY', 8, 2);

async function main(): Promise<void> {
  const server = await startInProcess({ hasher: 'production' });
  const agent = new Agent({ keepAlive: true });
  try {
    await register(agent, server.port, 'bench');

    const timeOne = (password: string, expected: number, username = 'bench') =>
      timed(async () => {
        const res = await call(agent, server.port, 'POST', '/auth/login', { body: { username, password } });
        if (res.status !== expected) throw new Error(`login answered ${res.status}`);
      });

    await timeOne(PASSWORD, 200); // warm-up: JIT, first SQLite page reads
    const sequential: number[] = [];
    for (let i = 0; i < LOGINS; i++) sequential.push(await timeOne(PASSWORD, 200));

    const wrong: number[] = [];
    for (let i = 0; i < Math.min(LOGINS, 50); i++) wrong.push(await timeOne('wrong password', 401));

    const unknown: number[] = [];
    for (let i = 0; i < Math.min(LOGINS, 50); i++) unknown.push(await timeOne('wrong password', 401, `nobody_${i}`));

    const concurrent: number[] = [];
    const wallStart = process.hrtime.bigint();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next++ < LOGINS) concurrent.push(await timeOne(PASSWORD, 200));
      }),
    );
    const wallSeconds = Number(process.hrtime.bigint() - wallStart) / 1e9;

    const fmt = (xs: number[]) => latencyText(xs, 1);
    const p = DEFAULT_ARGON2;
    console.log(machineLine());
    console.log(`argon2id m=${p.memoryCost} KiB, t=${p.timeCost}, p=${p.parallelism}; ${LOGINS} logins each`);
    console.log(`sequential, right password:  ${fmt(sequential)}`);
    console.log(`sequential, wrong password:  ${fmt(wrong)} (${wrong.length} logins)`);
    console.log(`sequential, unknown user:    ${fmt(unknown)} (${unknown.length} logins)`);
    console.log(`concurrency ${CONCURRENCY}:             ${fmt(concurrent)}, ${(LOGINS / wallSeconds).toFixed(1)} logins/s`);
  } finally {
    agent.destroy();
    await server.stop();
  }
}

runBench(main);
