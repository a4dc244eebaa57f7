import { beforeEach, describe, expect, it } from '@jest/globals';
import { FieldCipher } from '../../app/lib/fieldCipher.js';
import { TEST_SECRETS } from '../helpers/app.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { useTestApp, withUser } from '../helpers/perTest.js';
import { clearMailbox, connectQuietly, deviceIdOf, payloads, poll, send, signInDevice, type TestDevice } from '../helpers/signaling.js';

// docs/api.md, Signaling (v1.1, devices): each device has its own mailbox. Bob has a phone (his first
// session) and a laptop (a second sign-in); alice has one device unless a test signs her in again.

const t = useTestApp({ env: { MAILBOX_MAX: '3', MAILBOX_PER_SENDER: '3' } });
const alice = withUser(t);
const bob = withUser(t);
let laptop: TestDevice;
beforeEach(async () => {
  await connectQuietly(t, alice, bob);
  laptop = await signInDevice(t, bob, 'laptop');
});

const ack = (user: { accessToken: string }, upTo: string) => t.http.post('/signaling/ack').set(bearer(user)).send({ upTo });

describe('POST /signaling/send to a user with two devices', () => {
  it('stores the signal for both devices and says so', async () => {
    const res = await send(t, alice, bob, { payload: 'ring' });
    expect(res.status).toBe(202);
    expect(res.body.devices).toBe(2);
    expect(payloads(await poll(t, bob))).toEqual(['ring']);
    expect(payloads(await poll(t, laptop))).toEqual(['ring']);
  });

  it('hands out the same signal on each device, naming the sending device', async () => {
    const sent = await send(t, alice, bob, { payload: 'ring' });
    const aliceDevice = await deviceIdOf(t, alice);
    for (const device of [bob, laptop]) {
      expect((await poll(t, device)).body.signals).toEqual([expect.objectContaining({ id: sent.body.id, from: alice.username, fromDevice: aliceDevice })]);
    }
  });

  it('with toDevice, reaches only that device', async () => {
    const res = await send(t, alice, bob, { toDevice: laptop.deviceId, payload: 'laptop only' });
    expect(res.status).toBe(202);
    expect(res.body.devices).toBe(1);
    expect(payloads(await poll(t, laptop))).toEqual(['laptop only']);
    expect(payloads(await poll(t, bob))).toEqual([]);
  });

  it('answers 404 not_found for a toDevice that is not a device of `to`, and stores nothing', async () => {
    const carol = await registerUser(t);
    const carolsDevice = await deviceIdOf(t, carol);
    const theirs = await send(t, alice, bob, { toDevice: carolsDevice });
    const madeUp = await send(t, alice, bob, { toDevice: 'no-such-device' });
    for (const res of [theirs, madeUp]) {
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
    expect(theirs.body).toEqual(madeUp.body);
    expect(payloads(await poll(t, carol))).toEqual([]);
    expect(payloads(await poll(t, bob))).toEqual([]);
    expect(payloads(await poll(t, laptop))).toEqual([]);
  });

  it('answers an unconnected `to` with toDevice 403 not_connected, as without it', async () => {
    const carol = await registerUser(t);
    const res = await send(t, alice, carol, { toDevice: await deviceIdOf(t, carol) });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('not_connected');
  });

  it('does not reach a device signed in after the send', async () => {
    await send(t, alice, bob, { payload: 'before' });
    const tablet = await signInDevice(t, bob, 'tablet');
    expect(payloads(await poll(t, tablet))).toEqual([]);
  });
});

describe('POST /signaling/send to oneself', () => {
  it("reaches the sender's other devices only, without any connection", async () => {
    const res = await send(t, bob, bob, { type: 'bye', payload: 'answered on the phone' });
    expect(res.status).toBe(202);
    expect(res.body.devices).toBe(1);
    expect(payloads(await poll(t, laptop))).toEqual(['answered on the phone']);
    expect(payloads(await poll(t, bob))).toEqual([]);
    expect(payloads(await poll(t, alice))).toEqual([]);
  });

  it('never delivers a signal to the device that sent it, whatever `to` says', async () => {
    await send(t, laptop, bob, { payload: 'from the laptop' });
    expect(payloads(await poll(t, laptop))).toEqual([]);
    expect(payloads(await poll(t, bob))).toEqual(['from the laptop']);
  });

  it('answers 404 for toDevice naming the sending device itself', async () => {
    const res = await send(t, bob, bob, { toDevice: await deviceIdOf(t, bob) });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });

  it('may name one of the own other devices', async () => {
    const tablet = await signInDevice(t, bob, 'tablet');
    const res = await send(t, bob, bob, { toDevice: tablet.deviceId, payload: 'tablet only' });
    expect(res.body.devices).toBe(1);
    expect(payloads(await poll(t, tablet))).toEqual(['tablet only']);
    expect(payloads(await poll(t, laptop))).toEqual([]);
  });
});

describe('POST /signaling/send with idempotencyKey', () => {
  it("answers a repeat with the first send's id, expiry and devices, and stores nothing new", async () => {
    const first = await send(t, alice, bob, { payload: 'once', idempotencyKey: 'k-1' });
    expect(first.status).toBe(202);
    t.clock.advance(10);
    const again = await send(t, alice, bob, { payload: 'once', idempotencyKey: 'k-1' });
    expect(again.status).toBe(202);
    expect(again.body).toEqual(first.body);
    expect(again.body.devices).toBe(2);
    expect(payloads(await poll(t, bob))).toEqual(['once']);
    expect(payloads(await poll(t, laptop))).toEqual(['once']);
  });

  it('stores a send with another key', async () => {
    const first = await send(t, alice, bob, { payload: 'one', idempotencyKey: 'k-1' });
    const second = await send(t, alice, bob, { payload: 'two', idempotencyKey: 'k-2' });
    expect(second.body.id).not.toBe(first.body.id);
    expect(payloads(await poll(t, bob))).toEqual(['one', 'two']);
  });

  it('keeps keys per sender: the same key from another sender is a new send', async () => {
    const carol = await registerUser(t);
    await connectQuietly(t, carol, bob);
    await clearMailbox(t, laptop); // the connection's events reached bob's laptop too
    const fromAlice = await send(t, alice, bob, { payload: 'from alice', idempotencyKey: 'same' });
    const fromCarol = await send(t, carol, bob, { payload: 'from carol', idempotencyKey: 'same' });
    expect(fromCarol.body.id).not.toBe(fromAlice.body.id);
    expect(payloads(await poll(t, laptop))).toEqual(['from alice', 'from carol']);
  });

  it.each([
    ['an empty idempotencyKey', { idempotencyKey: '' }],
    ['an idempotencyKey over 64 characters', { idempotencyKey: 'k'.repeat(65) }],
    ['an empty toDevice', { toDevice: '' }],
    ['a toDevice over 64 characters', { toDevice: 'd'.repeat(65) }],
    ['a numeric toDevice', { toDevice: 7 }],
  ])('refuses %s with 400 validation_failed', async (_label, body) => {
    const res = await send(t, alice, bob, body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
  });
});

describe('MAILBOX_MAX per device', () => {
  it('skips a full device and still delivers to the other, which then says devices: 1', async () => {
    for (let i = 0; i < 3; i++) expect((await send(t, alice, bob, { payload: `s${i}` })).status).toBe(202);
    await poll(t, laptop, { after: (await poll(t, laptop)).body.cursor }); // the laptop caught up; the phone did not
    const res = await send(t, alice, bob, { payload: 'to the laptop' });
    expect(res.status).toBe(202);
    expect(res.body.devices).toBe(1);
    expect(payloads(await poll(t, laptop))).toEqual(['to the laptop']);
    expect(payloads(await poll(t, bob))).toEqual(['s0', 's1', 's2']);
  });

  it('answers 429 mailbox_full only when every target device is full', async () => {
    for (let i = 0; i < 3; i++) await send(t, alice, bob, { payload: `s${i}` });
    const res = await send(t, alice, bob, { payload: 'no room anywhere' });
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe('mailbox_full');
  });

  it('answers 429 for toDevice naming a full device while another has room', async () => {
    for (let i = 0; i < 3; i++) await send(t, alice, bob, { payload: `s${i}` });
    await poll(t, laptop, { after: (await poll(t, laptop)).body.cursor });
    const res = await send(t, alice, bob, { toDevice: await deviceIdOf(t, bob) });
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe('mailbox_full');
  });
});

describe('acknowledging and clearing per device', () => {
  it("leaves the other device's copy when one device acknowledges", async () => {
    await send(t, alice, bob, { payload: 'both' });
    const { cursor } = (await poll(t, bob)).body;
    expect((await ack(bob, cursor)).status).toBe(204);
    expect(payloads(await poll(t, bob))).toEqual([]);
    expect(payloads(await poll(t, laptop))).toEqual(['both']);
  });

  it("leaves the other device's copy when one device acknowledges by polling with after", async () => {
    await send(t, alice, bob, { payload: 'both' });
    const { cursor } = (await poll(t, laptop)).body;
    expect(payloads(await poll(t, laptop, { after: cursor }))).toEqual([]);
    expect(payloads(await poll(t, bob))).toEqual(['both']);
  });

  it("leaves the other device's mailbox when one device clears its own", async () => {
    await send(t, alice, bob, { payload: 'both' });
    expect((await t.http.delete('/signaling/clear').set(bearer(laptop))).status).toBe(204);
    expect(payloads(await poll(t, laptop))).toEqual([]);
    expect(payloads(await poll(t, bob))).toEqual(['both']);
  });

  it("refuses a cursor of the user's other device with 400 and acknowledges nothing", async () => {
    await send(t, alice, bob, { payload: 'both' });
    const laptopCursor = (await poll(t, laptop)).body.cursor;
    const viaPoll = await poll(t, bob, { after: laptopCursor });
    const viaAck = await ack(bob, laptopCursor);
    for (const res of [viaPoll, viaAck]) {
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
    }
    expect(payloads(await poll(t, bob))).toEqual(['both']);
  });

  it('refuses a cursor from before v1.1 (bound to the user, not the device) with 400; a poll without `after` goes on', async () => {
    await send(t, alice, bob, { payload: 'kept' });
    const seq = Number((await poll(t, bob)).body.cursor.split('.')[0]);
    // v1.0's cursor: `<seq>.<mac>`, the MAC over `<userId>:<seq>` in the `signal-cursor` context.
    const v10 = `${seq}.${new FieldCipher(TEST_SECRETS.dataKey).blindIndex(`${bob.id}:${seq}`, 'signal-cursor').slice(0, 16)}`;
    const res = await poll(t, bob, { after: v10 });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(payloads(await poll(t, bob))).toEqual(['kept']);
  });
});
