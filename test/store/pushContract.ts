import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from '@jest/globals';
import type { PushSubscriptionRecord, Store } from '../../app/store/types.js';
import { freshStorePerTest, makeSession, makeUser, type OpenedStore } from './contract.js';
import { at, HOUR } from './contractTime.js';

/** The PushSubscriptionStore contract (docs/push.md): one subscription per live device, gone with it. */
export function describePushStoreContract(label: string, open: () => Promise<OpenedStore>): void {
  describe(`${label} store contract: push subscriptions`, () => {
    let store: Store;
    let bob: string;
    let phone: string;
    let tablet: string;
    freshStorePerTest(open, (s) => (store = s));

    const addDevice = async (userId: string) => {
      const s = makeSession(userId);
      await store.sessions.create(s, `refresh_${randomUUID()}`);
      return s.id;
    };
    const record = (deviceId: string, overrides: Partial<PushSubscriptionRecord> = {}): PushSubscriptionRecord => ({
      deviceId,
      userId: bob,
      kind: 'webpush',
      targetEnc: `v1.target_${randomUUID()}`,
      createdAt: at(0),
      ...overrides,
    });

    beforeEach(async () => {
      const u = makeUser();
      await store.users.create(u);
      bob = u.id;
      phone = await addDevice(bob);
      tablet = await addDevice(bob);
    });

    it('stores a subscription and reads it back whole', async () => {
      const r = record(phone, { kind: 'gateway' });
      expect(await store.pushSubscriptions.put(r, at(1))).toBe(true);
      expect(await store.pushSubscriptions.find(phone)).toEqual(r);
      expect(await store.pushSubscriptions.find(tablet)).toBeNull();
    });

    it('keeps one per device: a second put replaces the first', async () => {
      await store.pushSubscriptions.put(record(phone), at(1));
      const newer = record(phone, { createdAt: at(5) });
      await store.pushSubscriptions.put(newer, at(6));
      expect(await store.pushSubscriptions.find(phone)).toEqual(newer);
      expect(await store.pushSubscriptions.findMany([phone, tablet])).toEqual([newer]);
    });

    it('finds those of several devices that have one', async () => {
      const [a, b] = [record(phone), record(tablet)];
      await store.pushSubscriptions.put(a, at(1));
      await store.pushSubscriptions.put(b, at(1));
      const found = await store.pushSubscriptions.findMany([phone, tablet, 'no-such-device']);
      expect(found.sort((x, y) => x.deviceId.localeCompare(y.deviceId))).toEqual([a, b].sort((x, y) => x.deviceId.localeCompare(y.deviceId)));
      expect(await store.pushSubscriptions.findMany([])).toEqual([]);
    });

    it("refuses a device that is not the user's live session", async () => {
      const other = makeUser();
      await store.users.create(other);
      const theirs = await addDevice(other.id);
      expect(await store.pushSubscriptions.put(record(theirs), at(1))).toBe(false);
      expect(await store.pushSubscriptions.put(record('no-such-device'), at(1))).toBe(false);
      expect(await store.pushSubscriptions.put(record(phone), at(HOUR + 1))).toBe(false); // expired
      expect(await store.pushSubscriptions.find(theirs)).toBeNull();
    });

    it('deletes, and with a target only while it is still that one', async () => {
      const first = record(phone);
      await store.pushSubscriptions.put(first, at(1));
      const second = record(phone);
      await store.pushSubscriptions.put(second, at(2));
      expect(await store.pushSubscriptions.delete(phone, first.targetEnc)).toBe(false);
      expect(await store.pushSubscriptions.find(phone)).toEqual(second);
      expect(await store.pushSubscriptions.delete(phone, second.targetEnc)).toBe(true);
      expect(await store.pushSubscriptions.delete(phone)).toBe(false);
    });

    it('ends with the session', async () => {
      await store.pushSubscriptions.put(record(phone), at(1));
      await store.sessions.delete(phone);
      expect(await store.pushSubscriptions.find(phone)).toBeNull();
      expect(await store.pushSubscriptions.findMany([phone])).toEqual([]);
    });

    it('ends with the account', async () => {
      await store.pushSubscriptions.put(record(phone), at(1));
      await store.users.delete(bob);
      expect(await store.pushSubscriptions.find(phone)).toBeNull();
    });

    it('owes a wake-up to each subscribed device with unexpired entries waiting, with how many', async () => {
      await store.pushSubscriptions.put(record(phone), at(1));
      const sender = makeUser();
      await store.users.create(sender);
      const entry = (id: string) => ({
        id,
        senderId: sender.id,
        senderUsername: sender.username,
        senderDeviceId: null,
        type: 'offer' as const,
        payload: 'x',
        sessionId: null,
        createdAt: at(0),
        expiresAt: at(60_000),
      });
      expect(await store.pushSubscriptions.owed(at(1))).toEqual([]);
      for (const id of ['s1', 's2']) await store.signals.send({ signal: entry(id), toUserId: bob, now: at(0), limits: { max: 10, perSender: 10 } });
      // the tablet has entries too, but no subscription
      expect(await store.pushSubscriptions.owed(at(1))).toEqual([{ deviceId: phone, count: 2 }]);
      expect(await store.pushSubscriptions.owed(at(60_001))).toEqual([]); // expired
    });
  });
}
