import { describe, expect, it } from '@jest/globals';
import { useBrowserWorld, type Person } from './helpers/browserWorld.js';
import type { CallInfo } from './helpers/sdkPage.js';

// A user's second device gets the account key in real Chromium, once by device linking and once from
// the key backup, each device a browser context of its own (its own localStorage, as a second phone
// or browser would have), the SDK from the server's /sdk/signalbox.js; then that device takes part in a
// relay-only call through a real coturn. All on 127.0.0.1.

const RING_MS = 10_000;
const RELAY_ONLY = { iceTransportPolicy: 'relay' };
const PASSPHRASE = 'purple elephant staple orbit';

const world = useBrowserWorld({ coturn: true });
const open = () => world.open();
const person = (prefix: string) => world.person(prefix);

/** Another device of `who`, signed in and polling, with no key yet. */
async function keylessDevice(who: Person): Promise<Person> {
  const device = await open();
  const { deviceId } = await device.run<{ deviceId: string }>('loginWithoutKey', who.username, who.password);
  return { ...who, device, deviceId };
}

/** `callee` answers the first ring on its device; relay-only on both sides; both ends connected. */
async function relayCall(caller: Person, callee: Person): Promise<{ called: CallInfo; answered: CallInfo }> {
  const calling = caller.device.run<CallInfo>('call', callee.username, RELAY_ONLY);
  await callee.device.run('waitForRing', RING_MS);
  const answered = await callee.device.run<CallInfo>('accept', 0, RELAY_ONLY);
  const called = await calling;
  for (const [who, info] of [
    [caller, called],
    [callee, answered],
  ] as const) {
    const pair = await who.device.run<{ local: { type: string }; remote: { type: string } }>('selectedPair', info.sessionId);
    expect(pair.local.type).toBe('relay');
    expect(pair.remote.type).toBe('relay');
  }
  return { called, answered };
}

describe('a second browser of Alice, linked by code', () => {
  it('gets the account key from her first browser and then answers a relay-only call from Bob', async () => {
    const alice = await person('alice');
    const bob = await person('bob');
    await alice.device.run('requestConnection', bob.username);
    await bob.device.run('acceptConnection', alice.username);
    const laptop = await keylessDevice(alice);

    const { code } = await laptop.device.run<{ code: string }>('requestLink');
    expect(code).toMatch(/^[A-Z2-7]{4}(-[A-Z2-7]{4}){3}$/);
    const fingerprint = await alice.device.run<string>('fingerprint');
    expect(await alice.device.run('approveLink', code)).toEqual({ deviceId: laptop.deviceId, fingerprint });
    expect(await laptop.device.run('linkDone')).toEqual({ fingerprint });

    const { called, answered } = await relayCall(bob, laptop);
    expect(called).toMatchObject({ peer: alice.username, peerDevice: laptop.deviceId, connectionState: 'connected', channelState: 'open' });
    expect(answered).toMatchObject({ peer: bob.username, connectionState: 'connected' });
    // What the two browsers of Alice exchanged for the link went out as OpenPGP messages only.
    const linkBodies = [...alice.device.sent, ...laptop.device.sent].map((s) => JSON.parse(s.body) as { sessionId?: string; payload: string });
    const link = linkBodies.filter((b) => b.sessionId?.startsWith('signalbox-link:'));
    expect(link.length).toBeGreaterThanOrEqual(2);
    for (const body of link) expect(body.payload).toMatch(/^-----BEGIN PGP MESSAGE-----/);
    expect(JSON.stringify(linkBodies)).not.toContain('PRIVATE KEY');
  });
});

describe('a second browser of Alice, from the key backup', () => {
  it('loads the key with the passphrase and then calls Bob relay-only', async () => {
    const alice = await person('alice');
    const bob = await person('bob');
    await alice.device.run('requestConnection', bob.username);
    await bob.device.run('acceptConnection', alice.username);
    const fingerprint = await alice.device.run<string>('fingerprint');
    expect(await alice.device.run('saveBackup', PASSPHRASE)).toEqual({ fingerprint });

    const laptop = await keylessDevice(alice);
    const wrong = await laptop.device.page.evaluate(
      (p) =>
        (globalThis as unknown as { driver: { loadBackup(p: string): Promise<unknown> } }).driver.loadBackup(p).then(
          () => 'loaded',
          (e: unknown) => (e as { code: string }).code,
        ),
      `${PASSPHRASE}!`,
    );
    expect(wrong).toBe('bad_passphrase');
    expect(await laptop.device.run('loadBackup', PASSPHRASE)).toEqual({ fingerprint });

    const { called, answered } = await relayCall(laptop, bob);
    expect(called).toMatchObject({ peer: bob.username, connectionState: 'connected', channelState: 'open' });
    expect(answered).toMatchObject({ peer: alice.username, peerDevice: laptop.deviceId, connectionState: 'connected' });
  });
});

describe('the diagnostics page: "Walk through a second device"', () => {
  it('shows the link code, the key arriving by link and from the backup, and the trust steps, with data-check and data-status', async () => {
    const context = await world.browser.newContext();
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      await page.goto(`${world.server.baseUrl}/diagnostics`);
      await page.waitForSelector('body[data-diagnostics="ready"]');
      await page.click('#second-device');
      await page.waitForSelector('body[data-diagnostics="done"]', { timeout: 45_000 });
      const checks = await page.$$eval('[data-check]', (items) =>
        items.map((item) => {
          const el = item as unknown as { dataset: Record<string, string>; querySelector(s: string): { textContent: string | null } | null };
          const shown: Record<string, string> = { ...el.dataset };
          return { ...shown, sentence: el.querySelector('.check-sentence')?.textContent ?? '', figure: el.querySelector('.check-figure')?.textContent ?? '' };
        }),
      );
      const byId: Record<string, Record<string, string>> = Object.fromEntries(checks.map((c: Record<string, string>) => [c.check, c]));
      expect(Object.keys(byId)).toEqual(['device-link', 'key-backup', 'safety-number', 'key-change']);
      expect(byId['device-link']).toMatchObject({ status: 'pass', code: expect.stringMatching(/^[A-Z2-7]{4}(-[A-Z2-7]{4}){3}$/) });
      expect(byId['device-link']!.figure).toContain(`code ${byId['device-link']!.code}`);
      expect(byId['key-backup']).toMatchObject({ status: 'pass' });
      expect(byId['key-backup']!.sentence).toContain('bad_passphrase');
      expect(byId['safety-number']).toMatchObject({ status: 'pass', figure: expect.stringMatching(/^\d{5}( \d{5}){11}$/) });
      expect(byId['key-change']).toMatchObject({ status: 'pass', sentence: expect.stringContaining('key_changed') });
      expect(await page.$eval('#status', (el) => el.textContent)).toBe('Done. The throwaway accounts were deleted.');
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
