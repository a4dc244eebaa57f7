import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from '@jest/globals';
import type { SignalRecord, Store } from '../../app/store/types.js';
import { freshStorePerTest, makeUser, type OpenedStore } from './contract.js';
import { at } from './contractTime.js';

const TTL = 300_000;

/** The contract of the signal mailboxes, for one adapter. */
export function describeSignalStoreContract(label: string, open: () => Promise<OpenedStore>): void {
  describe(`${label} store contract: signals`, () => {
    let store: Store;
    let alice: string;
    let bob: string;
    freshStorePerTest(open, (s) => (store = s));
    beforeEach(async () => {
      const [a, b] = [makeUser(), makeUser()];
      await store.users.create(a);
      await store.users.create(b);
      [alice, bob] = [a.id, b.id];
    });

    const signal = (payload: string, createdAt = at(0), senderId = alice): Omit<SignalRecord, 'seq'> => ({
      id: randomUUID(),
      senderId,
      senderUsername: 'alice',
      type: 'offer',
      payload,
      sessionId: null,
      createdAt,
      expiresAt: new Date(createdAt.getTime() + TTL),
    });
    /** MAILBOX_MAX and MAILBOX_PER_SENDER; the share is the whole mailbox unless a test narrows it. */
    const limits = (max = 100, perSender = max) => ({ max, perSender });
    const append = (payload: string, max = 100, now = at(0)) => store.signals.append(bob, signal(payload, now), now, limits(max));
    /** Appends to bob's mailbox from `senderId` with a share of `perSender` in a mailbox of 100. */
    const appendFrom = (senderId: string, payload: string, perSender: number, now = at(0)) =>
      store.signals.append(bob, signal(payload, now, senderId), now, limits(100, perSender));
    const makeCarol = async () => {
      const c = makeUser();
      await store.users.create(c);
      return c.id;
    };
    const pendingPayloads = async (now = at(1)) => (await store.signals.pending(bob, now, 100)).map((s) => s.payload);

    it('numbers signals 1, 2, 3 per recipient and returns them whole, in order', async () => {
      expect(await append('a')).toBe(1);
      expect(await append('b')).toBe(2);
      const s = signal('c');
      expect(await store.signals.append(bob, { ...s, sessionId: 'sess' }, at(0), limits())).toBe(3);
      const pending = await store.signals.pending(bob, at(1), 100);
      expect(pending.map((p) => p.seq)).toEqual([1, 2, 3]);
      expect(pending[2]).toEqual({ ...s, sessionId: 'sess', seq: 3 });
    });

    it('keeps mailboxes apart, each with its own numbering', async () => {
      await append('to bob');
      expect(await store.signals.append(alice, signal('to alice', at(0), bob), at(0), limits())).toBe(1);
      expect(await pendingPayloads()).toEqual(['to bob']);
    });

    it('never reuses a sequence number after acknowledgement', async () => {
      await append('a');
      await append('b');
      expect(await store.signals.ack(bob, 2)).toBe(2);
      expect(await append('c')).toBe(3);
    });

    it('acknowledges up to and including a sequence number only', async () => {
      for (const p of ['a', 'b', 'c']) await append(p);
      expect(await store.signals.ack(bob, 2)).toBe(2);
      expect(await pendingPayloads()).toEqual(['c']);
    });

    it('refuses an append once max unexpired signals are pending, storing nothing', async () => {
      await append('a', 2);
      await append('b', 2);
      expect(await append('c', 2)).toBe('mailbox_full');
      expect(await pendingPayloads()).toEqual(['a', 'b']);
    });

    it('refuses an append once its sender holds perSender unexpired signals in that mailbox, storing nothing', async () => {
      await appendFrom(alice, 'a', 2);
      await appendFrom(alice, 'b', 2);
      expect(await appendFrom(alice, 'c', 2)).toBe('sender_share');
      expect(await pendingPayloads()).toEqual(['a', 'b']);
    });

    it('takes signals from other senders while one sender holds its whole share', async () => {
      const carol = await makeCarol();
      await appendFrom(alice, 'a', 1);
      expect(await appendFrom(carol, 'from carol', 1)).toBe(2);
    });

    it("counts a sender's share per mailbox", async () => {
      const carol = await makeCarol();
      await appendFrom(alice, 'a', 1);
      expect(await store.signals.append(carol, signal('to carol'), at(0), limits(100, 1))).toBe(1);
    });

    it('does not count expired signals against the sender share', async () => {
      await appendFrom(alice, 'old', 1);
      expect(await appendFrom(alice, 'new', 1, at(TTL))).toBe(2);
    });

    it('gives the share back as the recipient acknowledges', async () => {
      await appendFrom(alice, 'a', 1);
      await store.signals.ack(bob, 1);
      expect(await appendFrom(alice, 'b', 1)).toBe(2);
    });

    it('answers mailbox_full when both the mailbox and the sender share are full', async () => {
      await store.signals.append(bob, signal('a'), at(0), limits(1, 1));
      expect(await store.signals.append(bob, signal('b'), at(0), limits(1, 1))).toBe('mailbox_full');
    });

    it('does not count expired signals against the cap', async () => {
      await append('old', 1);
      expect(await append('new', 1, at(TTL))).toBe(2);
    });

    it('hides expired signals from pending', async () => {
      await append('a');
      expect(await pendingPayloads(at(TTL))).toEqual([]);
    });

    it('limits how many pending signals one read returns', async () => {
      for (const p of ['a', 'b', 'c']) await append(p);
      expect((await store.signals.pending(bob, at(1), 2)).map((s) => s.payload)).toEqual(['a', 'b']);
    });

    it('numbers concurrent appends uniquely and without gaps', async () => {
      const seqs = await Promise.all(Array.from({ length: 30 }, (_, i) => append(`p${i}`)));
      expect([...seqs].sort((x, y) => Number(x) - Number(y))).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    });

    it('clears a mailbox and says how many went', async () => {
      await append('a');
      await append('b');
      expect(await store.signals.clear(bob)).toBe(2);
      expect(await pendingPayloads()).toEqual([]);
    });

    it('counts unexpired signals across mailboxes', async () => {
      await append('a');
      await store.signals.append(alice, signal('b', at(0), bob), at(0), limits());
      expect(await store.signals.countPending(at(1))).toBe(2);
      expect(await store.signals.countPending(at(TTL))).toBe(0);
    });

    it('purges expired signals and says how many', async () => {
      await append('old');
      await append('new', 100, at(TTL - 1));
      expect(await store.signals.purgeExpired(at(TTL))).toBe(1);
      expect(await pendingPayloads(at(TTL))).toEqual(['new']);
    });

    it("drops a deleted user's mailbox and the signals they sent", async () => {
      await append('from alice');
      await store.signals.append(alice, signal('from bob', at(0), bob), at(0), limits());
      await store.users.delete(alice);
      expect(await pendingPayloads()).toEqual([]);
      expect(await store.signals.countPending(at(1))).toBe(0);
    });
  });
}
