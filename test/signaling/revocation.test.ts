import { describe, expect, it } from '@jest/globals';
import type { Response } from 'supertest';
import type { Store } from '../../app/store/types.js';
import { WAIT_TICK_MS } from '../../app/signaling/notifier.js';
import { SESSION_CHECK_INTERVAL_MS } from '../../app/signaling/sessionChecks.js';
import { bearer, signIn, type TestUser } from '../helpers/factories.js';
import { useSmtpServer, useTestApp, withUser } from '../helpers/perTest.js';
import { runScript, writeTestSecrets } from '../helpers/run.js';
import { connectQuietly, deviceIdOf, metricValue, payloads, poll, send } from '../helpers/signaling.js';
import { codeIn } from '../helpers/smtp.js';
import { heldPolls } from './helpers.js';

// docs/api.md, Devices: ending a session in any way answers that device's held polls 401 unauthorized at
// once, and nothing is delivered to it afterwards. Held polls wait on a ManualScheduler (t.scheduler) that
// moves only when a test advances it: a poll here answers before its wait runs out only because it was ended,
// and the session check runs only when a test moves time to it.

/**
 * The store's in-process arrival feed, as the app subscribed to it: calling it is a wake-up for those
 * devices arriving late, as one from another instance's change stream can, after the session ended.
 */
let arrive: (deviceIds: readonly string[]) => void = () => {};
function captureArrivals(store: Store): Store {
  const signals = new Proxy(store.signals, {
    get(target, key) {
      if (key !== 'onArrival') return Reflect.get(target, key, target);
      return (listener: (deviceIds: readonly string[]) => void) => {
        arrive = listener;
        return target.onArrival(listener);
      };
    },
  });
  return new Proxy(store, { get: (target, key) => (key === 'signals' ? signals : Reflect.get(target, key, target)) });
}

const smtp = useSmtpServer();
const t = useTestApp(() => ({ env: { SMTP_URL: smtp.url }, wrapStore: captureArrivals, manualScheduler: true }));
const alice = withUser(t);
const bob = withUser(t, { email: 'bob@example.org' });

/** The answer a held poll of an ended session gets. */
function expectEnded(res: Response): void {
  expect(res.status).toBe(401);
  expect(res.body.error.code).toBe('unauthorized');
  expect(res.body.error.message).toBe('The session has ended; sign in again.');
  expect(res.body.signals).toBeUndefined();
}

/** Starts a `wait=30` poll for each device and resolves once all of them are held. */
async function hold(...devices: TestUser[]): Promise<Array<Promise<Response>>> {
  const started = devices.map((d) => poll(t, d, { wait: 30 }));
  await heldPolls(t, devices.length);
  return started;
}

const logout = (u: TestUser) => t.http.post('/auth/logout').set(bearer(u)).send({});

describe('held polls of a session that ends in this process answer 401 at once', () => {
  it('logout: the device’s held poll, and only that device’s', async () => {
    await connectQuietly(t, alice, bob);
    const laptop = await signIn(t, bob);
    const [phonePoll, laptopPoll] = await hold(bob, laptop);
    expect((await logout(bob)).status).toBe(204);
    expectEnded(await phonePoll!);
    await heldPolls(t, 1); // the laptop still holds its poll
    await send(t, alice, bob, { payload: 'for the laptop' });
    expect(payloads(await laptopPoll!)).toEqual(['for the laptop']);
  });

  it('the race: a poll held, logout, then a send at once: 401, never the signal, which no device of bob stored', async () => {
    await connectQuietly(t, alice, bob);
    const [held] = await hold(bob);
    expect((await logout(bob)).status).toBe(204);
    const late = await send(t, alice, bob, { payload: 'too late' });
    expect(late.status).toBe(202);
    expect(late.body.devices).toBe(0); // each device has its own mailbox; the ended one has none
    expectEnded(await held!);
    const again = await signIn(t, bob);
    expect(payloads(await poll(t, again))).toEqual([]);
  });

  it('change-password: the other sessions’ polls end, the changing session’s poll stays held', async () => {
    await connectQuietly(t, alice, bob);
    const laptop = await signIn(t, bob);
    const [phonePoll, laptopPoll] = await hold(bob, laptop);
    const res = await t.http.post('/auth/change-password').set(bearer(bob)).send({ currentPassword: bob.password, newPassword: 'a brand new secret' });
    expect(res.status).toBe(204);
    expectEnded(await laptopPoll!);
    await heldPolls(t, 1);
    await send(t, alice, bob, { payload: 'still here' });
    expect(payloads(await phonePoll!)).toEqual(['still here']);
  });

  it('reset-password: every session’s poll ends', async () => {
    const laptop = await signIn(t, bob);
    const polls = await hold(bob, laptop);
    expect((await t.http.post('/auth/forgot-password').send({ email: bob.email })).status).toBe(202);
    const code = codeIn((await smtp.waitFor(1))[0]!);
    const res = await t.http.post('/auth/reset-password').send({ email: bob.email, otp: code, newPassword: 'a brand new secret' });
    expect(res.status).toBe(204);
    for (const p of polls) expectEnded(await p);
    await heldPolls(t, 0);
  });

  it('account deletion: every session’s poll ends, the deleting one’s too', async () => {
    const laptop = await signIn(t, bob);
    const polls = await hold(bob, laptop);
    expect((await t.http.delete('/users/me').set(bearer(bob)).send({ password: bob.password })).status).toBe(204);
    for (const p of polls) expectEnded(await p);
    await heldPolls(t, 0);
  });

  it('a reused refresh token (theft detection): the session’s poll ends', async () => {
    const [held] = await hold(bob);
    expect((await t.http.post('/auth/refresh').send({ refreshToken: bob.refreshToken })).status).toBe(200);
    expect((await t.http.post('/auth/refresh').send({ refreshToken: bob.refreshToken })).status).toBe(401);
    expectEnded(await held!);
  });
});

describe('held polls of a session ended elsewhere (admin CLI, another instance)', () => {
  // The CLI's `users disable` is one store call from another process: emulated here by the same call.
  const disableInStore = () => t.store.users.setDisabled(bob.id, new Date(t.clock.now()));

  // Also the race of a wake-up for an entry stored just before the session ended, arriving just after
  // (another instance's change stream): the mailbox ended with the session, and the poll never answers 200.
  it('a wake-up after the session ended elsewhere delivers nothing: the poll answers 401', async () => {
    const device = await deviceIdOf(t, bob);
    const held = poll(t, bob, { wait: 2 });
    await heldPolls(t, 1);
    expect(await disableInStore()).toBe(true);
    arrive([device]);
    await t.scheduler!.advance(2000 + WAIT_TICK_MS);
    expectEnded(await held);
  });

  it('a poll whose wait runs out after its session ended elsewhere answers 401, not an empty list', async () => {
    const held = poll(t, bob, { wait: 1 });
    await heldPolls(t, 1);
    await t.store.sessions.deleteByUser(bob.id);
    await t.scheduler!.advance(1000 + WAIT_TICK_MS);
    expectEnded(await held);
  });

  it(`with the server started, answers 401 at the next session check, SESSION_CHECK_INTERVAL_MS (${SESSION_CHECK_INTERVAL_MS} ms) after the last`, async () => {
    const stop = t.app.lifecycle.start();
    try {
      const [held] = await hold(bob);
      await disableInStore();
      await t.scheduler!.advance(SESSION_CHECK_INTERVAL_MS - 1);
      expect(await metricValue(t, 'signalbox_held_polls')).toBe(1); // no check yet
      await t.scheduler!.advance(1);
      expectEnded(await held!);
      await heldPolls(t, 0);
    } finally {
      await stop();
    }
  });

  it('the real admin CLI (`users disable`, its own process) ends the held poll within the bound', async () => {
    writeTestSecrets(t.dir);
    const stop = t.app.lifecycle.start();
    try {
      const [held] = await hold(bob);
      const cli = await runScript('admin', ['users', 'disable', bob.username], { DATA_DIR: t.dir });
      expect(cli.code).toBe(0);
      await t.scheduler!.advance(SESSION_CHECK_INTERVAL_MS);
      expectEnded(await held!);
    } finally {
      await stop();
    }
  });
});
