import { beforeEach, describe, expect, it } from '@jest/globals';
import type { Store } from '../../app/store/types.js';
import { makeUser, freshStorePerTest, type OpenedStore } from './contract.js';
import { at } from './contractTime.js';

const MINUTE = 60_000;

/** The contract of the rate-limit and reset-code aggregates, for one adapter. */
export function describeAuthStoreContract(label: string, open: () => Promise<OpenedStore>): void {
  describe(`${label} store contract: rate limits and reset codes`, () => {
    let store: Store;
    freshStorePerTest(open, (s) => (store = s));

    describe('rateLimits', () => {
      it('counts hits in one window that starts at the first hit', async () => {
        expect(await store.rateLimits.hit('k', at(0), MINUTE)).toEqual({ count: 1, resetAt: at(MINUTE) });
        expect(await store.rateLimits.hit('k', at(30_000), MINUTE)).toEqual({ count: 2, resetAt: at(MINUTE) });
      });

      it('adds the given cost', async () => {
        await store.rateLimits.hit('k', at(0), MINUTE, 3);
        expect((await store.rateLimits.hit('k', at(1), MINUTE, 2)).count).toBe(5);
      });

      it('starts a new window once the old one ended', async () => {
        await store.rateLimits.hit('k', at(0), MINUTE);
        await store.rateLimits.hit('k', at(1), MINUTE);
        expect(await store.rateLimits.hit('k', at(MINUTE), MINUTE)).toEqual({ count: 1, resetAt: at(2 * MINUTE) });
      });

      it('takes a negative cost (a refund) off the count in the live window', async () => {
        await store.rateLimits.hit('k', at(0), MINUTE, 3);
        expect(await store.rateLimits.hit('k', at(1), MINUTE, -1)).toEqual({ count: 2, resetAt: at(MINUTE) });
      });

      it('never takes a count below zero, so a refund after its window ended gives no extra tries', async () => {
        await store.rateLimits.hit('k', at(0), MINUTE);
        expect((await store.rateLimits.hit('k', at(MINUTE), MINUTE, -1)).count).toBe(0);
        expect((await store.rateLimits.hit('k', at(MINUTE + 1), MINUTE, -1)).count).toBe(0);
        expect((await store.rateLimits.hit('fresh', at(0), MINUTE, -1)).count).toBe(0);
        expect((await store.rateLimits.hit('k', at(MINUTE + 2), MINUTE)).count).toBe(1);
      });

      it('keeps keys apart', async () => {
        await store.rateLimits.hit('a', at(0), MINUTE);
        expect((await store.rateLimits.hit('b', at(0), MINUTE)).count).toBe(1);
      });

      it('counts every one of many concurrent hits', async () => {
        await Promise.all(Array.from({ length: 20 }, () => store.rateLimits.hit('k', at(0), MINUTE)));
        expect((await store.rateLimits.peek('k', at(1)))!.count).toBe(20);
      });

      it('peeks without counting, and sees nothing for an ended or unknown window', async () => {
        await store.rateLimits.hit('k', at(0), MINUTE);
        expect(await store.rateLimits.peek('k', at(1))).toEqual({ count: 1, resetAt: at(MINUTE) });
        expect(await store.rateLimits.peek('k', at(1))).toEqual({ count: 1, resetAt: at(MINUTE) });
        expect(await store.rateLimits.peek('k', at(MINUTE))).toBeNull();
        expect(await store.rateLimits.peek('other', at(0))).toBeNull();
      });

      it('forgets a key on reset', async () => {
        await store.rateLimits.hit('k', at(0), MINUTE);
        await store.rateLimits.reset('k');
        expect(await store.rateLimits.peek('k', at(1))).toBeNull();
      });

      it('purges only ended windows', async () => {
        await store.rateLimits.hit('old', at(0), MINUTE);
        await store.rateLimits.hit('new', at(0), 10 * MINUTE);
        expect(await store.rateLimits.purgeExpired(at(MINUTE))).toBe(1);
        expect(await store.rateLimits.peek('new', at(MINUTE))).not.toBeNull();
      });
    });

    describe('resetCodes', () => {
      const putCode = async (userId: string, codeHash: string, createdAt = at(0)) =>
        store.resetCodes.put({ userId, codeHash, createdAt, expiresAt: new Date(createdAt.getTime() + 10 * MINUTE) });
      let userId: string;
      beforeEach(async () => {
        const user = makeUser();
        await store.users.create(user);
        userId = user.id;
      });

      it('redeems the right code once', async () => {
        await putCode(userId, 'h1');
        expect(await store.resetCodes.redeem(userId, 'h1', at(1), 5)).toBe(true);
        expect(await store.resetCodes.redeem(userId, 'h1', at(2), 5)).toBe(false);
      });

      it('refuses a code of another user', async () => {
        const other = makeUser();
        await store.users.create(other);
        await putCode(userId, 'h1');
        expect(await store.resetCodes.redeem(other.id, 'h1', at(1), 5)).toBe(false);
      });

      it('keeps only the newest code', async () => {
        await putCode(userId, 'old');
        await putCode(userId, 'new', at(1));
        expect(await store.resetCodes.redeem(userId, 'old', at(2), 5)).toBe(false);
        expect(await store.resetCodes.redeem(userId, 'new', at(3), 5)).toBe(true);
      });

      it('refuses an expired code', async () => {
        await putCode(userId, 'h1');
        expect(await store.resetCodes.redeem(userId, 'h1', at(10 * MINUTE), 5)).toBe(false);
      });

      it('burns the code at maxTries wrong tries', async () => {
        await putCode(userId, 'h1');
        for (let i = 0; i < 5; i++) expect(await store.resetCodes.redeem(userId, 'wrong', at(i), 5)).toBe(false);
        expect(await store.resetCodes.redeem(userId, 'h1', at(10), 5)).toBe(false);
      });

      it('still redeems after fewer than maxTries wrong tries', async () => {
        await putCode(userId, 'h1');
        for (let i = 0; i < 4; i++) await store.resetCodes.redeem(userId, 'wrong', at(i), 5);
        expect(await store.resetCodes.redeem(userId, 'h1', at(10), 5)).toBe(true);
      });

      it('starts the count of tries again with a new code', async () => {
        await putCode(userId, 'h1');
        for (let i = 0; i < 4; i++) await store.resetCodes.redeem(userId, 'wrong', at(i), 5);
        await putCode(userId, 'h2', at(10));
        for (let i = 0; i < 4; i++) await store.resetCodes.redeem(userId, 'wrong', at(20 + i), 5);
        expect(await store.resetCodes.redeem(userId, 'h2', at(30), 5)).toBe(true);
      });

      it('lets only one of two concurrent redemptions of the same code succeed', async () => {
        await putCode(userId, 'h1');
        const results = await Promise.all([1, 2, 3].map((i) => store.resetCodes.redeem(userId, 'h1', at(i), 5)));
        expect(results.filter(Boolean)).toHaveLength(1);
      });

      it('drops the code with its user', async () => {
        await putCode(userId, 'h1');
        await store.users.delete(userId);
        const again = makeUser({ id: userId });
        await store.users.create(again);
        expect(await store.resetCodes.redeem(userId, 'h1', at(1), 5)).toBe(false);
      });

      it('purges expired codes', async () => {
        await putCode(userId, 'h1');
        expect(await store.resetCodes.purgeExpired(at(10 * MINUTE))).toBe(1);
      });
    });
  });
}
