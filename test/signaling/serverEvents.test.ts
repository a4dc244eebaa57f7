import { beforeEach, describe, expect, it } from '@jest/globals';
import { EVENT_TYPES } from '../../app/core/serverEvents.js';
import { sendRequest } from '../helpers/connections.js';
import { bearer, putPgpKey, registerUser, type TestUser } from '../helpers/factories.js';
import { useTestApp, withUser } from '../helpers/perTest.js';
import { ED25519, fixture } from '../helpers/pgpFixtures.js';
import { clearMailbox, connectQuietly, eventsIn, payloads, poll, send, signInDevice, type PolledEvent, type TestDevice } from '../helpers/signaling.js';
import { heldPolls } from './helpers.js';

// docs/api.md, Signaling (v1.1, server events): `pgp.changed` to every connection of a user whose key
// changed (and to that user's other devices); events share the mailbox with signals, wake held polls,
// and cannot be sent by a client.

const t = useTestApp();
const alice = withUser(t);
const bob = withUser(t);
let bobLaptop: TestDevice;
beforeEach(async () => {
  await connectQuietly(t, alice, bob);
  bobLaptop = await signInDevice(t, bob, 'laptop');
});

const eventsOf = async (device: TestUser): Promise<PolledEvent[]> => eventsIn(await poll(t, device));
const pgpChanged = (from: TestUser, fingerprint: string | null): PolledEvent => ({
  type: 'pgp.changed',
  from: from.username,
  fromDevice: null,
  payload: { username: from.username, fingerprint },
});

describe('pgp.changed', () => {
  it('on PUT /auth/pgp-key, reaches every device of each connection with the new fingerprint', async () => {
    expect((await putPgpKey(t, alice, fixture(ED25519.file))).status).toBe(200);
    for (const device of [bob, bobLaptop]) expect(await eventsOf(device)).toEqual([pgpChanged(alice, ED25519.fingerprint)]);
  });

  it("on PUT /auth/pgp-key, reaches the user's other devices, not the uploading one", async () => {
    expect((await putPgpKey(t, bob, fixture(ED25519.file))).status).toBe(200);
    expect(await eventsOf(bobLaptop)).toEqual([pgpChanged(bob, ED25519.fingerprint)]);
    expect(await eventsOf(bob)).toEqual([]);
  });

  it('on DELETE /auth/pgp-key, reaches every device of each connection with a null fingerprint', async () => {
    await putPgpKey(t, alice, fixture(ED25519.file));
    for (const device of [bob, bobLaptop]) await clearMailbox(t, device);
    expect((await t.http.delete('/auth/pgp-key').set(bearer(alice))).status).toBe(204);
    for (const device of [bob, bobLaptop]) expect(await eventsOf(device)).toEqual([pgpChanged(alice, null)]);
  });

  it('reaches no one who is not an accepted connection, not even a user with a pending request', async () => {
    const [stranger, asker] = [await registerUser(t), await registerUser(t)];
    await sendRequest(t, asker, alice);
    await clearMailbox(t, asker);
    await putPgpKey(t, alice, fixture(ED25519.file));
    await t.http.delete('/auth/pgp-key').set(bearer(alice));
    expect(await eventsOf(stranger)).toEqual([]);
    expect(await eventsOf(asker)).toEqual([]);
  });

  it('is written for nobody when the key is refused', async () => {
    expect((await putPgpKey(t, alice, 'not a key')).status).toBe(400);
    expect(await eventsOf(bob)).toEqual([]);
  });
});

describe('server events in the mailbox', () => {
  it('wake a held poll at once', async () => {
    const held = poll(t, bob, { wait: 30 });
    await heldPolls(t, 1);
    await putPgpKey(t, alice, fixture(ED25519.file));
    const res = await held;
    expect(res.status).toBe(200);
    expect(eventsIn(res)).toEqual([pgpChanged(alice, ED25519.fingerprint)]);
  });

  it('wake the held poll of each device that receives one, and only those', async () => {
    const carol = await registerUser(t);
    const laptopPoll = poll(t, bobLaptop, { wait: 30 });
    const alicePoll = poll(t, alice, { wait: 1 });
    await heldPolls(t, 2);
    expect((await sendRequest(t, carol, bob)).status).toBe(201);
    expect(eventsIn(await laptopPoll).map((e) => e.type)).toEqual(['connection.requested']);
    expect(eventsIn(await alicePoll)).toEqual([]);
  });

  it('come in order with signals and are acknowledged by the same cursor', async () => {
    await send(t, alice, bob, { payload: 'before' });
    await putPgpKey(t, alice, fixture(ED25519.file));
    await send(t, alice, bob, { payload: 'after' });
    const res = await poll(t, bob);
    expect(res.body.signals.map((s: { type: string }) => s.type)).toEqual(['offer', 'pgp.changed', 'offer']);
    expect(payloads(await poll(t, bob, { after: res.body.cursor }))).toEqual([]);
  });
});

describe('POST /signaling/send with a server event type', () => {
  it.each(EVENT_TYPES)('refuses type %s with 400 validation_failed and stores nothing', async (type) => {
    const res = await send(t, alice, bob, { type, payload: '{"username":"mallory"}' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details.fields).toEqual([expect.objectContaining({ field: 'type' })]);
    expect(await eventsOf(bob)).toEqual([]);
  });
});
