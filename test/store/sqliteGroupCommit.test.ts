import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { beforeEach, describe, expect, it } from '@jest/globals';
import Database from '../../app/store/sqlite/driver.js';
import type { MailboxEntry, Store } from '../../app/store/types.js';
import { makeSession, makeUser } from './contract.js';
import { signalFrom, useTwoUsersOnSqlite } from './sqliteTwoUsers.js';
import { at } from './contractTime.js';

/**
 * The SQLite adapter commits the sends of one event-loop turn in one transaction (bench/README.md: group
 * commit), and the lastSeen touches with them. Each must still behave as if it were alone, and be
 * committed before it resolves.
 */
describe('SQLite sends committed in groups', () => {
  let file: string;
  let store: Store;
  let alice: string;
  let bob: string;
  let bobPhone: string;

  const entry = (payload: string, id: string = randomUUID()): MailboxEntry => signalFrom(alice, payload, { id });
  const sendOne = (payload: string, id?: ReturnType<typeof randomUUID>) =>
    store.signals.send({ signal: entry(payload, id), toUserId: bob, now: at(0), limits: { max: 1000, perSender: 1000 } });

  const fx = useTwoUsersOnSqlite('signalbox-group-commit-');
  beforeEach(() => {
    ({ file, store, alice, bob, bobPhone } = fx);
  });

  it('stores many concurrent sends, each once, numbered in the order they were made', async () => {
    const payloads = Array.from({ length: 50 }, (_, i) => `p${i}`);
    const results = await Promise.all(payloads.map((p) => sendOne(p)));
    expect(results.every((r) => r.outcome === 'stored')).toBe(true);
    const pending = await store.signals.pending(bobPhone, at(1), 100);
    expect(pending.map((s) => s.payload)).toEqual(payloads);
    expect(pending.map((s) => s.seq)).toEqual(payloads.map((_, i) => i + 1));
  });

  it('fails one send of a group alone: the others are stored', async () => {
    const id = randomUUID();
    await sendOne('first', id);
    const [before, clash, after] = await Promise.allSettled([sendOne('before'), sendOne('same id again', id), sendOne('after')]);
    expect(before.status).toBe('fulfilled');
    expect(clash.status).toBe('rejected');
    expect(after.status).toBe('fulfilled');
    expect((await store.signals.pending(bobPhone, at(1), 100)).map((s) => s.payload)).toEqual(['first', 'before', 'after']);
  });

  it('resolves a send only once it is committed: another connection reads it at that moment', async () => {
    const reader = new Database(file, { readonly: true });
    try {
      const count = () => (reader.prepare('SELECT count(*) AS n FROM device_signals WHERE device_id = ?').get(bobPhone) as { n: number }).n;
      const sends = [sendOne('a'), sendOne('b')];
      const seen: number[] = [];
      for (const sent of sends) {
        await sent;
        seen.push(count());
      }
      expect(seen).toEqual([2, 2]);
    } finally {
      reader.close();
    }
  });

  it('commits an acknowledgement and sends made together in order: what was acknowledged is gone, the new one is there', async () => {
    await sendOne('old');
    const [removed] = await Promise.all([store.signals.ack(bobPhone, 1), sendOne('new')]);
    expect(removed).toBe(1);
    expect((await store.signals.pending(bobPhone, at(1), 100)).map((s) => s.payload)).toEqual(['new']);
  });

  it('settles a send only after the polls its arrival woke have run their whole answer (a chain of promises)', async () => {
    const order: string[] = [];
    const stop = store.signals.onArrival(() => {
      // A woken poll's way to its answer: the mailbox read, the session check, the cursor, the write.
      void (async () => {
        for (let hop = 0; hop < 50; hop++) await Promise.resolve();
        order.push('woken poll answered');
      })();
    });
    try {
      await sendOne('wake');
      order.push('send settled');
    } finally {
      stop();
    }
    expect(order).toEqual(['woken poll answered', 'send settled']);
  });

  it('answers a retry with the same idempotency key in the same group as a repeat', async () => {
    const key = 'retry-1';
    const send = (payload: string) =>
      store.signals.send({ signal: entry(payload), toUserId: bob, now: at(0), limits: { max: 1000, perSender: 1000 }, idempotencyKey: key });
    const [first, second] = await Promise.all([send('once'), send('twice')]);
    expect(first.outcome).toBe('stored');
    expect(second.outcome).toBe('repeat');
    expect((await store.signals.pending(bobPhone, at(1), 100)).map((s) => s.payload)).toEqual(['once']);
  });

  describe('lastSeen touches (sessions and presence)', () => {
    const devices = 20;
    let phones: string[];
    // Bytes the WAL grew by while `write` ran: each commit appends the pages it changed.
    const walGrowth = async (write: () => Promise<unknown>) => {
      const other = new Database(file);
      try {
        other.pragma('wal_checkpoint(TRUNCATE)');
        await write();
        return statSync(`${file}-wal`).size;
      } finally {
        other.close();
      }
    };

    beforeEach(async () => {
      phones = [];
      for (let i = 0; i < devices; i++) {
        const s = makeSession(bob);
        await store.sessions.create(s, `refresh_${randomUUID()}`);
        phones.push(s.id);
      }
    });

    it('share one commit when made in one turn, and each is committed when it resolves', async () => {
      const together = await walGrowth(() =>
        Promise.all(phones.map((id, i) => Promise.all([store.sessions.touch(id, at(10 + i)), store.presence.touch(bob, at(10 + i))]))),
      );
      const oneByOne = await walGrowth(async () => {
        for (const [i, id] of phones.entries()) {
          await store.sessions.touch(id, at(100 + i));
          await store.presence.touch(bob, at(100 + i));
        }
      });
      // One commit rewrites each changed page once; forty commits rewrite them forty times.
      expect(together * 5).toBeLessThan(oneByOne);
      const reader = new Database(file, { readonly: true });
      try {
        const seen = reader.prepare('SELECT last_seen FROM sessions WHERE id = ?').pluck();
        expect(phones.map((id) => seen.get(id))).toEqual(phones.map((_, i) => at(100 + i).getTime()));
        expect(reader.prepare('SELECT last_seen FROM presence WHERE user_id = ?').pluck().get(bob)).toBe(at(100 + devices - 1).getTime());
      } finally {
        reader.close();
      }
    });

    it('a touch for a user deleted meanwhile fails nothing else in its group', async () => {
      const gone = makeUser();
      await store.users.create(gone);
      await store.users.delete(gone.id);
      const results = await Promise.allSettled([store.presence.touch(gone.id, at(5)), sendOne('beside it'), store.sessions.touch(phones[0]!, at(5))]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
      expect((await store.signals.pending(phones[0]!, at(6), 10)).map((x) => x.payload)).toEqual(['beside it']);
    });
  });
});
