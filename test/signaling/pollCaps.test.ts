import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import type { Response } from 'supertest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { bearer, registerUser, signIn, type TestUser } from '../helpers/factories.js';
import { clearMailbox, connectQuietly, payloads, poll, send } from '../helpers/signaling.js';
import { heldPolls, labelledMetricValue } from './helpers.js';

let t: TestApp;
let held: Array<Promise<Response>> = [];
afterEach(async () => {
  // Whatever a test left held answers now (empty), so the app closes with no request in flight.
  t.app.lifecycle.releasePolls();
  await Promise.all(held);
  held = [];
  await t.close();
});

/**
 * Starts a `wait=30` poll for each device and resolves once all of them are held. The polls are also
 * kept in `held`, which afterEach awaits: a caller may ignore them.
 */
async function hold(...devices: TestUser[]): Promise<{ polls: Array<Promise<Response>> }> {
  const started = devices.map((d) => poll(t, d, { wait: 30 }));
  held.push(...started);
  await heldPolls(t, held.length);
  return { polls: started };
}

const refused = (reason: string) => labelledMetricValue(t, 'signalbox_polls_refused_total', `reason="${reason}"`);

/** `user` and `count - 1` more sessions of the same account: its devices. */
async function devicesOf(user: TestUser, count: number): Promise<TestUser[]> {
  const devices = [user];
  while (devices.length < count) devices.push(await signIn(t, user));
  return devices;
}

describe('GET /signaling/poll: one held poll per device', () => {
  let bob: TestUser;
  const setUp = async () => {
    t = makeTestApp();
    bob = await registerUser(t);
  };

  it('answers the older poll at once, empty, with its cursor, when the same device polls again', async () => {
    await setUp();
    const {
      polls: [older],
    } = await hold(bob);
    held.push(poll(t, bob, { wait: 30 }));
    const res = await older!;
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ signals: [], cursor: expect.any(String) });
  });

  it('keeps the device at one held poll after a replacement', async () => {
    await setUp();
    await hold(bob);
    const newer = poll(t, bob, { wait: 30 });
    held.push(newer);
    await held[0];
    await heldPolls(t, 1);
  });

  it('delivers to the newer poll after a replacement', async () => {
    await setUp();
    const alice = await registerUser(t);
    await connectQuietly(t, alice, bob);
    await hold(bob);
    const newer = poll(t, bob, { wait: 30 });
    held.push(newer);
    await held[0];
    await heldPolls(t, 1);
    await send(t, alice, bob, { payload: 'to the new connection' });
    expect(payloads(await newer)).toEqual(['to the new connection']);
  });

  it('leaves the polls of the same user on other devices alone', async () => {
    await setUp();
    const [phone, laptop] = await devicesOf(bob, 2);
    await hold(phone!, laptop!);
    await heldPolls(t, 2);
    expect(await refused('replaced')).toBe(0);
  });

  it('counts a replacement as signalbox_polls_refused_total{reason="replaced"}', async () => {
    await setUp();
    await hold(bob);
    held.push(poll(t, bob, { wait: 30 }));
    await held[0];
    expect(await refused('replaced')).toBe(1);
  });
});

describe('GET /signaling/poll: POLLS_PER_USER', () => {
  let bob: TestUser;
  let devices: TestUser[];
  const setUp = async () => {
    t = makeTestApp({ env: { POLLS_PER_USER: '2' } });
    bob = await registerUser(t);
    devices = await devicesOf(bob, 3);
  };

  it('refuses a poll past the cap with 429 rate_limited and Retry-After', async () => {
    await setUp();
    await hold(devices[0]!, devices[1]!);
    const res = await poll(t, devices[2]!, { wait: 1 });
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe('rate_limited');
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('leaves the held polls held when it refuses one', async () => {
    await setUp();
    await hold(devices[0]!, devices[1]!);
    await poll(t, devices[2]!, { wait: 1 });
    await heldPolls(t, 2);
  });

  it('counts the refusal as signalbox_polls_refused_total{reason="user_cap"}', async () => {
    await setUp();
    await hold(devices[0]!, devices[1]!);
    await poll(t, devices[2]!, { wait: 1 });
    expect(await refused('user_cap')).toBe(1);
  });

  it('still answers a poll without wait at the cap', async () => {
    await setUp();
    await hold(devices[0]!, devices[1]!);
    const res = await poll(t, devices[2]!);
    expect(res.status).toBe(200);
    expect(res.body.signals).toEqual([]);
  });

  it('holds a poll of another user while one user is at the cap', async () => {
    await setUp();
    const carol = await registerUser(t);
    await hold(devices[0]!, devices[1]!);
    await hold(carol);
    await heldPolls(t, 3);
  });

  it('lets a device hold again once one of the held polls has ended', async () => {
    await setUp();
    const alice = await registerUser(t);
    await connectQuietly(t, alice, bob);
    for (const device of devices) await clearMailbox(t, device); // the request reached every device of bob's
    const {
      polls: [first, second],
    } = await hold(devices[0]!, devices[1]!);
    await send(t, alice, bob, { payload: 'wake' });
    await Promise.all([first, second]);
    await heldPolls(t, 0);
    // The signal is still pending (not acknowledged): acknowledge it so the next poll has to wait.
    const { cursor } = (await poll(t, devices[2]!)).body;
    held.push(poll(t, devices[2]!, { after: cursor, wait: 30 }));
    await heldPolls(t, 1);
  });
});

describe('GET /signaling/poll: POLLS_MAX', () => {
  let users: TestUser[];
  const setUp = async () => {
    t = makeTestApp({ env: { POLLS_MAX: '2' } });
    users = [await registerUser(t), await registerUser(t), await registerUser(t)];
  };

  it('refuses a poll past the total cap with 503 unavailable and Retry-After', async () => {
    await setUp();
    await hold(users[0]!, users[1]!);
    const res = await poll(t, users[2]!, { wait: 1 });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('unavailable');
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('counts the refusal as signalbox_polls_refused_total{reason="total_cap"}', async () => {
    await setUp();
    await hold(users[0]!, users[1]!);
    await poll(t, users[2]!, { wait: 1 });
    expect(await refused('total_cap')).toBe(1);
  });

  it('still answers a poll without wait at the total cap', async () => {
    await setUp();
    await hold(users[0]!, users[1]!);
    const res = await poll(t, users[2]!);
    expect(res.status).toBe(200);
  });

  it('still delivers pending signals to a waiting poll at the total cap', async () => {
    await setUp();
    await connectQuietly(t, users[0]!, users[2]!);
    await send(t, users[0]!, users[2]!, { payload: 'queued' });
    await hold(users[0]!, users[1]!);
    // Something to deliver: the poll answers without holding, so the cap does not stand in its way.
    const res = await poll(t, users[2]!, { wait: 1 });
    expect(res.status).toBe(200);
    expect(payloads(res)).toEqual(['queued']);
  });

  it('lets a device that holds a poll replace it at the total cap', async () => {
    await setUp();
    await hold(users[0]!, users[1]!);
    const newer = poll(t, users[0]!, { wait: 30 });
    held.push(newer);
    expect((await held[0]!).status).toBe(200);
    await heldPolls(t, 2);
  });

  it('frees the slot of a poll whose client went away', async () => {
    await setUp();
    const server = createServer(t.app.handler);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      const gone = httpRequest({ host: '127.0.0.1', port, path: '/signaling/poll?wait=30', headers: bearer(users[0]!) });
      gone.on('error', () => {}); // the abort below is the point
      gone.end();
      await heldPolls(t, 1);
      held.push(poll(t, users[1]!, { wait: 30 }));
      await heldPolls(t, 2);
      gone.destroy();
      await heldPolls(t, 1);
      held.push(poll(t, users[2]!, { wait: 30 }));
      await heldPolls(t, 2);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
