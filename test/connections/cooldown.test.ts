import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { connectionNames, removeConnection, respond, sendRequest } from '../helpers/connections.js';
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

describe('POST /connections/request after a rejection (CONNECTION_REQUEST_COOLDOWN)', () => {
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

  it('does not start a cool-down when the requester cancels their own request', async () => {
    await sendRequest(t, alice, bob);
    expect((await removeConnection(t, alice, bob)).status).toBe(204);
    expect((await sendRequest(t, alice, bob)).status).toBe(201);
    expect(await connectionNames(t, alice)).toEqual([]);
  });
});

describe('CONNECTION_REQUEST_COOLDOWN', () => {
  it('honours a shorter configured value', async () => {
    await start({ CONNECTION_REQUEST_COOLDOWN: '3600' });
    await bobRejectsAlice();
    expect((await sendRequest(t, alice, bob)).headers['retry-after']).toBe('3600');
    await later(3600);
    expect((await sendRequest(t, alice, bob)).status).toBe(201);
  });

  it('0 turns it off: the rejected requester may ask again at once', async () => {
    await start({ CONNECTION_REQUEST_COOLDOWN: '0' });
    await bobRejectsAlice();
    expect((await sendRequest(t, alice, bob)).status).toBe(201);
  });
});
