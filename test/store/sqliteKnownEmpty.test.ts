import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from '@jest/globals';
import Database from '../../app/store/sqlite/driver.js';
import { openSqliteStore } from '../../app/store/sqlite/index.js';
import type { MailboxEntry, Store } from '../../app/store/types.js';
import { makeSession } from './contract.js';
import { signalFrom, useTwoUsersOnSqlite } from './sqliteTwoUsers.js';
import { at } from './contractTime.js';

/** What the SQLite adapter knows of a mailbox without reading it (knownMailboxes.ts, bench/README.md). */
describe('SQLite mailboxes known without a read', () => {
  let file: string;
  let store: Store;
  let alice: string;
  let bob: string;
  let bobPhone: string;

  const entry = (payload: string, createdAt = at(0)): MailboxEntry => signalFrom(alice, payload, { createdAt });
  const fx = useTwoUsersOnSqlite('signalbox-known-mailboxes-');
  beforeEach(() => {
    ({ file, store, alice, bob, bobPhone } = fx);
  });

  /**
   * A mailbox last read empty is answered without reading it again. These are the ways an entry can arrive
   * after such a read; each must be seen by the next read.
   */
  describe('read empty before', () => {
    const sendVia = (s: Store, payload: string, now = at(0)) => s.signals.send({ signal: entry(payload, now), toUserId: bob, now, limits: { max: 100, perSender: 100 } });
    const payloads = async (s: Store, now = at(1)) => (await s.signals.pending(bobPhone, now, 100)).map((x) => x.payload);

    it('sees a signal sent through the same store', async () => {
      expect(await payloads(store)).toEqual([]);
      await sendVia(store, 'after the empty read');
      expect(await payloads(store)).toEqual(['after the empty read']);
    });

    it('sees a signal written by another connection to the same file (the admin CLI, another process)', async () => {
      expect(await payloads(store)).toEqual([]);
      const other = openSqliteStore(file);
      try {
        await sendVia(other, 'from elsewhere');
      } finally {
        await other.close();
      }
      expect(await payloads(store)).toEqual(['from elsewhere']);
    });

    it('sees a server event written with a change (the same arrival feed as sends)', async () => {
      expect(await payloads(store)).toEqual([]);
      // A connection request writes connection.requested into bob's devices' mailboxes in its transaction.
      await store.connections.request({ id: randomUUID(), fromId: alice, toId: bob, message: null, now: at(0), expiresAt: at(60_000), maxPending: 10 }, () => [
        { to: { userId: bob }, eventsMax: 100, entry: { ...entry('{"event":1}'), type: 'connection.requested' } },
      ]);
      expect(await payloads(store)).toEqual(['{"event":1}']);
    });

    it('does not carry an empty read back to an earlier time: entries expired by then are live again', async () => {
      await sendVia(store, 'short-lived', at(0));
      // Read after it expired: empty.
      expect(await payloads(store, at(400_000))).toEqual([]);
      // A read at an earlier time (a clock set back) reads again and finds it live.
      expect(await payloads(store, at(1))).toEqual(['short-lived']);
    });

    it('starts with nothing known after a restart', async () => {
      expect(await payloads(store)).toEqual([]);
      await store.close();
      const writer = openSqliteStore(file);
      await sendVia(writer, 'while it was down');
      await writer.close();
      store = fx.store = openSqliteStore(file);
      expect(await payloads(store)).toEqual(['while it was down']);
    });
  });

  /**
   * After a send into a mailbox it knew empty, the next read is answered from memory (what the commit
   * stored). Whatever happens to the mailbox afterwards, the answer must be what the file holds: each case
   * compares it with a read through a connection of its own.
   */
  describe('known from what their commits stored', () => {
    const send = (payload: string, now = at(0)) => store.signals.send({ signal: entry(payload, now), toUserId: bob, now, limits: { max: 100, perSender: 100 } });
    const answered = async (now = at(1)) => (await store.signals.pending(bobPhone, now, 100)).map((x) => `${x.seq}:${x.payload}`);
    /** The same read as `pending`, through another connection: what the file holds. */
    const onDisk = (now = at(1)) => {
      const reader = new Database(file, { readonly: true });
      try {
        const rows = reader
          .prepare('SELECT d.seq, b.payload FROM device_signals d JOIN signal_bodies b ON b.id = d.id WHERE d.device_id = ? AND d.expires_at > ? ORDER BY d.seq')
          .all(bobPhone, now.getTime()) as Array<{ seq: number; payload: string }>;
        return rows.map((r) => `${r.seq}:${r.payload}`);
      } finally {
        reader.close();
      }
    };
    /** A send into a mailbox just read empty: the next read is answered from memory. */
    const knownWith = async (...payloads: string[]) => {
      expect(await answered()).toEqual([]);
      await Promise.all(payloads.map((p) => send(p)));
    };

    it('answers what the sends stored, in order, as the file holds it', async () => {
      await knownWith('one', 'two', 'three');
      expect(await answered()).toEqual(['1:one', '2:two', '3:three']);
      expect(await answered()).toEqual(onDisk());
      // The full records, not only the payloads.
      const [fromMemory] = await store.signals.pending(bobPhone, at(1), 1);
      expect(fromMemory).toEqual(
        expect.objectContaining({
          seq: 1,
          senderId: alice,
          senderUsername: 'alice',
          senderDeviceId: null,
          type: 'offer',
          sessionId: null,
          createdAt: at(0),
          expiresAt: at(300_000),
        }),
      );
    });

    it('answers at most `limit`, and nothing expired', async () => {
      await knownWith('a', 'b');
      expect((await store.signals.pending(bobPhone, at(1), 1)).map((x) => x.payload)).toEqual(['a']);
      expect(await answered(at(400_000))).toEqual([]);
      expect(onDisk(at(400_000))).toEqual([]);
    });

    it('forgets what an acknowledgement removed', async () => {
      await knownWith('a', 'b');
      await store.signals.ack(bobPhone, 1);
      expect(await answered()).toEqual(['2:b']);
      expect(await answered()).toEqual(onDisk());
    });

    it('forgets what clearing removed', async () => {
      await knownWith('a');
      await store.signals.clear(bobPhone);
      expect(await answered()).toEqual([]);
      expect(onDisk()).toEqual([]);
    });

    it('forgets entries that went with their sender (a deleted account cascades to its signals)', async () => {
      await knownWith('from alice');
      await store.users.delete(alice);
      expect(await answered()).toEqual([]);
      expect(onDisk()).toEqual([]);
    });

    it('forgets entries the expiry purge removed', async () => {
      await knownWith('a');
      expect(await store.signals.purgeExpired(at(400_000))).toBe(1);
      expect(await answered(at(1))).toEqual(onDisk(at(1)));
    });

    it('forgets a mailbox a server event entered (announced without its entries)', async () => {
      await knownWith('signal');
      await store.connections.request({ id: randomUUID(), fromId: alice, toId: bob, message: null, now: at(0), expiresAt: at(60_000), maxPending: 10 }, () => [
        { to: { userId: bob }, eventsMax: 100, entry: { ...entry('{"event":1}'), type: 'connection.requested' } },
      ]);
      expect(await answered()).toEqual(['1:signal', '2:{"event":1}']);
      expect(await answered()).toEqual(onDisk());
    });

    it('keeps only the committed sends of a group in which one failed and the others ran again alone', async () => {
      // A signal to Alice's own device holds the id the clashing send reuses (its body stays stored).
      const alicePhone = makeSession(alice);
      await store.sessions.create(alicePhone, `refresh_${randomUUID()}`);
      const id = randomUUID();
      const clash = { ...entry('same id'), id };
      await store.signals.send({ signal: { ...entry('to alice'), id }, toUserId: alice, now: at(0), limits: { max: 100, perSender: 100 } });
      expect(await answered()).toEqual([]);
      const results = await Promise.allSettled([
        send('before'),
        store.signals.send({ signal: clash, toUserId: bob, now: at(0), limits: { max: 100, perSender: 100 } }),
        send('after'),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(await answered()).toEqual(onDisk());
      expect((await answered()).map((x) => x.split(':')[1])).toEqual(['before', 'after']);
    });

    it('drops what it knows when another connection writes to the file', async () => {
      await knownWith('mine');
      const other = new Database(file);
      try {
        other.prepare('DELETE FROM device_signals WHERE device_id = ?').run(bobPhone);
      } finally {
        other.close();
      }
      expect(await answered()).toEqual([]);
    });
  });
});
