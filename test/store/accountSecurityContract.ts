import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from '@jest/globals';
import type { SecurityEventRecord, ServerEvent, Store } from '../../app/store/types.js';
import { freshStorePerTest, makeSession, makeUser, type OpenedStore } from './contract.js';
import { at, HOUR } from './contractTime.js';

/**
 * The contract of what guards an account: 2FA recovery codes (each spent once, whatever the race), the
 * per-account security log (newest first, expiring, gone with the account) and the one key backup per
 * account (its server event in the same write).
 */
export function describeAccountSecurityContract(label: string, open: () => Promise<OpenedStore>): void {
  describe(`${label} store contract: 2FA recovery codes, security log, key backup`, () => {
    let store: Store;
    let alice: string;
    let alicePhone: string;
    let aliceTablet: string;
    freshStorePerTest(open, (s) => (store = s));
    beforeEach(async () => {
      const u = makeUser();
      await store.users.create(u);
      alice = u.id;
      const [phone, tablet] = [makeSession(alice, { createdAt: at(-2) }), makeSession(alice, { createdAt: at(-1) })];
      await store.sessions.create(phone, `refresh_${randomUUID()}`);
      await store.sessions.create(tablet, `refresh_${randomUUID()}`);
      [alicePhone, aliceTablet] = [phone.id, tablet.id];
    });

    const enabledWith = async (hashes: string[]) => {
      expect(await store.twoFactor.setPending(alice, 'secret')).toBe(true);
      expect(await store.twoFactor.enable(alice, 1, hashes)).toBe(true);
    };

    describe('recovery codes', () => {
      it('are stored with the factor and each is spent once', async () => {
        await enabledWith(['h1', 'h2', 'h3']);
        expect(await store.twoFactor.countRecoveryCodes(alice)).toBe(3);
        expect(await store.twoFactor.useRecoveryCode(alice, 'h2')).toBe(true);
        expect(await store.twoFactor.useRecoveryCode(alice, 'h2')).toBe(false);
        expect(await store.twoFactor.useRecoveryCode(alice, 'nope')).toBe(false);
        expect(await store.twoFactor.countRecoveryCodes(alice)).toBe(2);
      });

      it('let exactly one of concurrent uses of one code through', async () => {
        await enabledWith(['h1']);
        const results = await Promise.all(Array.from({ length: 8 }, () => store.twoFactor.useRecoveryCode(alice, 'h1')));
        expect(results.filter(Boolean)).toHaveLength(1);
      });

      it('are not stored when there is no pending factor to enable', async () => {
        expect(await store.twoFactor.enable(alice, 1, ['h1'])).toBe(false);
        expect(await store.twoFactor.useRecoveryCode(alice, 'h1')).toBe(false);
        expect(await store.twoFactor.countRecoveryCodes(alice)).toBe(0);
      });

      it('go with the factor, and a new factor has only its own', async () => {
        await enabledWith(['old']);
        expect(await store.twoFactor.delete(alice)).toBe(true);
        expect(await store.twoFactor.useRecoveryCode(alice, 'old')).toBe(false);
        await enabledWith(['new']);
        expect(await store.twoFactor.useRecoveryCode(alice, 'old')).toBe(false);
        expect(await store.twoFactor.useRecoveryCode(alice, 'new')).toBe(true);
      });
    });

    describe('security log', () => {
      const entry = (overrides: Partial<SecurityEventRecord> = {}): SecurityEventRecord => ({
        id: randomUUID(),
        userId: alice,
        type: 'login',
        at: at(0),
        deviceId: alicePhone,
        platformEnc: 'platform_enc',
        networkEnc: 'network_enc',
        actor: 'user',
        expiresAt: at(HOUR),
        ...overrides,
      });

      it('lists the entries newest first, every field as stored, ties in the order written', async () => {
        const first = entry({ type: 'login', at: at(0) });
        const tieA = entry({ type: 'logout', at: at(5), deviceId: null, platformEnc: null, networkEnc: null, actor: 'admin' });
        const tieB = entry({ type: 'password.changed', at: at(5) });
        for (const e of [first, tieA, tieB]) await store.securityEvents.add(e);
        expect(await store.securityEvents.list(alice, at(10), 10)).toEqual([tieB, tieA, first]);
      });

      it('answers at most `limit`, the newest', async () => {
        for (let i = 0; i < 5; i++) await store.securityEvents.add(entry({ at: at(i) }));
        expect((await store.securityEvents.list(alice, at(10), 2)).map((e) => e.at)).toEqual([at(4), at(3)]);
      });

      it('hides expired entries and purges them', async () => {
        await store.securityEvents.add(entry({ expiresAt: at(10) }));
        const kept = entry({ expiresAt: at(HOUR) });
        await store.securityEvents.add(kept);
        expect(await store.securityEvents.list(alice, at(10), 10)).toEqual([kept]);
        expect(await store.securityEvents.purgeExpired(at(10))).toBe(1);
        expect(await store.securityEvents.list(alice, at(0), 10)).toEqual([kept]);
      });

      it("lists only the user's own entries, and they go with the account", async () => {
        const bob = makeUser();
        await store.users.create(bob);
        await store.securityEvents.add(entry());
        await store.securityEvents.add(entry({ userId: bob.id }));
        expect(await store.securityEvents.list(bob.id, at(1), 10)).toHaveLength(1);
        await store.users.delete(alice);
        expect(await store.securityEvents.list(alice, at(1), 10)).toEqual([]);
        expect(await store.securityEvents.list(bob.id, at(1), 10)).toHaveLength(1);
      });

      it('keeps nothing for a user that does not exist, without an error', async () => {
        const ghost = randomUUID();
        await expect(store.securityEvents.add(entry({ userId: ghost }))).resolves.toBeUndefined();
        expect(await store.securityEvents.list(ghost, at(1), 10)).toEqual([]);
      });
    });

    describe('key backup', () => {
      const told = (): ServerEvent[] => [
        {
          entry: {
            id: randomUUID(),
            senderId: alice,
            senderUsername: 'alice',
            senderDeviceId: null,
            type: 'key-backup.changed',
            payload: '{}',
            sessionId: null,
            createdAt: at(0),
            expiresAt: at(HOUR),
          },
          to: { userId: alice, exceptDevice: alicePhone },
          eventsMax: 100,
        },
      ];
      const pendingTypes = async (deviceId: string) => (await store.signals.pending(deviceId, at(1), 10)).map((s) => s.type);

      it('stores, replaces and deletes one backup per account', async () => {
        expect(await store.keyBackups.get(alice)).toBeNull();
        expect(await store.keyBackups.put({ userId: alice, backup: 'one', updatedAt: at(0) })).toBe(true);
        expect(await store.keyBackups.put({ userId: alice, backup: 'two', updatedAt: at(5) })).toBe(true);
        expect(await store.keyBackups.get(alice)).toEqual({ userId: alice, backup: 'two', updatedAt: at(5) });
        expect(await store.keyBackups.delete(alice)).toBe(true);
        expect(await store.keyBackups.delete(alice)).toBe(false);
        expect(await store.keyBackups.get(alice)).toBeNull();
      });

      it('writes its events with the change, to the audience only', async () => {
        expect(await store.keyBackups.put({ userId: alice, backup: 'one', updatedAt: at(0) }, told)).toBe(true);
        expect(await pendingTypes(aliceTablet)).toEqual(['key-backup.changed']);
        expect(await pendingTypes(alicePhone)).toEqual([]);
        expect(await store.keyBackups.delete(alice, told)).toBe(true);
        expect(await pendingTypes(aliceTablet)).toEqual(['key-backup.changed', 'key-backup.changed']);
      });

      it('writes no events when nothing changed: a deletion of none, a backup for nobody', async () => {
        expect(await store.keyBackups.delete(alice, told)).toBe(false);
        expect(await store.keyBackups.put({ userId: randomUUID(), backup: 'x', updatedAt: at(0) }, told)).toBe(false);
        expect(await pendingTypes(aliceTablet)).toEqual([]);
      });

      it('goes with the account', async () => {
        await store.keyBackups.put({ userId: alice, backup: 'one', updatedAt: at(0) });
        await store.users.delete(alice);
        expect(await store.keyBackups.get(alice)).toBeNull();
      });
    });
  });
}
