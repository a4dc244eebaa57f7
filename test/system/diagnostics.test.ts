import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser } from 'playwright-core';
import { registerViaApi } from './helpers/api.js';
import { launchChromium } from './helpers/browser.js';
import { startCoturn, type Coturn } from './helpers/coturn.js';
import { runDiagnostics } from './helpers/diagnosticsPage.js';
import { startServer, type RunningServer } from './helpers/server.js';

// GET /diagnostics in real Chromium against a real coturn on loopback: what a self-hoster sees when
// everything works, and the sentence that tells them what to fix when it does not.

let coturn: Coturn;
let browser: Browser;
const servers: RunningServer[] = [];

/** A server for this test; closed after the suite. */
async function server(env: Record<string, string>): Promise<RunningServer> {
  const s = await startServer(env);
  servers.push(s);
  return s;
}

beforeAll(async () => {
  coturn = await startCoturn();
  browser = await launchChromium();
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the setup failed before creating it
  await browser?.close();
  await Promise.all(servers.map((s) => s.close()));
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the setup failed before creating it
  await coturn?.stop();
});

describe('GET /diagnostics', () => {
  it('passes all three checks with coturn configured and running, and shows the relay address and timings', async () => {
    const s = await server({ TURN_URLS: coturn.url, TURN_SECRET: coturn.secret });
    const run = await runDiagnostics(browser, s.baseUrl);
    expect(Object.fromEntries(Object.entries(run.checks).map(([id, c]) => [id, c.status]))).toEqual({
      'ice-servers': 'pass',
      'turn-relay': 'pass',
      'loopback-call': 'pass',
    });
    expect(run.checks['ice-servers']!.figure).toContain(coturn.url);
    expect(run.checks['turn-relay']!.data.relayAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(run.checks['turn-relay']!.figure).toContain('relay candidate 127.0.0.1:');
    expect(run.checks['loopback-call']!.data.localType).toBe('relay');
    expect(Number(run.checks['loopback-call']!.data.setupMs)).toBeGreaterThan(0);
    expect(Number(run.checks['loopback-call']!.data.rttMs)).toBeGreaterThan(0);
    expect(run.checks['loopback-call']!.figure).toMatch(/setup \d+ ms · data-channel RTT [\d.]+ ms/);
    expect(run.statusLine).toBe('Done. The throwaway account was deleted.');
  });

  it('runs the checks for an existing account signed in through the form, and signs it out after', async () => {
    const s = await server({ TURN_URLS: coturn.url, TURN_SECRET: coturn.secret });
    const user = await registerViaApi(s.baseUrl, 'operator');
    const run = await runDiagnostics(browser, s.baseUrl, user);
    expect(Object.values(run.checks).map((c) => c.status)).toEqual(['pass', 'pass', 'pass']);
    expect(run.statusLine).toBe('Done. Signed out.');
    // The session the page used is over: its device is gone from the account.
    const devices = await fetch(`${s.baseUrl}/users/me/devices`, { headers: { Authorization: `Bearer ${user.accessToken}` } });
    expect(((await devices.json()) as { devices: unknown[] }).devices).toHaveLength(1);
  });

  it('says why when the password is wrong, and runs no check', async () => {
    const s = await server({ TURN_URLS: coturn.url, TURN_SECRET: coturn.secret });
    const user = await registerViaApi(s.baseUrl, 'operator');
    const run = await runDiagnostics(browser, s.baseUrl, { username: user.username, password: 'not the password' });
    expect(run.checks).toEqual({});
    expect(run.statusLine).toMatch(/password|credentials/i);
  });

  it("is served under a CSP of only the server's own files, which the page keeps to", async () => {
    const s = await server({ TURN_URLS: coturn.url, TURN_SECRET: coturn.secret });
    const run = await runDiagnostics(browser, s.baseUrl);
    expect(run.csp).toContain("default-src 'self'");
    expect(run.csp).toContain("script-src 'self'");
    expect(run.csp).not.toContain('unsafe-inline');
    expect(run.errors).toEqual([]);
  });

  it('says coturn refused the credentials when TURN_SECRET is not its static-auth-secret', async () => {
    const s = await server({ TURN_URLS: coturn.url, TURN_SECRET: `${coturn.secret}-not-the-same` });
    const run = await runDiagnostics(browser, s.baseUrl);
    expect(run.checks['ice-servers']!.status).toBe('pass');
    expect(run.checks['turn-relay']!.status).toBe('fail');
    expect(run.checks['turn-relay']!.sentence).toContain('coturn refused the credentials: TURN_SECRET differs from static-auth-secret');
    expect(run.checks['loopback-call']!.status).toBe('fail');
  });

  it('says no TURN server is configured when TURN_URLS is unset', async () => {
    const s = await server({});
    const run = await runDiagnostics(browser, s.baseUrl);
    expect(run.checks['ice-servers']!.status).toBe('fail');
    expect(run.checks['ice-servers']!.sentence).toContain('No TURN server configured (TURN_URLS)');
    expect(run.checks['turn-relay']!.status).toBe('fail');
    expect(run.checks['loopback-call']!.status).toBe('fail');
  });

  // Last: it stops the suite's coturn.
  it('says no relay candidate came and asks whether coturn runs at its URL when coturn is stopped', async () => {
    const s = await server({ TURN_URLS: coturn.url, TURN_SECRET: coturn.secret });
    await coturn.stop();
    const run = await runDiagnostics(browser, s.baseUrl);
    expect(run.checks['ice-servers']!.status).toBe('pass');
    expect(run.checks['turn-relay']!.status).toBe('fail');
    expect(run.checks['turn-relay']!.sentence).toContain(`is coturn running and reachable at ${coturn.url}?`);
    expect(run.checks['loopback-call']!.status).toBe('fail');
    expect(run.checks['loopback-call']!.sentence).toContain('Not tried');
  });
});
