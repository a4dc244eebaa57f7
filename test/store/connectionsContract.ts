import { randomUUID } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import type { ConnectionRequestInput, Store, UserRecord } from '../../app/store/types.js';
import { at, HOUR } from './contractTime.js';

export interface ConnectionContractContext {
  store: () => Store;
  aUser: () => Promise<UserRecord>;
}

/**
 * The ConnectionStore and PresenceStore contract, registered inside describeStoreContract so it runs
 * against every adapter with that suite's fresh store per test.
 */
export function describeConnectionStoreContract({ store, aUser }: ConnectionContractContext): void {
  /** A request from `from` to `to` made at `now` (default T0) that lives one hour. */
  const ask = (from: UserRecord, to: UserRecord, over: Partial<ConnectionRequestInput> = {}) => {
    const now = over.now ?? at(0);
    return store().connections.request({
      id: randomUUID(),
      fromId: from.id,
      toId: to.id,
      message: null,
      now,
      expiresAt: new Date(now.getTime() + HOUR),
      maxPending: 100,
      ...over,
    });
  };
  const two = async () => [await aUser(), await aUser()] as const;

  describe('connections: request', () => {
    it("stores a new request and answers 'requested' with every field, the pair ordered", async () => {
      const [a, b] = await two();
      const id = randomUUID();
      const result = await ask(a, b, { id, message: 'hello' });
      const [lowId, highId] = a.id < b.id ? [a.id, b.id] : [b.id, a.id];
      expect(result).toEqual({
        outcome: 'requested',
        record: { id, lowId, highId, state: 'pending', requesterId: a.id, message: 'hello', createdAt: at(0), expiresAt: at(HOUR), acceptedAt: null },
      });
    });

    it('finds the request from either member', async () => {
      const [a, b] = await two();
      const { record } = (await ask(a, b)) as { record: unknown };
      expect(await store().connections.find(a.id, b.id, at(1))).toEqual(record);
      expect(await store().connections.find(b.id, a.id, at(1))).toEqual(record);
    });

    it("answers 'pending' when the sender asks again, keeping the first request", async () => {
      const [a, b] = await two();
      const first = await ask(a, b, { message: 'first' });
      const again = await ask(a, b, { now: at(1), message: 'second' });
      expect(again).toEqual({ outcome: 'pending', record: (first as { record: unknown }).record });
    });

    it("accepts a crossing request: 'accepted', same record id, acceptedAt now, expiresAt null", async () => {
      const [a, b] = await two();
      const first = (await ask(a, b)) as { record: { id: string } };
      const crossing = await ask(b, a, { now: at(5) });
      expect(crossing).toMatchObject({ outcome: 'accepted', record: { id: first.record.id, state: 'accepted', requesterId: a.id, acceptedAt: at(5), expiresAt: null } });
    });

    it("answers 'already_connected' from both sides once accepted", async () => {
      const [a, b] = await two();
      await ask(a, b);
      await ask(b, a);
      expect((await ask(a, b, { now: at(9) })).outcome).toBe('already_connected');
      expect((await ask(b, a, { now: at(9) })).outcome).toBe('already_connected');
    });

    it('replaces an expired request with a new one', async () => {
      const [a, b] = await two();
      await ask(a, b);
      const id = randomUUID();
      const result = await ask(a, b, { id, now: at(HOUR) });
      expect(result).toMatchObject({ outcome: 'requested', record: { id, createdAt: at(HOUR) } });
    });

    it('does not accept an expired crossing request: the other side gets a request of its own', async () => {
      const [a, b] = await two();
      await ask(a, b);
      expect(await ask(b, a, { now: at(HOUR) })).toMatchObject({ outcome: 'requested', record: { requesterId: b.id } });
    });

    it("answers 'limit' at maxPending live outgoing requests, with when the oldest lapses, storing nothing", async () => {
      const [a, b] = await two();
      const c = await aUser();
      const d = await aUser();
      await ask(a, b, { now: at(0), maxPending: 2 });
      await ask(a, c, { now: at(10), maxPending: 2 });
      expect(await ask(a, d, { now: at(20), maxPending: 2 })).toEqual({ outcome: 'limit', freesAt: at(HOUR) });
      expect(await store().connections.find(a.id, d.id, at(21))).toBeNull();
    });

    it('does not count expired, accepted or incoming requests towards the limit', async () => {
      const [a, b] = await two();
      const [c, d] = await two();
      const e = await aUser();
      await ask(a, b, { now: at(0), expiresAt: at(1) }); // expired by at(2)
      await ask(a, c, { now: at(0) });
      await ask(c, a, { now: at(1) }); // now accepted
      await ask(d, a, { now: at(1) }); // incoming
      expect((await ask(a, e, { now: at(2), maxPending: 1 })).outcome).toBe('requested');
    });

    it("answers 'gone' and stores nothing when the recipient does not exist", async () => {
      const a = await aUser();
      const ghost = { ...a, id: randomUUID() };
      expect(await ask(a, ghost)).toEqual({ outcome: 'gone' });
      expect(await store().connections.find(a.id, ghost.id, at(1))).toBeNull();
    });

    it('crossing requests sent at the same moment end as one accepted record', async () => {
      const [a, b] = await two();
      const outcomes = (await Promise.all([ask(a, b), ask(b, a)])).map((r) => r.outcome);
      expect(outcomes.sort()).toEqual(['accepted', 'requested']);
      expect((await store().connections.find(a.id, b.id, at(1)))?.state).toBe('accepted');
      expect(await store().connections.listConnections(a.id)).toHaveLength(1);
    });

    it('the same request sent many times at once stores exactly one', async () => {
      const [a, b] = await two();
      const outcomes = (await Promise.all(Array.from({ length: 5 }, () => ask(a, b)))).map((r) => r.outcome);
      expect(outcomes.sort()).toEqual(['pending', 'pending', 'pending', 'pending', 'requested']);
      expect(await store().connections.listPending(b.id, at(1))).toHaveLength(1);
    });
  });

  describe('connections: accept, reject, remove', () => {
    it('accept by the recipient answers the accepted record', async () => {
      const [a, b] = await two();
      await ask(a, b);
      expect(await store().connections.accept(a.id, b.id, at(7))).toMatchObject({ state: 'accepted', acceptedAt: at(7), expiresAt: null });
    });

    it('accept answers null with the roles swapped (only the recipient accepts) and changes nothing', async () => {
      const [a, b] = await two();
      await ask(a, b);
      expect(await store().connections.accept(b.id, a.id, at(7))).toBeNull();
      expect((await store().connections.find(a.id, b.id, at(8)))?.state).toBe('pending');
    });

    it('accept answers null for an expired request', async () => {
      const [a, b] = await two();
      await ask(a, b);
      expect(await store().connections.accept(a.id, b.id, at(HOUR))).toBeNull();
    });

    it('accept answers null when already accepted', async () => {
      const [a, b] = await two();
      await ask(a, b);
      await store().connections.accept(a.id, b.id, at(1));
      expect(await store().connections.accept(a.id, b.id, at(2))).toBeNull();
    });

    it('of concurrent accepts exactly one succeeds', async () => {
      const [a, b] = await two();
      await ask(a, b);
      const results = await Promise.all(Array.from({ length: 4 }, () => store().connections.accept(a.id, b.id, at(1))));
      expect(results.filter((r) => r !== null)).toHaveLength(1);
    });

    it('reject by the recipient deletes the request', async () => {
      const [a, b] = await two();
      await ask(a, b);
      expect(await store().connections.reject(a.id, b.id, at(1))).toBe(true);
      expect(await store().connections.find(a.id, b.id, at(2))).toBeNull();
    });

    it('reject answers false with the roles swapped, for an expired request and for a connection', async () => {
      const [a, b] = await two();
      await ask(a, b);
      expect(await store().connections.reject(b.id, a.id, at(1))).toBe(false);
      expect(await store().connections.reject(a.id, b.id, at(HOUR))).toBe(false);
      await store().connections.accept(a.id, b.id, at(2));
      expect(await store().connections.reject(a.id, b.id, at(3))).toBe(false);
      expect((await store().connections.find(a.id, b.id, at(4)))?.state).toBe('accepted');
    });

    it("remove answers 'connection' from either member and deletes it", async () => {
      const [a, b] = await two();
      await ask(a, b);
      await ask(b, a);
      expect(await store().connections.remove(b.id, a.id, at(1))).toBe('connection');
      expect(await store().connections.find(a.id, b.id, at(2))).toBeNull();
    });

    it("remove answers 'request' for the caller's own live request", async () => {
      const [a, b] = await two();
      await ask(a, b);
      expect(await store().connections.remove(a.id, b.id, at(1))).toBe('request');
      expect(await store().connections.find(a.id, b.id, at(2))).toBeNull();
    });

    it('remove answers null for an incoming request and keeps it', async () => {
      const [a, b] = await two();
      await ask(a, b);
      expect(await store().connections.remove(b.id, a.id, at(1))).toBeNull();
      expect((await store().connections.find(a.id, b.id, at(2)))?.state).toBe('pending');
    });

    it('remove answers null for nothing and for an expired request', async () => {
      const [a, b] = await two();
      expect(await store().connections.remove(a.id, b.id, at(1))).toBeNull();
      await ask(a, b);
      expect(await store().connections.remove(a.id, b.id, at(HOUR))).toBeNull();
    });

    it('of two concurrent removals from both sides exactly one removes the connection', async () => {
      const [a, b] = await two();
      await ask(a, b);
      await ask(b, a);
      const results = await Promise.all([store().connections.remove(a.id, b.id, at(1)), store().connections.remove(b.id, a.id, at(1))]);
      expect(results.sort()).toEqual(['connection', null]);
    });
  });

  describe('connections: lists and purge', () => {
    it('listConnections shows each accepted connection to both members with the peer named', async () => {
      const [a, b] = await two();
      await ask(a, b);
      await ask(b, a);
      expect(await store().connections.listConnections(a.id)).toEqual([expect.objectContaining({ peerId: b.id, peerUsername: b.username, state: 'accepted' })]);
      expect(await store().connections.listConnections(b.id)).toEqual([expect.objectContaining({ peerId: a.id, peerUsername: a.username })]);
    });

    it('listConnections orders by peer username and leaves out pending requests', async () => {
      const a = await aUser();
      const [x, y] = await two();
      const z = await aUser();
      for (const u of [y, x]) {
        await ask(a, u);
        await ask(u, a);
      }
      await ask(a, z);
      const names = (await store().connections.listConnections(a.id)).map((v) => v.peerUsername);
      expect(names).toEqual([x.username, y.username].sort());
    });

    it('listPending shows live requests both ways, newest first, without expired ones', async () => {
      const a = await aUser();
      const [b, c] = await two();
      const d = await aUser();
      await ask(a, b, { now: at(0) });
      await ask(c, a, { now: at(10) });
      await ask(d, a, { now: at(-HOUR) }); // expired at T0
      const views = await store().connections.listPending(a.id, at(20));
      expect(views.map((v) => [v.peerUsername, v.requesterId])).toEqual([
        [c.username, c.id],
        [b.username, a.id],
      ]);
    });

    it('purgeExpired drops only expired pending requests and answers how many', async () => {
      const a = await aUser();
      const [b, c] = await two();
      const d = await aUser();
      await ask(a, b, { now: at(0) }); // expires at HOUR
      await ask(a, c, { now: at(0) });
      await ask(c, a, { now: at(1) }); // accepted: never expires
      await ask(a, d, { now: at(HOUR) }); // live until 2 HOUR
      expect(await store().connections.purgeExpired(at(HOUR))).toBe(1);
      expect(await store().connections.listConnections(a.id)).toHaveLength(1);
      expect(await store().connections.listPending(a.id, at(HOUR))).toHaveLength(1);
    });

    it('users.delete removes connections and requests both ways, leaving other pairs alone', async () => {
      const a = await aUser();
      const [b, c] = await two();
      const [d, e] = await two();
      await ask(a, b);
      await ask(b, a);
      await ask(a, c);
      await ask(d, a);
      await ask(d, e);
      await store().users.delete(a.id);
      for (const u of [b, c, d]) expect(await store().connections.find(a.id, u.id, at(1))).toBeNull();
      expect(await store().connections.listConnections(b.id)).toEqual([]);
      expect(await store().connections.listPending(c.id, at(1))).toEqual([]);
      expect(await store().connections.find(d.id, e.id, at(1))).not.toBeNull();
    });
  });

  describe('presence', () => {
    it('touch records lastSeen, with no sign-out', async () => {
      const a = await aUser();
      await store().presence.touch(a.id, at(5));
      expect(await store().presence.find([a.id])).toEqual([{ userId: a.id, lastSeen: at(5), signedOutAt: null }]);
    });

    it('touch never moves lastSeen backwards', async () => {
      const a = await aUser();
      await store().presence.touch(a.id, at(9));
      await store().presence.touch(a.id, at(3));
      expect((await store().presence.find([a.id]))[0]?.lastSeen).toEqual(at(9));
    });

    it('signOut sets signedOutAt and keeps lastSeen', async () => {
      const a = await aUser();
      await store().presence.touch(a.id, at(5));
      await store().presence.signOut(a.id, at(5));
      expect(await store().presence.find([a.id])).toEqual([{ userId: a.id, lastSeen: at(5), signedOutAt: at(5) }]);
    });

    it('signOut of a user never touched records them seen and signed out at that moment', async () => {
      const a = await aUser();
      await store().presence.signOut(a.id, at(7));
      expect(await store().presence.find([a.id])).toEqual([{ userId: a.id, lastSeen: at(7), signedOutAt: at(7) }]);
    });

    it('find answers the known users among those asked, and nothing for an empty list', async () => {
      const [a, b] = await two();
      await store().presence.touch(a.id, at(1));
      await store().presence.touch(b.id, at(2));
      const found = await store().presence.find([a.id, b.id, randomUUID()]);
      expect(found.map((r) => r.userId).sort()).toEqual([a.id, b.id].sort());
      expect(await store().presence.find([])).toEqual([]);
    });

    it('users.delete removes the presence record', async () => {
      const a = await aUser();
      await store().presence.touch(a.id, at(1));
      await store().users.delete(a.id);
      expect(await store().presence.find([a.id])).toEqual([]);
    });
  });
}
