/**
 * Call setup time through the SDK (bench/README.md): from `sb.call()` to its data channel open, relay-only,
 * everything on loopback, with the SDK's long-poll loop and with a 1 s short-poll loop for comparison.
 *
 *   npm run bench:calls
 *   CALLS=50 WARMUP=2 node dist/bench/callSetup.js      # the defaults
 *
 * Starts a real coturn (turnserver, loopback only, TURN REST secret), the real server in this process
 * on 127.0.0.1 (SQLite in a temp DATA_DIR, the system clock), and Debian's Chromium with two browser
 * contexts per mode: Alice and Bob, each signed up with a published key, connected. Bob's page accepts
 * every ring at once (relay-only). Alice calls Bob CALLS times in a row; each time is measured in Alice's
 * page with performance.now() around `await sb.call(bob, {iceTransportPolicy: 'relay'})`, which resolves
 * when the connection is up and the data channel is open. After each call Alice hangs up and Bob's side
 * is seen closed before the next one. WARMUP calls first are not counted (the first fetches the ICE
 * servers and the peer's key).
 *
 * For scale, a third row times the same relay-only setup without any signalling: two peer connections
 * in one page handing each other their descriptions and candidates directly (the diagnostics page's
 * loopbackCall, from the first createOffer to the data channel open): what WebRTC and coturn alone cost.
 *
 * Short-poll mode: the SDK's fetch is wrapped (test/system/helpers/pageDriver.js shortPollFetch) so each
 * GET /signaling/poll asks wait=0 and starts no sooner than 1 s after the previous one, which is what a
 * client without long-poll does; the SDK itself is the same.
 */
import { cpus, loadavg } from 'node:os';
import type { Browser } from 'playwright-core';
import { iceServersFor, registerViaApi } from '../test/system/helpers/api.js';
import { launchChromium, openBlankPage } from '../test/system/helpers/browser.js';
import { startCoturn } from '../test/system/helpers/coturn.js';
import { BrowserDevice, account, type CallInfo } from '../test/system/helpers/sdkPage.js';
import { startServer } from '../test/system/helpers/server.js';

const CALLS = Number(process.env.CALLS ?? 50);
const WARMUP = Number(process.env.WARMUP ?? 2);
const SHORT_POLL_MS = 1000;
const RELAY_ONLY = { iceTransportPolicy: 'relay' };
/** Bounds per step, far above what one takes, so a hang fails the run instead of stalling it. */
const STEP_TIMEOUT_MS = 30_000;

interface Mode {
  name: string;
  /** pageDriver.js register() options. */
  options: { shortPollMs?: number };
}

const MODES: Mode[] = [
  { name: 'long-poll (SDK default, wait=25)', options: {} },
  { name: `short-poll every ${SHORT_POLL_MS / 1000} s (wait=0)`, options: { shortPollMs: SHORT_POLL_MS } },
];

function percentile(sorted: number[], p: number): number {
  // Nearest rank: the smallest value with at least p% of the samples at or below it.
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

async function measure(browser: Browser, baseUrl: string, mode: Mode): Promise<number[]> {
  const alice = await BrowserDevice.open(browser, baseUrl);
  const bob = await BrowserDevice.open(browser, baseUrl);
  try {
    const a = account('alice');
    const b = account('bob');
    await alice.run('register', a.username, a.password, mode.options);
    await bob.run('register', b.username, b.password, mode.options);
    await alice.run('requestConnection', b.username);
    await bob.run('acceptConnection', a.username);
    await bob.run('autoAccept', RELAY_ONLY);
    const samples: number[] = [];
    for (let i = 0; i < WARMUP + CALLS; i++) {
      const call = await alice.run<CallInfo>('call', b.username, RELAY_ONLY);
      if (i >= WARMUP) samples.push(call.setupMs!);
      await bob.run('waitForCall', call.sessionId, STEP_TIMEOUT_MS);
      await alice.run('hangup', call.sessionId);
      await bob.run('waitForClose', call.sessionId, STEP_TIMEOUT_MS);
    }
    const errors = [...(await alice.run<string[]>('errors')), ...(await bob.run<string[]>('errors'))];
    if (errors.length > 0) throw new Error(`SDK errors during ${mode.name}: ${errors.join('; ')}`);
    return samples;
  } finally {
    await alice.close();
    await bob.close();
  }
}

/** The in-page relay-only loopback call of the diagnostics page, CALLS times after WARMUP: no signalling at all. */
async function measureWithoutSignalling(browser: Browser, baseUrl: string): Promise<number[]> {
  const iceServers = await iceServersFor(baseUrl, await registerViaApi(baseUrl, 'bench'));
  const { context, page } = await openBlankPage(browser, baseUrl);
  try {
    return await page.evaluate(
      async ({ iceServers, warmup, calls }) => {
        const checks: string = '/diagnostics/webrtcChecks.js'; // a URL the page serves, not a module tsc could resolve
        const { loopbackCall } = await import(checks);
        const samples: number[] = [];
        for (let i = 0; i < warmup + calls; i++) {
          const r = (await loopbackCall(iceServers)) as { setupMs: number };
          if (i >= warmup) samples.push(r.setupMs);
        }
        return samples;
      },
      { iceServers, warmup: WARMUP, calls: CALLS },
    );
  } finally {
    await context.close();
  }
}

function row(name: string, unsorted: number[]): string {
  const samples = [...unsorted].sort((x, y) => x - y);
  const mean = samples.reduce((s, x) => s + x, 0) / samples.length;
  const ms = (x: number) => `${Math.round(x)} ms`;
  return `| ${name} | ${samples.length} | ${ms(percentile(samples, 50))} | ${ms(percentile(samples, 95))} | ${ms(samples[0]!)} | ${ms(samples.at(-1)!)} | ${ms(mean)} |`;
}

async function main(): Promise<void> {
  const coturn = await startCoturn();
  const server = await startServer({ TURN_URLS: coturn.url, TURN_SECRET: coturn.secret });
  const browser = await launchChromium();
  const loadBefore = loadavg();
  try {
    console.log(`call setup, relay-only on loopback: ${CALLS} calls per mode after ${WARMUP} warm-up`);
    console.log(`node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${browser.version()}`);
    console.log('| Mode | Calls | p50 | p95 | min | max | mean |');
    console.log('|---|---|---|---|---|---|---|');
    for (const mode of MODES) console.log(row(mode.name, await measure(browser, server.baseUrl, mode)));
    console.log(row('no signalling: two peer connections in one page', await measureWithoutSignalling(browser, server.baseUrl)));
    const loadAfter = loadavg();
    console.log(`load average (1 min) before ${loadBefore[0]!.toFixed(2)}, after ${loadAfter[0]!.toFixed(2)}`);
  } finally {
    await browser.close();
    await server.close();
    await coturn.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
