import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { connectionNames, pendingPairs, removeConnection, respond, sendRequest } from '../helpers/connections.js';
import { registerUser, type TestUser } from '../helpers/factories.js';
import { expectApiError } from '../http/errorShape.js';

const DAY = 86400;
let t: TestApp;
let alice: TestUser;
let bob: TestUser;

async function start(env: Record<string, string> = {}) {
  t = makeTestApp({ env });
  alice = await registerUser(t, { username: 'alice' });
  bob = await registerUser(t, { username: 'bob' });
}
afterEach(() => t.close());

/** Moves the clock on and signs alice and bob in again: their access tokens last only 15 minutes. */
async function later(seconds: number) {
  t.clock.advance(seconds);
  for (const u of [alice, bob]) {
    const res = await t.http.post('/auth/login').send({ username: u.username, password: u.password });
    expect(res.status).toBe(200);
    u.accessToken = res.body.accessToken;
  }
}

/** Alice asks Bob, and Bob turns her down. */
async function bobRejectsAlice() {
  expect((await sendRequest(t, alice, bob)).status).toBe(201);
  expect((await respond(t, bob, alice, 'reject')).status).toBe(200);
}

describe('POST /connections/request after a rejection (CONNECTION_REJECT_COOLDOWN)', () => {
  beforeEach(() => start());

  it('answers the rejected requester 429 rate_limited with Retry-After for the whole cool-down (default 7 days)', async () => {
    await bobRejectsAlice();
    const res = await sendRequest(t, alice, bob);
    expectApiError(res, 429, 'rate_limited');
    expect(res.headers['retry-after']).toBe(String(7 * DAY));
  });

  it('counts Retry-After down from the rejection', async () => {
    await bobRejectsAlice();
    await later(2 * DAY);
    expect((await sendRequest(t, alice, bob)).headers['retry-after']).toBe(String(5 * DAY));
  });

  it('creates no request while refusing', async () => {
    await bobRejectsAlice();
    await sendRequest(t, alice, bob);
    const pending = await t.http.get('/connections/pending').set({ Authorization: `Bearer ${bob.accessToken}` });
    expect(pending.body.incoming).toEqual([]);
  });

  it('lets the requester ask again once the cool-down has passed', async () => {
    await bobRejectsAlice();
    await later(7 * DAY);
    expect((await sendRequest(t, alice, bob)).status).toBe(201);
  });

  it('still lets the one who rejected ask the other', async () => {
    await bobRejectsAlice();
    expect((await sendRequest(t, bob, alice)).status).toBe(201);
  });

  it('lets the rejected requester accept by asking when the other has since asked them', async () => {
    await bobRejectsAlice();
    await sendRequest(t, bob, alice);
    const res = await sendRequest(t, alice, bob);
    expect(res.status).toBe(200);
    expect(res.body.connection.username).toBe('bob');
  });

  it('does not hold an old rejection against a pair that connected since', async () => {
    await bobRejectsAlice();
    await sendRequest(t, bob, alice);
    expect((await respond(t, alice, bob, 'accept')).status).toBe(200);
    expect((await removeConnection(t, alice, bob)).status).toBe(204);
    expect((await sendRequest(t, alice, bob)).status).toBe(201);
  });

  it('does not limit the rejected requester toward anyone else', async () => {
    const carol = await registerUser(t, { username: 'carol' });
    await bobRejectsAlice();
    expect((await sendRequest(t, alice, carol)).status).toBe(201);
  });

  it('does not hold a cancelled request against the user who was asked', async () => {
    await sendRequest(t, alice, bob);
    expect((await removeConnection(t, alice, bob)).status).toBe(204);
    expect((await sendRequest(t, bob, alice)).status).toBe(201);
    expect(await connectionNames(t, alice)).toEqual([]);
  });
});

describe('CONNECTION_REJECT_COOLDOWN', () => {
  it('honours a shorter configured value', async () => {
    await start({ CONNECTION_REJECT_COOLDOWN: '3600' });
    await bobRejectsAlice();
    expect((await sendRequest(t, alice, bob)).headers['retry-after']).toBe('3600');
    await later(3600);
    expect((await sendRequest(t, alice, bob)).status).toBe(201);
  });

  it('0 turns it off: the rejected requester may ask again at once', async () => {
    await start({ CONNECTION_REJECT_COOLDOWN: '0' });
    await bobRejectsAlice();
    expect((await sendRequest(t, alice, bob)).status).toBe(201);
  });
});

/** Alice asks Bob, then cancels her request. */
async function aliceAsksAndCancels() {
  expect((await sendRequest(t, alice, bob)).status).toBe(201);
  expect((await removeConnection(t, alice, bob)).status).toBe(204);
}

describe('POST /connections/request after a cancel (CONNECTION_REQUEST_COOLDOWN)', () => {
  beforeEach(() => start());

  it('answers the requester 429 rate_limited with Retry-After for the whole cool-down (default 600 s)', async () => {
    await aliceAsksAndCancels();
    const res = await sendRequest(t, alice, bob);
    expectApiError(res, 429, 'rate_limited');
    expect(res.headers['retry-after']).toBe('600');
  });

  it('creates no request and writes no event while refusing', async () => {
    await aliceAsksAndCancels();
    await sendRequest(t, alice, bob);
    expect(await pendingPairs(t, bob)).toEqual({ incoming: [], outgoing: [] });
    const polled = await t.http.get('/signaling/poll').set({ Authorization: `Bearer ${bob.accessToken}` });
    expect(polled.body.signals).toEqual([]);
  });

  it('lets the requester ask again once the cool-down has passed', async () => {
    await aliceAsksAndCancels();
    await later(599);
    expectApiError(await sendRequest(t, alice, bob), 429, 'rate_limited');
    await later(1);
    expect((await sendRequest(t, alice, bob)).status).toBe(201);
  });

  it('does not limit the requester toward anyone else', async () => {
    const carol = await registerUser(t, { username: 'carol' });
    await aliceAsksAndCancels();
    expect((await sendRequest(t, alice, carol)).status).toBe(201);
  });

  it('starts no cool-down when an accepted connection is removed', async () => {
    expect((await sendRequest(t, alice, bob)).status).toBe(201);
    expect((await respond(t, bob, alice, 'accept')).status).toBe(200);
    expect((await removeConnection(t, alice, bob)).status).toBe(204);
    expect((await sendRequest(t, alice, bob)).status).toBe(201);
  });
});

describe('CONNECTION_REQUEST_COOLDOWN', () => {
  it('honours a configured value', async () => {
    await start({ CONNECTION_REQUEST_COOLDOWN: '60' });
    await aliceAsksAndCancels();
    expect((await sendRequest(t, alice, bob)).headers['retry-after']).toBe('60');
    await later(60);
    expect((await sendRequest(t, alice, bob)).status).toBe(201);
  });

  it('0 turns it off: the requester may ask again at once after a cancel', async () => {
    await start({ CONNECTION_REQUEST_COOLDOWN: '0' });
    await aliceAsksAndCancels();
    expect((await sendRequest(t, alice, bob)).status).toBe(201);
  });
});
