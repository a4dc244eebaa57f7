import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from '@jest/globals';
import type { MailboxEntry, SendInput, Store } from '../../app/store/types.js';
import { freshStorePerTest, makeSession, makeUser, type OpenedStore } from './contract.js';
import { at } from './contractTime.js';

const TTL = 300_000;

/** The contract of the per-device mailboxes (signals), for one adapter. */
export function describeSignalStoreContract(label: string, open: () => Promise<OpenedStore>): void {
  describe(`${label} store contract: signals`, () => {
    let store: Store;
    let alice: string;
    let bob: string;
    /** Alice's device (the sender's) and a second device of hers. */
    let alicePhone: string;
    let aliceTablet: string;
    /** Bob's two devices, the phone signed in first. */
    let bobPhone: string;
    let bobTablet: string;
    freshStorePerTest(open, (s) => (store = s));

    const addUser = async () => {
      const u = makeUser();
      await store.users.create(u);
      return u.id;
    };
    const addDevice = async (userId: string, overrides: Parameters<typeof makeSession>[1] = {}) => {
      const s = makeSession(userId, overrides);
      await store.sessions.create(s, `refresh_${randomUUID()}`);
      return s.id;
    };

    beforeEach(async () => {
      [alice, bob] = [await addUser(), await addUser()];
      alicePhone = await addDevice(alice, { createdAt: at(-3) });
      aliceTablet = await addDevice(alice, { createdAt: at(-2) });
      bobPhone = await addDevice(bob, { createdAt: at(-3) });
      bobTablet = await addDevice(bob, { createdAt: at(-2) });
    });

    const signal = (payload: string, createdAt = at(0), senderId = alice, senderDeviceId: string | null = alicePhone): MailboxEntry => ({
      id: randomUUID(),
      senderId,
      senderUsername: 'alice',
      senderDeviceId,
      type: 'offer',
      payload,
      sessionId: null,
      createdAt,
      expiresAt: new Date(createdAt.getTime() + TTL),
    });
    /** MAILBOX_MAX and MAILBOX_PER_SENDER; the share is the whole mailbox unless a test narrows it. */
    const limits = (max = 100, perSender = max) => ({ max, perSender });
    /** Alice's phone sends to bob (every device unless `extra` narrows it). */
    const send = (payload: string, extra: Partial<SendInput> = {}) => {
      const now = extra.now ?? at(0);
      return store.signals.send({ signal: signal(payload, now), toUserId: bob, now, limits: limits(), ...extra });
    };
    const payloads = async (deviceId: string, now = at(1)) => (await store.signals.pending(deviceId, now, 100)).map((s) => s.payload);

    describe('fan-out', () => {
      it('stores a signal in every live device of the recipient and names them', async () => {
        const result = await send('hello');
        expect(result).toEqual({ outcome: 'stored', devices: [bobPhone, bobTablet] });
        expect(await payloads(bobPhone)).toEqual(['hello']);
        expect(await payloads(bobTablet)).toEqual(['hello']);
      });

      it('returns each copy whole, with the same id and the sending device', async () => {
        const s = { ...signal('whole'), sessionId: 'call-1', type: 'ice' as const };
        await store.signals.send({ signal: s, toUserId: bob, now: at(0), limits: limits() });
        expect(await store.signals.pending(bobPhone, at(1), 10)).toEqual([{ ...s, seq: 1 }]);
        expect(await store.signals.pending(bobTablet, at(1), 10)).toEqual([{ ...s, seq: 1 }]);
      });

      it('never delivers a signal to the device that sent it: to oneself, only the other devices get it', async () => {
        const result = await send('stop ringing', { toUserId: alice });
        expect(result).toEqual({ outcome: 'stored', devices: [aliceTablet] });
        expect(await payloads(alicePhone)).toEqual([]);
        expect(await payloads(aliceTablet)).toEqual(['stop ringing']);
      });

      it('with toDevice, stores it in that device only', async () => {
        expect(await send('just you', { toDevice: bobTablet })).toEqual({ outcome: 'stored', devices: [bobTablet] });
        expect(await payloads(bobPhone)).toEqual([]);
        expect(await payloads(bobTablet)).toEqual(['just you']);
      });

      it('answers no_device for a toDevice that is not a live device of the recipient, storing nothing', async () => {
        const expired = await addDevice(bob, { expiresAt: at(0) });
        for (const toDevice of [aliceTablet, alicePhone, expired, 'no-such-device']) {
          expect(await send('nowhere', { toDevice })).toEqual({ outcome: 'no_device' });
        }
        expect(await send('own device', { toUserId: alice, toDevice: alicePhone })).toEqual({ outcome: 'no_device' });
        expect(await store.signals.countPending(at(1))).toBe(0);
      });

      it('skips devices whose session has expired', async () => {
        const old = await addDevice(bob, { expiresAt: at(0) });
        expect(await send('fresh')).toEqual({ outcome: 'stored', devices: [bobPhone, bobTablet] });
        expect(await payloads(old, at(-1))).toEqual([]);
      });

      it('stores nothing (and says so) for a user with no other live device', async () => {
        const loner = await addUser();
        expect(await send('anyone?', { toUserId: loner })).toEqual({ outcome: 'stored', devices: [] });
        const soloDevice = await addDevice(loner);
        const selfSend = await store.signals.send({ signal: signal('me?', at(0), loner, soloDevice), toUserId: loner, now: at(0), limits: limits() });
        expect(selfSend).toEqual({ outcome: 'stored', devices: [] });
      });
    });

    describe('per-device numbering and acknowledgement', () => {
      it('numbers entries 1, 2, 3 per device, each device on its own sequence', async () => {
        await send('a', { toDevice: bobPhone });
        await send('b');
        await send('c');
        expect((await store.signals.pending(bobPhone, at(1), 10)).map((s) => [s.seq, s.payload])).toEqual([
          [1, 'a'],
          [2, 'b'],
          [3, 'c'],
        ]);
        expect((await store.signals.pending(bobTablet, at(1), 10)).map((s) => [s.seq, s.payload])).toEqual([
          [1, 'b'],
          [2, 'c'],
        ]);
      });

      it('acknowledges on one device without touching the copy on another', async () => {
        await send('a');
        await send('b');
        expect(await store.signals.ack(bobPhone, 2)).toBe(2);
        expect(await payloads(bobPhone)).toEqual([]);
        expect(await payloads(bobTablet)).toEqual(['a', 'b']);
      });

      it('acknowledges up to and including a sequence number only', async () => {
        for (const p of ['a', 'b', 'c']) await send(p);
        expect(await store.signals.ack(bobPhone, 2)).toBe(2);
        expect(await payloads(bobPhone)).toEqual(['c']);
      });

      it('never reuses a sequence number after acknowledgement', async () => {
        await send('a', { toDevice: bobPhone });
        await send('b', { toDevice: bobPhone });
        await store.signals.ack(bobPhone, 2);
        await send('c', { toDevice: bobPhone });
        expect((await store.signals.pending(bobPhone, at(1), 10)).map((s) => s.seq)).toEqual([3]);
      });

      it('numbers concurrent sends uniquely and without gaps on every device, in the same order on each', async () => {
        await Promise.all(Array.from({ length: 30 }, (_, i) => send(`p${i}`)));
        const phone = await store.signals.pending(bobPhone, at(1), 100);
        const tablet = await store.signals.pending(bobTablet, at(1), 100);
        expect(phone.map((s) => s.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
        expect(tablet.map((s) => s.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
        expect(tablet.map((s) => s.id)).toEqual(phone.map((s) => s.id));
      });

      it('hides expired entries and limits how many one read returns', async () => {
        for (const p of ['a', 'b', 'c']) await send(p);
        expect((await store.signals.pending(bobPhone, at(1), 2)).map((s) => s.payload)).toEqual(['a', 'b']);
        expect(await payloads(bobPhone, at(TTL))).toEqual([]);
      });

      it("clears one device's mailbox and says how many went", async () => {
        await send('a');
        await send('b');
        expect(await store.signals.clear(bobPhone)).toBe(2);
        expect(await payloads(bobPhone)).toEqual([]);
        expect(await payloads(bobTablet)).toEqual(['a', 'b']);
      });
    });

    describe('caps, per device', () => {
      const fill = async (deviceId: string, n: number, senderId = alice) => {
        for (let i = 0; i < n; i++) {
          await store.signals.send({ signal: signal(`fill${i}`, at(0), senderId, null), toUserId: bob, toDevice: deviceId, now: at(0), limits: limits() });
        }
      };

      it('skips a full device and still delivers to the others', async () => {
        await fill(bobPhone, 2);
        expect(await send('past the cap', { limits: limits(2) })).toEqual({ outcome: 'stored', devices: [bobTablet] });
        expect(await payloads(bobPhone)).toEqual(['fill0', 'fill1']);
      });

      it('refuses (storing nothing) when every target device is full: mailbox_full', async () => {
        await fill(bobPhone, 2);
        await fill(bobTablet, 2);
        expect(await send('no room', { limits: limits(2) })).toEqual({ outcome: 'refused', reason: 'mailbox_full' });
        expect(await store.signals.countPending(at(1))).toBe(4);
      });

      it("refuses with sender_share once the sender holds its share of the device's mailbox", async () => {
        await fill(bobTablet, 1);
        expect(await send('b', { toDevice: bobTablet, limits: limits(100, 1) })).toEqual({ outcome: 'refused', reason: 'sender_share' });
        const carol = await addUser();
        const fromCarol = await store.signals.send({
          signal: signal('carol', at(0), carol, null),
          toUserId: bob,
          toDevice: bobTablet,
          now: at(0),
          limits: limits(100, 1),
        });
        expect(fromCarol).toEqual({ outcome: 'stored', devices: [bobTablet] });
      });

      it('answers mailbox_full when both the mailbox and the sender share are full', async () => {
        await fill(bobTablet, 1);
        expect(await send('b', { toDevice: bobTablet, limits: limits(1, 1) })).toEqual({ outcome: 'refused', reason: 'mailbox_full' });
      });

      it('does not count expired entries against either cap, and gives room back on acknowledgement', async () => {
        await fill(bobTablet, 1);
        expect(await send('later', { toDevice: bobTablet, now: at(TTL), limits: limits(1, 1) })).toEqual({ outcome: 'stored', devices: [bobTablet] });
        await store.signals.ack(bobTablet, 2);
        expect(await send('again', { toDevice: bobTablet, now: at(TTL), limits: limits(1, 1) })).toEqual({ outcome: 'stored', devices: [bobTablet] });
      });
    });

    describe('idempotency keys', () => {
      it('answers a repeat with the first send and stores nothing new', async () => {
        const first = signal('once');
        expect(await store.signals.send({ signal: first, toUserId: bob, idempotencyKey: 'k1', now: at(0), limits: limits() })).toEqual({
          outcome: 'stored',
          devices: [bobPhone, bobTablet],
        });
        const again = await store.signals.send({ signal: signal('once'), toUserId: bob, idempotencyKey: 'k1', now: at(5), limits: limits() });
        expect(again).toEqual({ outcome: 'repeat', id: first.id, expiresAt: first.expiresAt, devices: 2 });
        expect(await payloads(bobPhone)).toEqual(['once']);
      });

      it('keeps keys per sender, and forgets a key once its signal expired', async () => {
        await send('a', { idempotencyKey: 'k' });
        const carol = await addUser();
        const fromCarol = await store.signals.send({ signal: signal('c', at(0), carol, null), toUserId: bob, idempotencyKey: 'k', now: at(0), limits: limits() });
        expect(fromCarol.outcome).toBe('stored');
        expect((await send('b', { idempotencyKey: 'k', now: at(TTL) })).outcome).toBe('stored');
      });

      it('lets exactly one of concurrent sends with the same key store the signal', async () => {
        const results = await Promise.all(Array.from({ length: 10 }, () => send('race', { idempotencyKey: 'same' })));
        expect(results.filter((r) => r.outcome === 'stored')).toHaveLength(1);
        expect(await payloads(bobPhone)).toEqual(['race']);
      });

      it('does not remember a key whose send was refused', async () => {
        expect(await send('x', { toDevice: 'nope', idempotencyKey: 'k' })).toEqual({ outcome: 'no_device' });
        expect((await send('y', { idempotencyKey: 'k' })).outcome).toBe('stored');
      });
    });

    describe('lifetime', () => {
      it('counts unexpired entries across mailboxes and purges expired ones', async () => {
        await send('old');
        await send('new', { now: at(TTL - 1) });
        expect(await store.signals.countPending(at(1))).toBe(4);
        expect(await store.signals.purgeExpired(at(TTL))).toBe(2);
        expect(await payloads(bobPhone, at(TTL))).toEqual(['new']);
      });

      it('ends a device mailbox with its session', async () => {
        await send('a');
        await store.sessions.delete(bobTablet);
        expect(await store.signals.countPending(at(1))).toBe(1);
        expect(await payloads(bobTablet)).toEqual([]);
      });

      it("drops a deleted user's mailboxes and the signals they sent", async () => {
        await send('from alice');
        await store.signals.send({ signal: signal('from bob', at(0), bob, bobPhone), toUserId: alice, now: at(0), limits: limits() });
        await store.users.delete(alice);
        expect(await store.signals.countPending(at(1))).toBe(0);
      });
    });

    describe('arrivals', () => {
      it('tells listeners which devices received a send, once what woke them can be read', async () => {
        const seen: Array<{ devices: readonly string[]; pending: Promise<string[]> }> = [];
        const stop = store.signals.onArrival((devices) => seen.push({ devices, pending: payloads(devices[0]!) }));
        await send('wake');
        stop();
        await send('not heard');
        expect(seen.map((s) => s.devices)).toEqual([[bobPhone, bobTablet]]);
        expect(await seen[0]!.pending).toEqual(['wake']);
      });

      it('tells nobody about a refused, repeated or deviceless send', async () => {
        const seen: Array<readonly string[]> = [];
        store.signals.onArrival((devices) => seen.push(devices));
        await send('k', { idempotencyKey: 'k' });
        await send('k', { idempotencyKey: 'k' });
        await send('x', { toDevice: 'nope' });
        expect(seen).toEqual([[bobPhone, bobTablet]]);
      });
    });
  });
}
