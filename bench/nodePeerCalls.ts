/**
 * Call setup time with the headless Node peer (examples/node-peer: the SDK with werift as `rtc`) next to
 * Chromium↔Chromium, relay-only through a real coturn, everything on 127.0.0.1.
 *
 *   npm run bench:node-peer
 *   CALLS=30 WARMUP=2 node dist/bench/nodePeerCalls.js      # the defaults
 *
 * Starts turnserver (loopback only, TURN REST secret), the real server in this process (SQLite in a temp
 * DATA_DIR, the system clock) and Debian's Chromium. Each call is timed in the calling Chromium page with
 * performance.now() around `await sb.call(peer, {iceTransportPolicy: 'relay'})`, which resolves when the
 * connection is up and the data channel is open; after each call the caller hangs up and the callee is
 * seen closed before the next one. WARMUP calls first are not counted.
 *
 * - Chromium → Chromium: Alice's page calls Bob's page, which accepts every ring at once (the same as
 *   bench/callSetup.ts's long-poll row, here for a side-by-side figure on the same machine and minute).
 * - Chromium → Node peer: Alice's page calls the example device, run as its own process the way its
 *   README says (RELAY_ONLY=1, BIND_ADDRESS=127.0.0.1), which answers every call from a connection.
 * - Node peer → Chromium: the example's NodePeer in this process calls Alice's page, which accepts every
 *   ring at once; timed here with performance.now() around `await peer.call(alice)` (same end point:
 *   connected and data channel open). The process exits at the end: werift keeps a TURN refresh timer
 *   per allocation for minutes after its connection closed.
 *
 * The load average (1 min) before and after is printed: the machine is shared.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { registerViaApi } from '../test/system/helpers/api.js';
import { FileStorage } from '../examples/node-peer/fileStorage.js';
import { NodePeer } from '../examples/node-peer/peer.js';
import { weriftRtc } from '../examples/node-peer/weriftRtc.js';
import { NodePeerProcess } from '../test/system/helpers/nodePeer.js';
import { BrowserDevice, account, type CallInfo } from '../test/system/helpers/sdkPage.js';
import { callCounts, pageToPageCalls, RELAY_ONLY, STEP_TIMEOUT_MS, until, withCallRig } from './browserCalls.js';
import { msRow, runBench } from './measure.js';

const COUNTS = callCounts(30);
const { calls: CALLS, warmup: WARMUP } = COUNTS;

async function chromiumToNodePeer(browser: Browser, baseUrl: string): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'signalbox-bench-node-peer-'));
  const alice = await BrowserDevice.open(browser, baseUrl);
  const a = account('alice');
  await alice.run('register', a.username, a.password);
  const robot = await registerViaApi(baseUrl, 'robot');
  const peer = NodePeerProcess.start({
    SIGNALBOX_URL: baseUrl,
    SIGNALBOX_USERNAME: robot.username,
    SIGNALBOX_PASSWORD: robot.password,
    STORAGE_FILE: join(dir, 'robot.json'),
    RELAY_ONLY: '1',
    BIND_ADDRESS: '127.0.0.1',
    ACCEPT_FROM: a.username,
  });
  try {
    await peer.waitFor('ready', STEP_TIMEOUT_MS);
    await alice.run('requestConnection', robot.username);
    await peer.waitFor(`connected with ${a.username}`, STEP_TIMEOUT_MS);
    const closed = () => peer.lines.filter((l) => l.startsWith('closed: ')).length;
    const samples: number[] = [];
    for (let i = 0; i < WARMUP + CALLS; i++) {
      const call = await alice.run<CallInfo>('call', robot.username, RELAY_ONLY);
      if (i >= WARMUP) samples.push(call.setupMs!);
      await alice.run('hangup', call.sessionId);
      await until(`the Node peer to close call ${i + 1}`, () => closed() === i + 1);
    }
    return samples;
  } finally {
    await peer.stop();
    await alice.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function nodePeerToChromium(browser: Browser, baseUrl: string): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'signalbox-bench-node-peer-'));
  const alice = await BrowserDevice.open(browser, baseUrl);
  const a = account('alice');
  await alice.run('register', a.username, a.password);
  await alice.run('autoAccept', RELAY_ONLY);
  const robot = await registerViaApi(baseUrl, 'robot');
  const peer = await NodePeer.start({
    baseUrl,
    username: robot.username,
    password: robot.password,
    storage: new FileStorage(join(dir, 'robot.json')),
    rtc: weriftRtc({ bindAddress: '127.0.0.1' }),
    iceTransportPolicy: 'relay',
    acceptRequestsFrom: [a.username],
  });
  try {
    await alice.run('requestConnection', robot.username);
    for (let tries = 0; (await peer.sb.connections.list()).length === 0; tries++) {
      if (tries > 300) throw new Error('the Node peer did not accept Alice');
      await new Promise((r) => setTimeout(r, 10));
    }
    const samples: number[] = [];
    for (let i = 0; i < WARMUP + CALLS; i++) {
      const started = performance.now();
      const call = await peer.call(a.username);
      if (i >= WARMUP) samples.push(performance.now() - started);
      await alice.run('waitForCall', call.sessionId, STEP_TIMEOUT_MS);
      await call.hangup();
      await alice.run('waitForClose', call.sessionId, STEP_TIMEOUT_MS);
    }
    return samples;
  } finally {
    await peer.stop();
    await alice.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// The process exits at the end (runBench's `exit`): werift's leftover TURN refresh timers would hold it for minutes.
runBench(
  () =>
    withCallRig(COUNTS, 'call setup, relay-only on loopback', 'Case', async (browser, baseUrl) => {
      console.log(msRow('Chromium → Chromium', await pageToPageCalls(browser, baseUrl, COUNTS, 'Chromium → Chromium')));
      console.log(msRow('Chromium → Node peer (werift)', await chromiumToNodePeer(browser, baseUrl)));
      console.log(msRow('Node peer (werift) → Chromium', await nodePeerToChromium(browser, baseUrl)));
    }),
  { exit: true },
);
