/**
 * How long the server takes to refuse each hostile OpenPGP key, and how long `/health` waits meanwhile
 * (docs/security.md). The baseline is `/health` on the same idle server, in the same run.
 *
 *   npm run bench:keys
 *   PAST_SCAN=1 npm run bench:keys     # each key made unreadable to the request-path scan: the worker judges it
 *
 * Starts `dist/app/main.js` (the production build, real argon2id) on 127.0.0.1 with a fresh temp DATA_DIR and
 * the key-upload limits off, registers one account, then for each key: uploads it (PUT /auth/pgp-key, or
 * POST /auth/register with `pgpPublicKey`) and asks `/health` one request after another until the upload is
 * answered. The keys are built from random numbers by test/helpers/hostileKeys.ts (no key generation).
 * Run it on an older commit's build to see the "before" figures (bench/README.md has both).
 */
import * as k from '../test/helpers/hostileKeys.js';
import { startBuiltServer } from './fixture.js';
import { knob, machineLine, percentile, runBench, timed } from './measure.js';

const UPLOAD_TIMEOUT_MS = 180_000;
const HEALTH_BASELINE_REQUESTS = knob('HEALTH_BASELINE_REQUESTS', 200, 20);

const cases: Array<[label: string, make: () => string, via: 'put' | 'register']> = [
  ['DSA p=q=4096 bits', () => k.hostileKey(k.dsa(4096, 4096)), 'put'],
  ['DSA p=q=8192 bits', () => k.hostileKey(k.dsa(8192, 8192)), 'put'],
  ['DSA p=q=12288 bits, at register', () => k.hostileKey(k.dsa(12288, 12288)), 'register'],
  ['DSA p=q=16384 bits', () => k.hostileKey(k.dsa(16384, 16384)), 'put'],
  ['DSA p=q=20480 bits, at register', () => k.hostileKey(k.dsa(20480, 20480)), 'register'],
  ['RSA n=16384, e=65537', () => k.hostileKey(k.rsa(16384)), 'put'],
  ['RSA n=8192, e of 8192 bits', () => k.hostileKey(k.rsa(8192, 8192)), 'put'],
  ['RSA n=32768, e=65537', () => k.hostileKey(k.rsa(32768)), 'put'],
  ['ElGamal 16384 subkey on RSA 2048', () => k.hostileKey(k.rsa(2048), k.elgamal(16384)), 'put'],
];

async function run(): Promise<void> {
  const server = await startBuiltServer({ LOG_LEVEL: 'info', RATE_PGP_USER: 'off', RATE_PGP_IP: 'off', RATE_REGISTER_IP: 'off', RATE_REGISTER_EMAIL: 'off' });
  const json = (method: string, path: string, body: unknown, token?: string) =>
    fetch(server.base + path, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(UPLOAD_TIMEOUT_MS),
    });
  const health = () => fetch(server.base + '/health').then((r) => r.arrayBuffer());
  try {
    console.log(machineLine());
    console.log(`mode: ${process.env.PAST_SCAN ? 'PAST_SCAN (the worker judges every key)' : 'default (request-path scan first)'}`);
    const idle: number[] = [];
    for (let i = 0; i < HEALTH_BASELINE_REQUESTS; i++) idle.push(await timed(health));
    const idleP99 = percentile(idle, 99);
    console.log(`baseline /health on the idle server: p50 ${percentile(idle, 50).toFixed(2)} ms, p99 ${idleP99.toFixed(2)} ms`);
    const name = `bench${Date.now().toString(36)}`;
    const account = (await (await json('POST', '/auth/register', { username: name, email: `${name}@example.org`, password: 'correct horse battery' })).json()) as {
      accessToken: string;
    };
    let n = 0;
    for (const [label, make, via] of cases) {
      const armored = process.env.PAST_SCAN ? k.pastTheQuickScan(make()) : make();
      let done = false;
      const started = performance.now();
      n++;
      const upload = (
        via === 'register'
          ? json('POST', '/auth/register', { username: `${name}_${n}`, email: `${name}_${n}@example.org`, password: 'correct horse battery', pgpPublicKey: armored })
          : json('PUT', '/auth/pgp-key', { publicKey: armored }, account.accessToken)
      )
        .then(async (r) => `${r.status} ${((await r.json()) as { error?: { code: string } }).error?.code ?? 'stored'}`)
        .catch((err: unknown) => `failed: ${err instanceof Error ? err.name : String(err)}`)
        .finally(() => (done = true));
      const waits: number[] = [];
      await new Promise((r) => setTimeout(r, 5));
      do waits.push(await timed(health));
      while (
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by another async task while this one awaits
        !done
      );
      const answer = await upload;
      const refusedMs = performance.now() - started;
      const worst = Math.max(...waits);
      console.log(
        `${label.padEnd(34)} ${String(armored.length).padStart(6)} B  ${answer.padEnd(20)} in ${refusedMs.toFixed(0).padStart(6)} ms;` +
          ` /health x${waits.length} worst ${worst.toFixed(1)} ms (${(worst / idleP99).toFixed(1)}x idle p99)`,
      );
    }
  } finally {
    server.child.kill('SIGKILL');
  }
}

runBench(run);
