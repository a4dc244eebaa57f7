import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser } from 'playwright-core';
import { Signalbox } from '../../client/src/index.js';
import { launchChromium } from './helpers/browser.js';
import { account } from './helpers/sdkPage.js';
import { startServer, type RunningServer } from './helpers/server.js';
import { ShiftedClock, Site, type Tab } from './helpers/tabs.js';

// Two tabs of one site in real Chromium: two pages of ONE browser context, so they share localStorage
// (one session, one device), Web Locks and BroadcastChannel, as two tabs of one browser profile do. The
// SDK comes from the real server's /sdk/signalbox.js; the other party is the SDK in Node.
//
// Without the feature (SIGNALBOX_TEST_NO_WEB_LOCKS=1 hides navigator.locks, so the SDK runs each tab on
// its own as before) every test here fails: the second refresh ends the session; the tabs replace each
// other's polls hundreds of times in 5 s; the second tab polls for itself. (Run the later three with
// -t to keep the first from ending the session they need.)

/** The shortest the server allows (seconds); the server's clock is moved past it instead of waiting. */
const ACCESS_TOKEN_TTL = 60;
const SIGNAL_MS = 10_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let server: RunningServer;
let browser: Browser;
let site: Site;
const clock = new ShiftedClock();

beforeAll(async () => {
  server = await startServer({ ACCESS_TOKEN_TTL: String(ACCESS_TOKEN_TTL) }, clock);
  browser = await launchChromium();
  site = await Site.open(browser, server.baseUrl);
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the setup failed before creating it
  await site?.close();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the setup failed before creating it
  await browser?.close();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the setup failed before creating it
  await server?.close();
});

describe('two tabs of one signed-in user (one device through localStorage)', () => {
  let first: Tab;
  let second: Tab;
  let alice: Signalbox;
  let bob: { username: string; deviceId: string };
  const countOf = async (tab: Tab, payload: string) => (await tab.run<Array<{ payload: string }>>('signals')).filter((s) => s.payload === payload).length;

  beforeAll(async () => {
    first = await site.tab();
    const b = account('bob');
    bob = await first.run('register', b.username, b.password);
    second = await site.tab();
    expect(await second.run('restore')).toEqual(bob); // the same session: the same device
    alice = new Signalbox({ baseUrl: server.baseUrl });
    const a = account('alice');
    await alice.register({ username: a.username, email: `${a.username}@example.org`, password: a.password });
    await alice.keys.ensure();
    await alice.connections.request(bob.username);
    await first.run('acceptConnection', alice.user!.username);
  });

  it('refresh an expired access token once between them (one POST /auth/refresh), and the session survives', async () => {
    clock.advance(ACCESS_TOKEN_TTL + 1);
    const since = Date.now();
    // Both get 401 together; without the cross-tab lock both refresh, the second with the refresh token
    // the first just rotated, and the server ends the session (theft detection).
    const results = await Promise.all([first.run('listConnections'), second.run('listConnections')]);
    expect(results).toEqual([
      { ok: true, connections: 1 },
      { ok: true, connections: 1 },
    ]);
    expect([...first.to('/auth/refresh', 'POST', since), ...second.to('/auth/refresh', 'POST', since)]).toHaveLength(1);
    // Later requests of both tabs still go through: the session was not ended.
    expect(await first.run('listConnections')).toEqual({ ok: true, connections: 1 });
    expect(await second.run('listConnections')).toEqual({ ok: true, connections: 1 });
    expect([...first.to('/auth/refresh', 'POST', since), ...second.to('/auth/refresh', 'POST', since)]).toHaveLength(1);
  });

  it('poll the device from one tab only: no ping-pong of replaced polls', async () => {
    await first.run('start');
    await first.page.waitForFunction(() => (globalThis as unknown as { tabs: { states(): string[] } }).tabs.states().includes('online'), undefined, {
      timeout: SIGNAL_MS,
    });
    await second.run('start');
    await sleep(500);
    const since = Date.now();
    await sleep(5000);
    const polls = [...first.to('/signaling/poll', 'GET', since), ...second.to('/signaling/poll', 'GET', since)];
    expect(polls.length).toBeLessThanOrEqual(2);
    // The second tab follows: it has not polled at all, and reports the leader's connection state.
    expect(second.to('/signaling/poll')).toHaveLength(0);
    expect(await second.run('states')).toContain('online');
  });

  it("hand a signal to both tabs' handlers, once each (the follower gets the leader's copy)", async () => {
    await alice.send(bob.username, 'custom', 'first');
    await Promise.all([first.run('waitForSignal', 'first', SIGNAL_MS), second.run('waitForSignal', 'first', SIGNAL_MS)]);
    await sleep(500); // time for a second delivery, were there one
    expect(await countOf(first, 'first')).toBe(1);
    expect(await countOf(second, 'first')).toBe(1);
    expect(second.to('/signaling/poll')).toHaveLength(0);
  });

  it('let the other tab take over when the leader tab closes: it polls and gets the next signal', async () => {
    expect(second.to('/signaling/poll')).toHaveLength(0); // it followed until now
    await first.page.close();
    await alice.send(bob.username, 'custom', 'second');
    await second.run('waitForSignal', 'second', SIGNAL_MS);
    expect(second.to('/signaling/poll').length).toBeGreaterThan(0);
    await sleep(500);
    expect(await countOf(second, 'second')).toBe(1);
    expect(await countOf(second, 'first')).toBe(1); // redelivered to the new leader or not, handed out once
    expect(await second.run('errors')).toEqual([]);
  });
});
