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
import type { Browser } from 'playwright-core';
import { iceServersFor, registerViaApi } from '../test/system/helpers/api.js';
import { openBlankPage } from '../test/system/helpers/browser.js';
import { callCounts, pageToPageCalls, withCallRig, type CallCounts } from './browserCalls.js';
import { msRow, runBench } from './measure.js';

const COUNTS = callCounts(50);
const SHORT_POLL_MS = 1000;

interface Mode {
  name: string;
  /** pageDriver.js register() options. */
  options: { shortPollMs?: number };
}

const MODES: Mode[] = [
  { name: 'long-poll (SDK default, wait=25)', options: {} },
  { name: `short-poll every ${SHORT_POLL_MS / 1000} s (wait=0)`, options: { shortPollMs: SHORT_POLL_MS } },
];

/** The in-page relay-only loopback call of the diagnostics page, warmup + calls times: no signalling at all. */
async function measureWithoutSignalling(browser: Browser, baseUrl: string, counts: CallCounts): Promise<number[]> {
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
      { iceServers, warmup: counts.warmup, calls: counts.calls },
    );
  } finally {
    await context.close();
  }
}

runBench(() =>
  withCallRig(COUNTS, 'call setup, relay-only on loopback', 'Mode', async (browser, baseUrl) => {
    for (const mode of MODES) console.log(msRow(mode.name, await pageToPageCalls(browser, baseUrl, COUNTS, mode.name, mode.options)));
    console.log(msRow('no signalling: two peer connections in one page', await measureWithoutSignalling(browser, baseUrl, COUNTS)));
  }),
);
