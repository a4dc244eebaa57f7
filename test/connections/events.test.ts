import { beforeEach, describe, expect, it } from '@jest/globals';
import { bearer, registerUser, type TestUser } from '../helpers/factories.js';
import { removeConnection, respond, sendRequest } from '../helpers/connections.js';
import { useTestApp, withUser } from '../helpers/perTest.js';
import { clearMailbox, eventsIn, poll, signInDevice, type PolledEvent, type TestDevice } from '../helpers/signaling.js';

// docs/api.md, Signaling (v1.1, server events): a change of the connection graph writes events into the
// mailbox of every device of the other user and of the acting user's other devices, never the acting
// device's own. Alice and bob have two devices each: the one they registered with, and a tablet/laptop.

const t = useTestApp();
const alice = withUser(t);
const bob = withUser(t);
let aliceTablet: TestDevice;
let bobLaptop: TestDevice;
beforeEach(async () => {
  aliceTablet = await signInDevice(t, alice, 'tablet');
  bobLaptop = await signInDevice(t, bob, 'laptop');
});

/** The server events waiting on a device. */
const eventsOf = async (device: TestUser): Promise<PolledEvent[]> => eventsIn(await poll(t, device));

/** An event as a device receives it: caused by `from`, from no device. */
const event = (type: string, from: TestUser, payload: unknown): PolledEvent => ({ type, from: from.username, fromDevice: null, payload });

/** Alice asks bob and bob accepts, then every device's mailbox is emptied again. */
async function connectAll(): Promise<void> {
  expect((await sendRequest(t, alice, bob)).status).toBe(201);
  expect((await respond(t, bob, alice, 'accept')).status).toBe(200);
  for (const device of [alice, aliceTablet, bob, bobLaptop]) await clearMailbox(t, device);
}

describe('connection.requested', () => {
  it('reaches every device of the user asked with the request as GET /connections/pending shows it', async () => {
    expect((await sendRequest(t, alice, bob, 'hi, it is alice')).status).toBe(201);
    const [request] = (await t.http.get('/connections/pending').set(bearer(bob))).body.incoming;
    expect(request.message).toBe('hi, it is alice');
    for (const device of [bob, bobLaptop]) expect(await eventsOf(device)).toEqual([event('connection.requested', alice, request)]);
  });

  it("reaches the asker's other devices, not the device that asked", async () => {
    await sendRequest(t, alice, bob);
    const [request] = (await t.http.get('/connections/pending').set(bearer(alice))).body.outgoing;
    expect(await eventsOf(aliceTablet)).toEqual([event('connection.requested', alice, request)]);
    expect(await eventsOf(alice)).toEqual([]);
  });

  it('is an entry like a signal: no session id, and gone after SIGNAL_TTL', async () => {
    await sendRequest(t, alice, bob);
    const [entry] = (await poll(t, bob)).body.signals;
    expect(entry).toEqual(
      expect.objectContaining({ type: 'connection.requested', sessionId: null, createdAt: '2026-06-01T12:00:00.000Z', expiresAt: '2026-06-01T12:05:00.000Z' }),
    );
    t.clock.advance(300);
    expect((await poll(t, bobLaptop)).body.signals).toEqual([]);
  });

  it('is written for nobody when the request is refused (already pending)', async () => {
    await sendRequest(t, alice, bob);
    for (const device of [alice, aliceTablet, bob, bobLaptop]) await clearMailbox(t, device);
    expect((await sendRequest(t, alice, bob)).status).toBe(409);
    for (const device of [alice, aliceTablet, bob, bobLaptop]) expect(await eventsOf(device)).toEqual([]);
  });

  it('reaches no third user', async () => {
    const carol = await registerUser(t);
    await sendRequest(t, alice, bob);
    expect(await eventsOf(carol)).toEqual([]);
  });
});

describe('connection.accepted', () => {
  beforeEach(async () => {
    await sendRequest(t, alice, bob);
    for (const device of [alice, aliceTablet, bob, bobLaptop]) await clearMailbox(t, device);
  });

  it('on accept, reaches every device of the asker, naming the one who accepted', async () => {
    expect((await respond(t, bob, alice, 'accept')).status).toBe(200);
    for (const device of [alice, aliceTablet]) expect(await eventsOf(device)).toEqual([event('connection.accepted', bob, { username: bob.username })]);
  });

  it("on accept, reaches the accepting user's other devices, naming the asker, not the accepting device", async () => {
    await respond(t, bob, alice, 'accept');
    expect(await eventsOf(bobLaptop)).toEqual([event('connection.accepted', bob, { username: alice.username })]);
    expect(await eventsOf(bob)).toEqual([]);
  });

  it("on crossing requests, reaches every device of the first asker and the second asker's other devices", async () => {
    const crossing = await sendRequest(t, bob, alice);
    expect(crossing.status).toBe(200);
    expect(crossing.body.connection.username).toBe(alice.username);
    for (const device of [alice, aliceTablet]) expect(await eventsOf(device)).toEqual([event('connection.accepted', bob, { username: bob.username })]);
    expect(await eventsOf(bobLaptop)).toEqual([event('connection.accepted', bob, { username: alice.username })]);
    expect(await eventsOf(bob)).toEqual([]);
  });

  it('is written for nobody when there is nothing to accept', async () => {
    await respond(t, bob, alice, 'accept');
    for (const device of [alice, aliceTablet, bob, bobLaptop]) await clearMailbox(t, device);
    expect((await respond(t, bob, alice, 'accept')).status).toBe(409);
    for (const device of [alice, aliceTablet, bob, bobLaptop]) expect(await eventsOf(device)).toEqual([]);
  });
});

describe('connection.removed', () => {
  it("on reject, reaches every device of the asker and the rejecting user's other devices", async () => {
    await sendRequest(t, alice, bob);
    for (const device of [alice, aliceTablet, bob, bobLaptop]) await clearMailbox(t, device);
    expect((await respond(t, bob, alice, 'reject')).status).toBe(200);
    for (const device of [alice, aliceTablet]) expect(await eventsOf(device)).toEqual([event('connection.removed', bob, { username: bob.username })]);
    expect(await eventsOf(bobLaptop)).toEqual([event('connection.removed', bob, { username: alice.username })]);
    expect(await eventsOf(bob)).toEqual([]);
  });

  it("on removing a connection, reaches every device of the other user and the remover's other devices", async () => {
    await connectAll();
    expect((await removeConnection(t, bob, alice)).status).toBe(204);
    for (const device of [alice, aliceTablet]) expect(await eventsOf(device)).toEqual([event('connection.removed', bob, { username: bob.username })]);
    expect(await eventsOf(bobLaptop)).toEqual([event('connection.removed', bob, { username: alice.username })]);
    expect(await eventsOf(bob)).toEqual([]);
  });

  it('on cancelling an outgoing request, reaches every device of the user it was for', async () => {
    await sendRequest(t, alice, bob);
    for (const device of [alice, aliceTablet, bob, bobLaptop]) await clearMailbox(t, device);
    expect((await removeConnection(t, alice, bob)).status).toBe(204);
    for (const device of [bob, bobLaptop]) expect(await eventsOf(device)).toEqual([event('connection.removed', alice, { username: alice.username })]);
    expect(await eventsOf(aliceTablet)).toEqual([event('connection.removed', alice, { username: bob.username })]);
    expect(await eventsOf(alice)).toEqual([]);
  });

  it('is written for nobody when there was nothing to remove', async () => {
    expect((await removeConnection(t, alice, bob)).status).toBe(404);
    for (const device of [alice, aliceTablet, bob, bobLaptop]) expect(await eventsOf(device)).toEqual([]);
  });
});
