import { afterEach, describe, expect, it } from '@jest/globals';
import type { Env } from '../../app/config/environment.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { removeConnection, respond, sendRequest } from '../helpers/connections.js';
import { bearer, registerUser, type TestUser } from '../helpers/factories.js';
import { expectApiError } from '../http/errorShape.js';
import { connectQuietly, deviceIdOf, eventsIn, poll, send, signInDevice } from '../helpers/signaling.js';

// A stranger's request/cancel loop must not make a user unreachable (docs/security.md, "Mailbox bounds for
// strangers"): events count apart from signals and are bounded per device, a request's events are
// replaced or retracted per pair, and requests are limited per requester and, after a cancel, per pair.

let t: TestApp;
let victim: TestUser;
let stranger: TestUser;
let contact: TestUser;

async function start(env: Env = {}) {
  t = makeTestApp({ env });
  victim = await registerUser(t, { username: 'victim' });
  stranger = await registerUser(t, { username: 'stranger' });
  contact = await registerUser(t, { username: 'contact' });
  await connectQuietly(t, contact, victim);
}
afterEach(() => t.close());

/** Everything pending in the mailbox of `user`'s device, read from the store (a poll answers at most 100). */
async function pendingEntries(user: TestUser): Promise<Array<{ type: string }>> {
  return t.store.signals.pending(await deviceIdOf(t, user), new Date(t.clock.now()), 100_000);
}

/** One round of the attack: ask, then cancel. */
async function askAndCancel(from: TestUser, to: TestUser) {
  expect((await sendRequest(t, from, to)).status).toBe(201);
  expect((await removeConnection(t, from, to)).status).toBe(204);
}

describe('a stranger looping request and cancel', () => {
  it("leaves the victim's device a bounded mailbox after 300 rounds, and a contact's send is still accepted", async () => {
    // The limits on requests are off here (cool-down 0, RATE_* off in tests): the event bounds alone must hold.
    await start({ CONNECTION_REQUEST_COOLDOWN: '0' });
    // 300 rounds are enough: two events each, 600 unbounded, past both EVENTS_MAX (100) and MAILBOX_MAX (500).
    for (let round = 0; round < 300; round++) await askAndCancel(stranger, victim);
    // Unbounded, these rounds left about 600 entries and the send below got 429 mailbox_full.
    expect((await pendingEntries(victim)).length).toBeLessThanOrEqual(100); // EVENTS_MAX's default
    const sent = await send(t, contact, victim, { payload: 'still reachable' });
    expect(sent.status).toBe(202);
    expect(sent.body.devices).toBe(1);
  }, 120_000);

  it('is stopped at the second round by the cool-down after a cancel, with Retry-After', async () => {
    await start({ RATE_CONNECTION_REQUEST: '30/3600' });
    await askAndCancel(stranger, victim);
    const res = await sendRequest(t, stranger, victim);
    expectApiError(res, 429, 'rate_limited');
    expect(res.headers['retry-after']).toBe('600');
  });
});

describe('POST /connections/request per requester (RATE_CONNECTION_REQUEST)', () => {
  it('answers the 31st request within the hour 429 rate_limited with Retry-After, cancel-and-ask-again included', async () => {
    await start({ RATE_CONNECTION_REQUEST: '30/3600', CONNECTION_REQUEST_COOLDOWN: '0' });
    for (let i = 0; i < 30; i++) await askAndCancel(stranger, victim);
    t.clock.advance(60);
    const res = await sendRequest(t, stranger, victim);
    expectApiError(res, 429, 'rate_limited');
    expect(res.headers['retry-after']).toBe(String(3600 - 60));
  });

  it('writes nothing into the mailbox of the user asked while refusing', async () => {
    await start({ RATE_CONNECTION_REQUEST: '1/3600' });
    expect((await sendRequest(t, stranger, victim)).status).toBe(201);
    expectApiError(await sendRequest(t, stranger, contact), 429, 'rate_limited');
    expect(await pendingEntries(contact)).toEqual([]);
  });

  it('counts each requester apart', async () => {
    await start({ RATE_CONNECTION_REQUEST: '1/3600' });
    expect((await sendRequest(t, stranger, victim)).status).toBe(201);
    expectApiError(await sendRequest(t, stranger, contact), 429, 'rate_limited');
    const other = await registerUser(t, { username: 'other' });
    expect((await sendRequest(t, other, victim)).status).toBe(201);
  });
});

describe('server events past EVENTS_MAX', () => {
  it("drops the device's oldest pending event and still takes every signal MAILBOX_MAX allows", async () => {
    await start({ EVENTS_MAX: '3', MAILBOX_MAX: '2', MAILBOX_PER_SENDER: '2' });
    const strangers = [];
    for (let i = 0; i < 5; i++) strangers.push(await registerUser(t, { username: `stranger_${i}` }));
    for (const s of strangers) expect((await sendRequest(t, s, victim)).status).toBe(201);
    expect((await send(t, contact, victim, { payload: 'one' })).status).toBe(202);
    expect((await send(t, contact, victim, { payload: 'two' })).status).toBe(202);
    const res = await poll(t, victim);
    expect(eventsIn(res).map((e) => (e.payload as { from: string }).from)).toEqual(['stranger_2', 'stranger_3', 'stranger_4']);
    expect(res.body.signals.filter((s: { type: string }) => s.type === 'offer').map((s: { payload: string }) => s.payload)).toEqual(['one', 'two']);
  });
});

describe('the events of one request', () => {
  it('leave nothing in the mailbox of a device that never took the request out when it is cancelled', async () => {
    await start({ CONNECTION_REQUEST_COOLDOWN: '0' });
    await askAndCancel(stranger, victim);
    expect(eventsIn(await poll(t, victim))).toEqual([]);
  });

  it('are both removed when the device polled the request but had not acknowledged it', async () => {
    await start({ CONNECTION_REQUEST_COOLDOWN: '0' });
    expect((await sendRequest(t, stranger, victim)).status).toBe(201);
    expect(eventsIn(await poll(t, victim)).map((e) => e.type)).toEqual(['connection.requested']);
    expect((await removeConnection(t, stranger, victim)).status).toBe(204);
    expect(eventsIn(await poll(t, victim))).toEqual([]);
  });

  it('end with connection.removed on a device that acknowledged the request', async () => {
    await start({ CONNECTION_REQUEST_COOLDOWN: '0' });
    expect((await sendRequest(t, stranger, victim)).status).toBe(201);
    const first = await poll(t, victim);
    expect((await t.http.post('/signaling/ack').set(bearer(victim)).send({ upTo: first.body.cursor })).status).toBe(204);
    expect((await removeConnection(t, stranger, victim)).status).toBe(204);
    const next = await poll(t, victim, { after: first.body.cursor });
    expect(eventsIn(next).map((e) => [e.type, e.payload])).toEqual([['connection.removed', { username: 'stranger' }]]);
  });

  it("are removed from the rejecting user's other devices that never took the request out", async () => {
    await start();
    const laptop = await signInDevice(t, victim, 'laptop');
    expect((await sendRequest(t, stranger, victim)).status).toBe(201);
    expect((await respond(t, victim, stranger, 'reject')).status).toBe(200);
    expect(eventsIn(await poll(t, laptop))).toEqual([]);
  });

  it('hold one connection.requested per pair: a new request replaces the one still pending', async () => {
    // A request lapses after CONNECTION_REQUEST_TTL (here 60 s) while its event lives SIGNAL_TTL (300 s).
    await start({ CONNECTION_REQUEST_TTL: '60' });
    expect((await sendRequest(t, stranger, victim)).status).toBe(201);
    t.clock.advance(61);
    const again = await sendRequest(t, stranger, victim);
    expect(again.status).toBe(201);
    const events = eventsIn(await poll(t, victim));
    expect(events.map((e) => [e.type, (e.payload as { id: string }).id])).toEqual([['connection.requested', again.body.request.id]]);
  });

  it('replace a pending request on the device that rejected it when the requester asks again', async () => {
    await start({ CONNECTION_REJECT_COOLDOWN: '0' });
    expect((await sendRequest(t, stranger, victim)).status).toBe(201);
    await poll(t, victim); // handed out, not acknowledged
    expect((await respond(t, victim, stranger, 'reject')).status).toBe(200);
    const again = await sendRequest(t, stranger, victim);
    const events = eventsIn(await poll(t, victim));
    expect(events.map((e) => [e.type, (e.payload as { id: string }).id])).toEqual([['connection.requested', again.body.request.id]]);
  });
});
