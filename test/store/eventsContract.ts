import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from '@jest/globals';
import type { EventAudience, EventType, ServerEvent, Store } from '../../app/store/types.js';
import { freshStorePerTest, makePgpKey, makeSession, makeUser, type OpenedStore } from './contract.js';
import { at, HOUR } from './contractTime.js';

const TTL = 300_000;

/**
 * The contract of server events: the store writes them into the audience's device mailboxes in the
 * same transaction as the change that causes them, and only when the change happened.
 */
export function describeEventStoreContract(label: string, open: () => Promise<OpenedStore>): void {
  describe(`${label} store contract: server events`, () => {
    let store: Store;
    let alice: string;
    let bob: string;
    let alicePhone: string;
    let aliceTablet: string;
    let bobPhone: string;
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
      alicePhone = await addDevice(alice, at(-2));
      aliceTablet = await addDevice(alice, at(-1));
      bobPhone = await addDevice(bob);
    });

    const event = (type: EventType, to: EventAudience, payload = '{}', senderId = alice): ServerEvent => ({
      eventsMax: 100,
      entry: { id: randomUUID(), senderId, senderUsername: 'alice', senderDeviceId: null, type, payload, sessionId: null, createdAt: at(0), expiresAt: at(TTL) },
      to,
    });
    const types = async (deviceId: string) => (await store.signals.pending(deviceId, at(1), 100)).map((s) => s.type);
    const requestInput = (fromId = alice, toId = bob) => ({
      id: randomUUID(),
      fromId,
      toId,
      message: null,
      now: at(0),
      expiresAt: at(HOUR),
      maxPending: 10,
    });

    it('writes a request event into every device of its audience, and the change with it', async () => {
      const result = await store.connections.request(requestInput(), (r) => [
        event('connection.requested', { userId: bob }, JSON.stringify({ id: r.record.id })),
        event('connection.requested', { userId: alice, exceptDevice: alicePhone }),
      ]);
      expect(result.outcome).toBe('requested');
      const [entry] = await store.signals.pending(bobPhone, at(1), 10);
      expect(entry).toMatchObject({ type: 'connection.requested', senderId: alice, senderDeviceId: null, seq: 1 });
      expect(JSON.parse(entry!.payload)).toEqual({ id: result.outcome === 'requested' ? result.record.id : null });
      expect(await types(aliceTablet)).toEqual(['connection.requested']);
      expect(await types(alicePhone)).toEqual([]);
    });

    it('writes nothing when the change did not happen (already pending)', async () => {
      await store.connections.request(requestInput());
      let built = 0;
      const result = await store.connections.request(requestInput(), () => {
        built++;
        return [event('connection.requested', { userId: bob })];
      });
      expect(result.outcome).toBe('pending');
      expect(built).toBe(0);
      expect(await types(bobPhone)).toEqual([]);
    });

    it('rolls the change back when its events cannot be built: neither lands without the other', async () => {
      await expect(
        store.connections.request(requestInput(), () => {
          throw new Error('event builder failed');
        }),
      ).rejects.toThrow('event builder failed');
      expect(await store.connections.find(alice, bob, at(1))).toBeNull();
      expect(await types(bobPhone)).toEqual([]);
    });

    it('writes accept, reject and remove events only when each changed something', async () => {
      await store.connections.request(requestInput());
      const accepted = await store.connections.accept(alice, bob, at(1), (record) => [
        event('connection.accepted', { userId: alice }, JSON.stringify({ state: record.state }), bob),
      ]);
      expect(accepted?.state).toBe('accepted');
      expect(await store.connections.accept(alice, bob, at(1), () => [event('connection.accepted', { userId: alice })])).toBeNull();
      expect(await store.connections.reject(alice, bob, at(1), () => [event('connection.removed', { userId: alice })])).toBe(false);
      expect(await store.connections.remove(bob, alice, at(2), (what) => [event('connection.removed', { userId: alice }, JSON.stringify({ what }), bob)])).toBe(
        'connection',
      );
      expect(await store.connections.remove(bob, alice, at(2), () => [event('connection.removed', { userId: alice })])).toBeNull();
      const entries = await store.signals.pending(alicePhone, at(3), 10);
      expect(entries.map((e) => [e.type, JSON.parse(e.payload)])).toEqual([
        ['connection.accepted', { state: 'accepted' }],
        ['connection.removed', { what: 'connection' }],
      ]);
    });

    it('writes a reject event when a live request was turned down', async () => {
      await store.connections.request(requestInput());
      expect(await store.connections.reject(alice, bob, at(1), () => [event('connection.removed', { userId: alice }, '{}', bob)])).toBe(true);
      expect(await types(alicePhone)).toEqual(['connection.removed']);
    });

    it('writes crossing requests as an accept, with the events the builder gives for it', async () => {
      await store.connections.request(requestInput(alice, bob));
      const result = await store.connections.request(requestInput(bob, alice), (r) => [
        event(r.outcome === 'accepted' ? 'connection.accepted' : 'connection.requested', { userId: alice }, '{}', bob),
      ]);
      expect(result.outcome).toBe('accepted');
      expect(await types(alicePhone)).toEqual(['connection.accepted']);
    });

    it('sends a key change to every live device of every accepted connection, and nobody else', async () => {
      const carol = await addUser();
      const carolPhone = await addDevice(carol);
      const stranger = await addUser();
      const strangerPhone = await addDevice(stranger);
      const pending = await addUser();
      const pendingPhone = await addDevice(pending);
      for (const other of [bob, carol]) {
        await store.connections.request(requestInput(alice, other));
        await store.connections.accept(alice, other, at(0));
      }
      await store.connections.request(requestInput(alice, pending));
      expect(
        await store.users.setPgpKey(alice, makePgpKey(), () => [
          event('pgp.changed', { connectionsOf: alice }),
          event('pgp.changed', { userId: alice, exceptDevice: alicePhone }),
        ]),
      ).toBe(true);
      expect(await types(bobPhone)).toEqual(['pgp.changed']);
      expect(await types(carolPhone)).toEqual(['pgp.changed']);
      expect(await types(aliceTablet)).toEqual(['pgp.changed']);
      expect(await types(strangerPhone)).toEqual([]);
      expect(await types(pendingPhone)).toEqual([]);
      expect(await types(alicePhone)).toEqual([]);
    });

    it('writes no key event for an unknown user', async () => {
      expect(await store.users.setPgpKey('no-such-user', null, () => [event('pgp.changed', { userId: bob })])).toBe(false);
      expect(await types(bobPhone)).toEqual([]);
    });

    it('never refuses an event for a full mailbox, and numbers it after the signals before it', async () => {
      for (let i = 0; i < 2; i++) {
        await store.signals.send({
          signal: {
            id: randomUUID(),
            senderId: alice,
            senderUsername: 'alice',
            senderDeviceId: alicePhone,
            type: 'offer',
            payload: `s${i}`,
            sessionId: null,
            createdAt: at(0),
            expiresAt: at(TTL),
          },
          toUserId: bob,
          now: at(0),
          limits: { max: 2, perSender: 2 },
        });
      }
      await store.users.setPgpKey(alice, null, () => [event('pgp.changed', { userId: bob })]);
      expect((await store.signals.pending(bobPhone, at(1), 10)).map((e) => [e.seq, e.type])).toEqual([
        [1, 'offer'],
        [2, 'offer'],
        [3, 'pgp.changed'],
      ]);
    });

    it('wakes the devices that received events', async () => {
      const seen: Array<readonly string[]> = [];
      store.signals.onArrival((devices) => seen.push(devices));
      await store.connections.request(requestInput(), () => [
        event('connection.requested', { userId: bob }),
        event('connection.requested', { userId: alice, exceptDevice: alicePhone }),
      ]);
      expect(seen.flat().sort()).toEqual([aliceTablet, bobPhone].sort());
    });
  });
}
