import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from '@jest/globals';
import type { EventAudience, EventType, ServerEvent, Store } from '../../app/store/types.js';
import { freshStorePerTest, makeSession, makeUser, type OpenedStore } from './contract.js';
import { at, HOUR } from './contractTime.js';

const TTL = 300_000;

/**
 * The bounds for server events (docs/security.md, "Mailbox bounds for strangers"): events count apart
 * from signals, each device keeps at most `eventsMax` pending events (the oldest go), a request's
 * `connection.requested` replaces the device's pending one of the same pair, and the `connection.removed`
 * of a request the device never took out (still pending there) removes both.
 */
export function describeEventBoundsContract(label: string, open: () => Promise<OpenedStore>): void {
  describe(`${label} store contract: bounds for server events`, () => {
    let store: Store;
    let alice: string;
    let bob: string;
    let bobPhone: string;
    let bobLaptop: string;
    freshStorePerTest(open, (s) => (store = s));

    const addUser = async () => {
      const u = makeUser();
      await store.users.create(u);
      return u.id;
    };
    const addDevice = async (userId: string, createdAt = at(-1)) => {
      const s = makeSession(userId, { createdAt });
      await store.sessions.create(s, `refresh_${randomUUID()}`);
      return s.id;
    };
    beforeEach(async () => {
      [alice, bob] = [await addUser(), await addUser()];
      await addDevice(alice);
      bobPhone = await addDevice(bob, at(-2));
      bobLaptop = await addDevice(bob, at(-1));
    });

    const PAIR = 'pair-alice-bob';
    const event = (type: EventType, payload: string, o: { eventsMax?: number; requestPair?: string; to?: EventAudience; time?: number } = {}): ServerEvent => ({
      entry: {
        id: randomUUID(),
        senderId: alice,
        senderUsername: 'alice',
        senderDeviceId: null,
        type,
        payload,
        sessionId: null,
        createdAt: at(o.time ?? 0),
        expiresAt: at((o.time ?? 0) + TTL),
      },
      to: o.to ?? { userId: bob },
      eventsMax: o.eventsMax ?? 100,
      ...(o.requestPair === undefined ? {} : { requestPair: o.requestPair }),
    });
    /** Writes `events` with a change that always happens (alice's key removed), as any change's events are written. */
    const write = async (...events: ServerEvent[]) => {
      expect(await store.users.setPgpKey(alice, null, () => events)).toBe(true);
    };
    const entries = async (deviceId: string, now = at(1)) => (await store.signals.pending(deviceId, now, 500)).map((e) => `${e.type} ${e.payload}`);
    const sendSignal = (payload: string, limits = { max: 2, perSender: 2 }) =>
      store.signals.send({
        signal: {
          id: randomUUID(),
          senderId: alice,
          senderUsername: 'alice',
          senderDeviceId: 'alice-device',
          type: 'offer',
          payload,
          sessionId: null,
          createdAt: at(0),
          expiresAt: at(TTL),
        },
        toUserId: bob,
        now: at(0),
        limits,
      });

    it('counts events apart from signals: a device full of events still takes MAILBOX_MAX signals', async () => {
      for (let i = 0; i < 3; i++) await write(event('pgp.changed', `e${i}`));
      expect((await sendSignal('s0')).outcome).toBe('stored');
      expect((await sendSignal('s1')).outcome).toBe('stored');
      expect(await sendSignal('s2')).toEqual({ outcome: 'refused', reason: 'mailbox_full' });
      expect((await entries(bobPhone)).filter((e) => e.startsWith('offer'))).toEqual(['offer s0', 'offer s1']);
    });

    it("does not count events against the sender's share (MAILBOX_PER_SENDER)", async () => {
      for (let i = 0; i < 3; i++) await write(event('pgp.changed', `e${i}`));
      expect((await sendSignal('s0', { max: 10, perSender: 1 })).outcome).toBe('stored');
    });

    it('keeps at most eventsMax pending events per device, dropping the oldest, and never a signal', async () => {
      await sendSignal('s0');
      for (let i = 0; i < 5; i++) await write(event('pgp.changed', `e${i}`, { eventsMax: 3 }));
      for (const device of [bobPhone, bobLaptop]) expect(await entries(device)).toEqual(['offer s0', 'pgp.changed e2', 'pgp.changed e3', 'pgp.changed e4']);
    });

    it("replaces the device's pending connection.requested of the same pair", async () => {
      await write(event('connection.requested', 'first', { requestPair: PAIR }));
      await write(event('connection.requested', 'second', { requestPair: PAIR }));
      expect(await entries(bobPhone)).toEqual(['connection.requested second']);
    });

    it('leaves the requests of other pairs, and other events, alone', async () => {
      await write(event('connection.requested', 'other pair', { requestPair: 'pair-carol-bob' }), event('pgp.changed', 'key'));
      await write(event('connection.requested', 'mine', { requestPair: PAIR }));
      await write(event('connection.removed', 'cancelled', { requestPair: PAIR }));
      expect(await entries(bobPhone)).toEqual(['connection.requested other pair', 'pgp.changed key']);
    });

    it('removes both when a request is removed before the device took it out, and writes the removal where it did', async () => {
      await write(event('connection.requested', 'asked', { requestPair: PAIR }));
      const [requested] = await store.signals.pending(bobPhone, at(1), 10);
      await store.signals.ack(bobPhone, requested!.seq);
      await write(event('connection.removed', 'cancelled', { requestPair: PAIR }));
      expect(await entries(bobPhone)).toEqual(['connection.removed cancelled']);
      expect(await entries(bobLaptop)).toEqual([]);
    });

    it('writes the removal where the request already expired unread', async () => {
      await write(event('connection.requested', 'asked', { requestPair: PAIR, time: -TTL }));
      await write(event('connection.removed', 'cancelled', { requestPair: PAIR }));
      expect(await entries(bobPhone)).toEqual(['connection.removed cancelled']);
    });

    it('writes a removal without a pair (a connection removed) as any event', async () => {
      await write(event('connection.requested', 'asked', { requestPair: PAIR }));
      await write(event('connection.removed', 'unfriended'));
      expect(await entries(bobPhone)).toEqual(['connection.requested asked', 'connection.removed unfriended']);
    });

    it('applies the rules inside the change: a cancelled request leaves nothing in the mailbox it never reached', async () => {
      const input = { id: randomUUID(), fromId: alice, toId: bob, message: null, now: at(0), expiresAt: at(HOUR), maxPending: 10 };
      await store.connections.request(input, () => [event('connection.requested', 'asked', { requestPair: PAIR })]);
      expect(await store.connections.remove(alice, bob, at(1), () => [event('connection.removed', 'cancelled', { requestPair: PAIR })])).toBe('request');
      expect(await entries(bobPhone, at(2))).toEqual([]);
      expect(await store.connections.find(alice, bob, at(2))).toBeNull();
    });

    it('wakes only the devices an event was written to', async () => {
      await write(event('connection.requested', 'asked', { requestPair: PAIR }));
      const [requested] = await store.signals.pending(bobPhone, at(1), 10);
      await store.signals.ack(bobPhone, requested!.seq);
      const seen: Array<readonly string[]> = [];
      store.signals.onArrival((devices) => seen.push(devices));
      await write(event('connection.removed', 'cancelled', { requestPair: PAIR }));
      expect(seen.flat()).toEqual([bobPhone]);
    });
  });
}
