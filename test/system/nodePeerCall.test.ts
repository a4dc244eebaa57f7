import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { registerViaApi, type ApiUser } from './helpers/api.js';
import { launchChromium } from './helpers/browser.js';
import { startCoturn, type Coturn } from './helpers/coturn.js';
import { NodePeerProcess, type NodePeerEnv } from './helpers/nodePeer.js';
import { BrowserDevice, account, type CallInfo } from './helpers/sdkPage.js';
import { startServer, type RunningServer } from './helpers/server.js';

// The SDK outside the browser, with an injected WebRTC: the example headless device (examples/node-peer:
// werift as `rtc`, a file-backed async storage, its own Node process) is called by a Chromium user and
// calls one, relay-only through a real coturn, signalling through the real server, all on 127.0.0.1.

const RING_MS = 10_000;
const CONNECT_MS = 20_000;
const RELAY_ONLY = { iceTransportPolicy: 'relay' };

interface Pair {
  local: { type: string; address: string };
  remote: { type: string; address: string };
}

let coturn: Coturn;
let server: RunningServer;
let browser: Browser;
let dir: string;
let robot: ApiUser;
let env: NodePeerEnv;
let peer: NodePeerProcess;
let ana: { username: string; device: BrowserDevice; deviceId: string };

/** The local addresses of `pid`'s UDP sockets (iproute2's ss). */
function udpAddressesOf(pid: number): string[] {
  const table = execFileSync('ss', ['-uanpH'], { encoding: 'utf8' });
  return table
    .split('\n')
    .filter((line) => line.includes(`pid=${pid},`))
    .map((line) => line.trim().split(/\s+/)[3]!.replace(/:\d+$/, ''));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'signalbox-node-peer-'));
  coturn = await startCoturn();
  server = await startServer({ TURN_URLS: coturn.url, TURN_SECRET: coturn.secret });
  browser = await launchChromium();
  const device = await BrowserDevice.open(browser, server.baseUrl);
  const { username, password } = account('ana');
  const { deviceId } = await device.run<{ deviceId: string }>('register', username, password);
  ana = { username, device, deviceId };
  robot = await registerViaApi(server.baseUrl, 'robot'); // no key yet: the peer makes and publishes it
  env = {
    SIGNALBOX_URL: server.baseUrl,
    SIGNALBOX_USERNAME: robot.username,
    SIGNALBOX_PASSWORD: robot.password,
    STORAGE_FILE: join(dir, 'robot.json'),
    RELAY_ONLY: '1',
    BIND_ADDRESS: '127.0.0.1',
    ACCEPT_FROM: ana.username,
  };
  peer = NodePeerProcess.start(env);
  await peer.waitFor('ready', CONNECT_MS);
  // Ana asks; the peer accepts when the connection.requested event comes through its poll loop.
  await ana.device.run('requestConnection', robot.username);
  await peer.waitFor(`connected with ${ana.username}`, RING_MS);
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the setup failed before creating it
  await peer?.stop();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the setup failed before creating it
  await ana?.device.close();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the setup failed before creating it
  await browser?.close();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the setup failed before creating it
  await server?.close();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the setup failed before creating it
  await coturn?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the Node peer (werift) and Chromium, relay-only through coturn', () => {
  it('is called by Chromium: answers, gets the message and echoes it back on the data channel', async () => {
    const called = await ana.device.run<CallInfo>('call', robot.username, RELAY_ONLY);
    expect(called).toMatchObject({ peer: robot.username, connectionState: 'connected', channelState: 'open' });
    await peer.waitFor(`connected: ${ana.username} (call ${called.sessionId})`, CONNECT_MS);

    await ana.device.run('send', called.sessionId, 'hello robot');
    await peer.waitFor(`message from ${ana.username} (call ${called.sessionId}): hello robot`, CONNECT_MS);
    await ana.device.run('waitForMessage', called.sessionId, 'hello robot', CONNECT_MS); // the echo

    // Chromium's remote candidate is the Node peer's: a relay one too, so werift honoured iceTransportPolicy.
    const pair = await ana.device.run<Pair>('selectedPair', called.sessionId);
    expect(pair).toMatchObject({ local: { type: 'relay', address: '127.0.0.1' }, remote: { type: 'relay', address: '127.0.0.1' } });
    // BIND_ADDRESS=127.0.0.1: every UDP socket werift opened (to the TURN server) is on loopback, none on 0.0.0.0.
    const addresses = udpAddressesOf(peer.pid);
    expect(addresses.length).toBeGreaterThan(0);
    expect(new Set(addresses)).toEqual(new Set(['127.0.0.1']));

    await ana.device.run('hangup', called.sessionId);
    await peer.waitFor(`closed: ${ana.username} (hangup, by remote)`, CONNECT_MS);
  });

  it('keeps its session and key in its storage file: restarted, it resumes as the same device with the same key', async () => {
    const signedIn = peer.lines.find((l) => l.startsWith('signed in as '))!;
    const key = peer.lines.find((l) => l.startsWith('key '))!;
    expect(await peer.stop()).toBe(0);
    expect(peer.lines).toContain('stopped');
    const stored = JSON.parse(readFileSync(env.STORAGE_FILE, 'utf8')) as Record<string, string>;
    expect(Object.keys(stored)).toEqual(expect.arrayContaining(['signalbox.session', `signalbox.privateKey.${robot.username}`]));
    expect(statSync(env.STORAGE_FILE).mode & 0o777).toBe(0o600);

    peer = NodePeerProcess.start({ ...env, CALL: ana.username }); // CALL: the next test's call
    await peer.waitFor('ready', CONNECT_MS);
    expect(peer.lines.find((l) => l.startsWith('resumed as '))).toBe(signedIn.replace('signed in as ', 'resumed as '));
    expect(peer.lines.find((l) => l.startsWith('key '))).toBe(key);
  });

  it('calls Chromium: a message each way over the data channel', async () => {
    await ana.device.run('waitForRing', RING_MS);
    const answered = await ana.device.run<CallInfo>('accept', 0, RELAY_ONLY);
    expect(answered).toMatchObject({ peer: robot.username, connectionState: 'connected', channelState: 'open' });
    await peer.waitFor(`connected: ${ana.username} (call ${answered.sessionId})`, CONNECT_MS);

    await ana.device.run('waitForMessage', answered.sessionId, `hello from ${robot.username}`, CONNECT_MS);
    await ana.device.run('send', answered.sessionId, 'hello robot, from the callee');
    await peer.waitFor(`message from ${ana.username} (call ${answered.sessionId}): hello robot, from the callee`, CONNECT_MS);

    const pair = await ana.device.run<Pair>('selectedPair', answered.sessionId);
    expect(pair).toMatchObject({ local: { type: 'relay', address: '127.0.0.1' }, remote: { type: 'relay', address: '127.0.0.1' } });

    // Stopping the device hangs up its calls: Chromium hears the bye.
    await peer.stop();
    await ana.device.run('waitForClose', answered.sessionId, CONNECT_MS);
    expect((await ana.device.run<CallInfo>('info', answered.sessionId)).closes).toEqual([{ reason: 'hangup', by: 'remote' }]);
  });
});
