/**
 * `npm run bench:smoke`: every bench once at a tiny size (BENCH_SMOKE=1, bench/measure.ts), one after another,
 * to check that each still runs to its end and prints its figures; the figures say nothing about speed.
 *
 *   npm run bench:smoke                      # builds, then node dist/bench/smoke.js
 *   node dist/bench/smoke.js login search    # only these
 *   node dist/bench/smoke.js --with-calls    # also the call-setup benches (Chromium and coturn)
 *
 * A bench fails when it exits non-zero (it threw, a request answered otherwise than expected), prints a figure
 * that is NaN or Infinity, or runs past TIMEOUT_S (60 s). Exits 1 when any failed, naming them; a failed bench's
 * output is shown whole. Left out unless `--with-calls`: callSetup and nodePeerCalls, which need Debian's
 * Chromium and coturn, system packages plain `npm test` does not. bench:scale runs on SQLite only (no PostgreSQL).
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hr, loadAverage, runBench } from './measure.js';

const BENCHES = [
  'keyBackupCheck',
  'minimalKey',
  'envelopeChecks',
  'login',
  'search',
  'strangerFlood',
  'hostileKeys',
  'pollCaps',
  'pushCost',
  'pushAttacks',
  'sendFanout',
  'sendCpu',
  'scale',
  'signaling',
];
const CALL_BENCHES = ['callSetup', 'nodePeerCalls'];
const TIMEOUT_S = Number(process.env.BENCH_SMOKE_TIMEOUT ?? 60);
/** A printed figure that is no number: a division by an empty sample, a percentile of nothing. */
const NOT_A_FIGURE = /\b(NaN|-?Infinity)\b/;

interface Outcome {
  name: string;
  ok: boolean;
  seconds: number;
  why: string;
}

function runOne(name: string): Promise<Outcome> {
  const script = join(dirname(fileURLToPath(import.meta.url)), `${name}.js`);
  return new Promise((resolve) => {
    const started = hr();
    // Its own process group, so that a timeout also ends the server processes it started.
    const child = spawn(process.execPath, [script], { env: { ...process.env, BENCH_SMOKE: '1' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      process.kill(-child.pid!, 'SIGKILL');
    }, TIMEOUT_S * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const seconds = (hr() - started) / 1000;
      const bad = NOT_A_FIGURE.exec(output);
      const why = timedOut
        ? `ran past ${TIMEOUT_S} s`
        : code !== 0
          ? `exited with ${code ?? signal}`
          : bad
            ? `printed ${bad[0]}: ${output.split('\n').find((l) => NOT_A_FIGURE.test(l))}`
            : '';
      if (why) process.stdout.write(`--- ${name} output ---\n${output}--- end of ${name} ---\n`);
      resolve({ name, ok: !why, seconds, why });
    });
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const named = args.filter((a) => !a.startsWith('--'));
  const all = [...BENCHES, ...(args.includes('--with-calls') ? CALL_BENCHES : [])];
  const unknown = named.filter((n) => ![...BENCHES, ...CALL_BENCHES].includes(n));
  if (unknown.length > 0) throw new Error(`no such bench: ${unknown.join(', ')}`);
  const chosen = named.length > 0 ? named : all;
  console.log(`bench smoke run (BENCH_SMOKE=1: tiny sizes, checks the benches run, not speed); load average ${loadAverage()}`);
  const started = hr();
  const outcomes: Outcome[] = [];
  for (const name of chosen) {
    const o = await runOne(name);
    outcomes.push(o);
    console.log(`${o.ok ? 'ok  ' : 'FAIL'} ${name.padEnd(15)} ${o.seconds.toFixed(1).padStart(5)} s${o.why ? `  ${o.why}` : ''}`);
  }
  const failed = outcomes.filter((o) => !o.ok);
  console.log(
    `${outcomes.length - failed.length} of ${outcomes.length} benches ran in ${((hr() - started) / 1000).toFixed(1)} s; load average ${loadAverage()}` +
      (failed.length > 0 ? `; failed: ${failed.map((o) => o.name).join(', ')}` : ''),
  );
  if (failed.length > 0) process.exitCode = 1;
}

runBench(main);
