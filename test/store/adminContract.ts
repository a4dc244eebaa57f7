import { randomUUID } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import type { Store, UserRecord } from '../../app/store/types.js';
import { makeSession, freshStorePerTest, storeUser, type OpenedStore } from './contract.js';
import { at, HOUR } from './contractTime.js';

/** The contract of what the admin CLI needs: disabling accounts, listing users, and the counts of `stats`. */
export function describeAdminStoreContract(label: string, open: () => Promise<OpenedStore>): void {
  describe(`${label} store contract: disabled accounts, listing and counts`, () => {
    let store: Store;
    freshStorePerTest(open, (s) => (store = s));

    const aUser = (overrides?: Partial<UserRecord>) => storeUser(store, overrides);
    const aSession = async (userId: string, expiresAt = at(HOUR)) => {
      const session = makeSession(userId, { expiresAt });
      const refresh = `refresh_${randomUUID()}`;
      expect(await store.sessions.create(session, refresh)).toBe(true);
      return { session, refresh };
    };

    describe('users.setDisabled', () => {
      it('records when the account was disabled', async () => {
        const user = await aUser();
        expect(await store.users.setDisabled(user.id, at(5))).toBe(true);
        expect((await store.users.findById(user.id))!.disabledAt).toEqual(at(5));
      });

      it('enables the account again with null', async () => {
        const user = await aUser();
        await store.users.setDisabled(user.id, at(5));
        expect(await store.users.setDisabled(user.id, null)).toBe(true);
        expect(await store.users.findById(user.id)).toEqual(user);
      });

      it('answers false for an unknown user', async () => {
        expect(await store.users.setDisabled(randomUUID(), at(5))).toBe(false);
      });

      it('ends every session of the user in the same call', async () => {
        const user = await aUser();
        const one = await aSession(user.id);
        const two = await aSession(user.id);
        await store.users.setDisabled(user.id, at(5));
        expect(await store.sessions.findById(one.session.id)).toBeNull();
        expect(await store.sessions.findById(two.session.id)).toBeNull();
      });

      it('leaves no refresh token of the disabled user working', async () => {
        const user = await aUser();
        const { refresh } = await aSession(user.id);
        await store.users.setDisabled(user.id, at(5));
        expect(await store.sessions.rotateRefreshToken(refresh, `refresh_${randomUUID()}`, at(6), at(2 * HOUR))).toEqual({ outcome: 'invalid' });
      });

      it("leaves other users' sessions alone", async () => {
        const user = await aUser();
        const other = await aUser();
        const kept = await aSession(other.id);
        await aSession(user.id);
        await store.users.setDisabled(user.id, at(5));
        expect(await store.sessions.findById(kept.session.id)).toEqual(kept.session);
      });

      it('makes sessions.create refuse the user, storing nothing', async () => {
        const user = await aUser();
        await store.users.setDisabled(user.id, at(5));
        const session = makeSession(user.id);
        expect(await store.sessions.create(session, `refresh_${randomUUID()}`)).toBe(false);
        expect(await store.sessions.findById(session.id)).toBeNull();
      });

      it('lets sessions be created again once re-enabled', async () => {
        const user = await aUser();
        await store.users.setDisabled(user.id, at(5));
        await store.users.setDisabled(user.id, null);
        expect(await store.sessions.create(makeSession(user.id), `refresh_${randomUUID()}`)).toBe(true);
      });
    });

    describe('users.list', () => {
      it('lists users by username from the first', async () => {
        const c = await aUser({ username: 'list_c' });
        const a = await aUser({ username: 'list_a' });
        const b = await aUser({ username: 'list_b' });
        expect(await store.users.list(null, 10)).toEqual([a, b, c]);
      });

      it('continues after the given username, at most limit', async () => {
        for (const name of ['page_a', 'page_b', 'page_c', 'page_d']) await aUser({ username: name });
        expect((await store.users.list('page_a', 2)).map((u) => u.username)).toEqual(['page_b', 'page_c']);
      });

      it('answers an empty list past the last user', async () => {
        await aUser({ username: 'only_one' });
        expect(await store.users.list('only_one', 10)).toEqual([]);
      });
    });

    describe('counts', () => {
      it('counts users', async () => {
        await aUser();
        await aUser();
        expect(await store.users.count()).toBe(2);
      });

      it('counts only sessions not expired at now', async () => {
        const user = await aUser();
        await aSession(user.id, at(HOUR));
        await aSession(user.id, at(3 * HOUR));
        expect(await store.sessions.countActive(at(2 * HOUR))).toBe(1);
      });

      it('counts accepted connections and live pending requests apart, without expired ones', async () => {
        const [a, b, c, d] = [await aUser(), await aUser(), await aUser(), await aUser()];
        const ask = (from: UserRecord, to: UserRecord, expiresAt: Date) =>
          store.connections.request({ id: randomUUID(), fromId: from.id, toId: to.id, message: null, now: at(0), expiresAt, maxPending: 100 });
        await ask(a, b, at(10 * HOUR));
        await store.connections.accept(a.id, b.id, at(1));
        await ask(a, c, at(10 * HOUR));
        await ask(a, d, at(HOUR)); // expired by the time we count
        expect(await store.connections.count(at(2 * HOUR))).toEqual({ accepted: 1, pending: 1 });
      });
    });
  });
}
