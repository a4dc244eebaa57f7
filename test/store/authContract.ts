import { beforeEach, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { SessionRecord, Store } from '../../app/store/types.js';
import { makeSession, makeUser, freshStorePerTest, type OpenedStore } from './contract.js';
import { at, HOUR } from './contractTime.js';

const MINUTE = 60_000;

/** The contract of the rate-limit and reset-code aggregates and of sessions as devices, for one adapter. */
export function describeAuthStoreContract(label: string, open: () => Promise<OpenedStore>): void {
  describe(`${label} store contract: rate limits and reset codes`, () => {
    let store: Store;
    freshStorePerTest(open, (s) => (store = s));
    /** Stores another user and returns its id. */
    const storeUserId = async () => {
      const user = makeUser();
      await store.users.create(user);
      return user.id;
    };

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

    describe('sessions as devices', () => {
      let userId: string;
      beforeEach(async () => {
        const user = makeUser();
        await store.users.create(user);
        userId = user.id;
      });
      /** Stores a session of `owner` (the test's user by default) and returns it. */
      const aSession = async (overrides: Partial<SessionRecord> = {}, owner = userId) => {
        const session = makeSession(owner, overrides);
        expect(await store.sessions.create(session, `refresh_${randomUUID()}`)).toBe(true);
        return session;
      };
      const liveIds = async (owner = userId) => (await store.sessions.listByUser(owner, at(1))).map((s) => s.id);

      it('keeps the device fields as given, nulls included', async () => {
        const named = await aSession({ lastSeen: at(5) });
        const bare = await aSession({ deviceNameEnc: null, devicePlatformEnc: null });
        expect(await store.sessions.findById(named.id)).toEqual(named);
        expect(await store.sessions.findById(bare.id)).toEqual(bare);
      });

      it("lists the user's live sessions only, oldest first", async () => {
        const second = await aSession({ createdAt: at(20) });
        const first = await aSession({ createdAt: at(10) });
        await aSession({ expiresAt: at(1) }); // expired at the listing's now
        await aSession({}, await storeUserId());
        expect(await store.sessions.listByUser(userId, at(1))).toEqual([first, second]);
      });

      it('touch sets lastSeen and never moves it backwards', async () => {
        const session = await aSession();
        await store.sessions.touch(session.id, at(50));
        expect((await store.sessions.findById(session.id))!.lastSeen).toEqual(at(50));
        await store.sessions.touch(session.id, at(40));
        expect((await store.sessions.findById(session.id))!.lastSeen).toEqual(at(50));
        await store.sessions.touch(session.id, at(60));
        expect((await store.sessions.findById(session.id))!.lastSeen).toEqual(at(60));
      });

      it('touch of an unknown session stores nothing', async () => {
        await store.sessions.touch(randomUUID(), at(5));
        expect(await liveIds()).toEqual([]);
      });

      it("deleteOfUser ends the user's own session, refresh tokens included", async () => {
        const session = makeSession(userId);
        await store.sessions.create(session, 'refresh-own');
        expect(await store.sessions.deleteOfUser(session.id, userId)).toBe(true);
        expect(await store.sessions.findById(session.id)).toBeNull();
        expect(await store.sessions.rotateRefreshToken('refresh-own', 'next', at(1), at(2 * HOUR))).toEqual({ outcome: 'invalid' });
      });

      it("deleteOfUser refuses another user's session and an unknown id, changing nothing", async () => {
        const theirs = await aSession({}, await storeUserId());
        expect(await store.sessions.deleteOfUser(theirs.id, userId)).toBe(false);
        expect(await store.sessions.deleteOfUser(randomUUID(), userId)).toBe(false);
        expect(await store.sessions.findById(theirs.id)).toEqual(theirs);
      });

      it('trimToMostRecent keeps the protected session and the most recently seen others', async () => {
        // `fresh` is given the oldest recency of all: protection, not recency, keeps it.
        const seenLongAgo = await aSession({ createdAt: at(0), lastSeen: at(10) });
        const neverSeen = await aSession({ createdAt: at(20) }); // recency: its sign-in
        const seenLately = await aSession({ createdAt: at(0), lastSeen: at(30) });
        const fresh = await aSession({ createdAt: at(-5) });
        const ended = await store.sessions.trimToMostRecent(userId, 3, fresh.id, at(40));
        expect(ended).toEqual([seenLongAgo.id]);
        expect((await liveIds()).sort()).toEqual([neverSeen.id, seenLately.id, fresh.id].sort());
        expect(await store.sessions.trimToMostRecent(userId, 1, fresh.id, at(40))).toHaveLength(2);
        expect(await liveIds()).toEqual([fresh.id]);
      });

      it('trimToMostRecent ends nothing within the limit and leaves other users alone', async () => {
        const otherUser = await storeUserId();
        const theirs = [await aSession({}, otherUser), await aSession({}, otherUser)];
        const mine = await aSession();
        expect(await store.sessions.trimToMostRecent(userId, 2, mine.id, at(1))).toEqual([]);
        expect(await store.sessions.trimToMostRecent(userId, 1, mine.id, at(1))).toEqual([]);
        expect((await liveIds(otherUser)).sort()).toEqual(theirs.map((s) => s.id).sort());
      });

      it('trimToMostRecent also ends expired sessions, which take no place', async () => {
        const expired = await aSession({ expiresAt: at(1), lastSeen: at(0) });
        const live = await aSession();
        const fresh = await aSession({ createdAt: at(2) });
        expect(await store.sessions.trimToMostRecent(userId, 2, fresh.id, at(2))).toEqual([expired.id]);
        expect(await store.sessions.findById(live.id)).toEqual(live);
      });

      it('leaves at most `keep` sessions after concurrent sign-ins, each trimming after its own insert', async () => {
        for (let i = 0; i < 3; i++) await aSession({ lastSeen: at(i) });
        await Promise.all(
          Array.from({ length: 6 }, async (_, i) => {
            const session = await aSession({ createdAt: at(100 + i) });
            await store.sessions.trimToMostRecent(userId, 4, session.id, at(100 + i));
          }),
        );
        // At most `keep` on every adapter (MongoDB's trims may interleave and end more, never fewer).
        const left = await store.sessions.listByUser(userId, at(200));
        expect(left.length).toBeGreaterThan(0);
        expect(left.length).toBeLessThanOrEqual(4);
      });
    });
  });
}
