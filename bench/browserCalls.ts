import { loadavg } from 'node:os';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../test/system/helpers/browser.js';
import { startCoturn } from '../test/system/helpers/coturn.js';
import { BrowserDevice, account, type CallInfo } from '../test/system/helpers/sdkPage.js';
import { startServer } from '../test/system/helpers/server.js';
import { knob, machine } from './measure.js';

// What the call-setup benches (bench/callSetup.ts, bench/nodePeerCalls.ts) share: their sizes, the rig (a
// loopback coturn, the server in this process, Debian's Chromium) and the Chromium → Chromium call loop.

/** Timed calls per row (CALLS, `full` by default, 2 in the smoke run) and untimed ones before them (WARMUP, the first fetches the ICE servers and the peer's key). */
export const callCounts = (full: number) => ({ calls: knob('CALLS', full, 2), warmup: knob('WARMUP', 2, 0) });
export type CallCounts = ReturnType<typeof callCounts>;
export const RELAY_ONLY = { iceTransportPolicy: 'relay' };
/** Bounds per step, far above what one takes, so a hang fails the run instead of stalling it. */
export const STEP_TIMEOUT_MS = 30_000;

/** Waits until `predicate` holds, STEP_TIMEOUT_MS at most. */
export async function until(what: string, predicate: () => boolean): Promise<void> {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Alice's page calls Bob's page warmup + calls times, relay-only; Bob's page accepts every ring at once. Each
 * call is timed in Alice's page around `sb.call()` (connected, data channel open); after it Alice hangs up
 * and Bob's side is seen closed before the next one. `options`: pageDriver.js register() options (e.g.
 * `shortPollMs`). Stops the bench when either SDK reported an error.
 */
export async function pageToPageCalls(browser: Browser, baseUrl: string, counts: CallCounts, what: string, options: { shortPollMs?: number } = {}): Promise<number[]> {
  const alice = await BrowserDevice.open(browser, baseUrl);
  const bob = await BrowserDevice.open(browser, baseUrl);
  try {
    const a = account('alice');
    const b = account('bob');
    await alice.run('register', a.username, a.password, options);
    await bob.run('register', b.username, b.password, options);
    await alice.run('requestConnection', b.username);
    await bob.run('acceptConnection', a.username);
    await bob.run('autoAccept', RELAY_ONLY);
    const samples: number[] = [];
    for (let i = 0; i < counts.warmup + counts.calls; i++) {
      const call = await alice.run<CallInfo>('call', b.username, RELAY_ONLY);
      if (i >= counts.warmup) samples.push(call.setupMs!);
      await bob.run('waitForCall', call.sessionId, STEP_TIMEOUT_MS);
      await alice.run('hangup', call.sessionId);
      await bob.run('waitForClose', call.sessionId, STEP_TIMEOUT_MS);
    }
    const errors = [...(await alice.run<string[]>('errors')), ...(await bob.run<string[]>('errors'))];
    if (errors.length > 0) throw new Error(`SDK errors during ${what}: ${errors.join('; ')}`);
    return samples;
  } finally {
    await alice.close();
    await bob.close();
  }
}

/**
 * Starts a loopback coturn, the server (TURN pointed at it) and Chromium; prints the header lines and the
 * table head `columns`, runs `measure`, prints the load average (1 min) before and after, and stops them all.
 */
export async function withCallRig(counts: CallCounts, title: string, columns: string, measure: (browser: Browser, baseUrl: string) => Promise<void>): Promise<void> {
  const coturn = await startCoturn();
  const server = await startServer({ TURN_URLS: coturn.url, TURN_SECRET: coturn.secret });
  const browser = await launchChromium();
  const loadBefore = loadavg();
  try {
    console.log(`${title}: ${counts.calls} calls per row after ${counts.warmup} warm-up`);
    console.log(`${machine()}, Chromium ${browser.version()}`);
    console.log(`| ${columns} | Calls | p50 | p95 | min | max | mean |`);
    console.log('|---|---|---|---|---|---|---|');
    await measure(browser, server.baseUrl);
    console.log(`load average (1 min) before ${loadBefore[0]!.toFixed(2)}, after ${loadavg()[0]!.toFixed(2)}`);
  } finally {
    await browser.close();
    await server.close();
    await coturn.stop();
  }
}
