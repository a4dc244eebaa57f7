import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import { iceServersFor, registerViaApi, type IceServer } from './helpers/api.js';
import { launchChromium, openBlankPage } from './helpers/browser.js';
import { startCoturn, type Coturn } from './helpers/coturn.js';
import { startServer, type RunningServer } from './helpers/server.js';

// The environment the browser call tests stand on, proved alone: real coturn on loopback, the real
// server handing out TURN credentials, and real Chromium making a relay-only WebRTC data channel with
// them. The in-page code is the diagnostics page's own module, loaded from its file.

const CHECKS_FILE = new URL('../../app/diagnostics/assets/webrtcChecks.js', import.meta.url);
const CHECKS_PATH = '/__system-test__/webrtcChecks.js';

interface Candidate {
  type: string;
  address: string;
  port: number;
}

let coturn: Coturn;
let server: RunningServer;
let browser: Browser;
let page: Page;
let iceServers: IceServer[];

beforeAll(async () => {
  coturn = await startCoturn();
  server = await startServer({ TURN_URLS: coturn.url, TURN_SECRET: coturn.secret });
  browser = await launchChromium();
  ({ page } = await openBlankPage(browser, server.baseUrl));
  // The module from disk, on the server's origin, so the page imports it as the diagnostics page would.
  await page.route(`${server.baseUrl}${CHECKS_PATH}`, (route) =>
    route.fulfill({ status: 200, contentType: 'text/javascript; charset=utf-8', body: readFileSync(CHECKS_FILE, 'utf8') }),
  );
  iceServers = await iceServersFor(server.baseUrl, await registerViaApi(server.baseUrl));
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the setup failed before creating it
  await browser?.close();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the setup failed before creating it
  await server?.close();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the setup failed before creating it
  await coturn?.stop();
});

describe('a relay-only WebRTC data channel in Chromium through coturn on loopback', () => {
  it('gathers a relay candidate on 127.0.0.1 with the credentials of GET /signaling/ice-servers', async () => {
    const result = (await page.evaluate(async ({ path, iceServers }) => (await import(path)).gatherRelay(iceServers), { path: CHECKS_PATH, iceServers })) as {
      ok: boolean;
      candidate?: Candidate;
    };
    expect(result).toMatchObject({ ok: true, candidate: { type: 'relay', address: '127.0.0.1' } });
  });

  it('opens a data channel between two relay-only peer connections and carries messages over it', async () => {
    const result = (await page.evaluate(async ({ path, iceServers }) => (await import(path)).loopbackCall(iceServers), { path: CHECKS_PATH, iceServers })) as {
      setupMs: number;
      rttMs: number;
      local: Candidate;
      remote: Candidate;
    };
    expect(result.local).toMatchObject({ type: 'relay', address: '127.0.0.1' });
    expect(result.remote).toMatchObject({ type: 'relay', address: '127.0.0.1' });
    expect(result.setupMs).toBeGreaterThan(0);
    expect(result.rttMs).toBeGreaterThan(0);
  });
});
