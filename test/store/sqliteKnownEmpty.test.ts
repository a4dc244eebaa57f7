import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from '@jest/globals';
import { openSqliteStore } from '../../app/store/sqlite/index.js';
import type { MailboxEntry, Store } from '../../app/store/types.js';
import { useTwoUsersOnSqlite } from './sqliteTwoUsers.js';
import { at } from './contractTime.js';

/**
 * The SQLite adapter answers a poll of a mailbox it last read empty without reading it again (bench/README.md).
 * These are the ways an entry can arrive after such a read; each must be seen by the next read.
 */
describe('SQLite mailboxes read empty before', () => {
  let file: string;
  let store: Store;
  let alice: string;
  let bob: string;
  let bobPhone: string;

  const entry = (payload: string, createdAt = at(0)): MailboxEntry => ({
    id: randomUUID(),
    senderId: alice,
    senderUsername: 'alice',
    senderDeviceId: null,
    type: 'offer',
    payload,
    sessionId: null,
    createdAt,
    expiresAt: new Date(createdAt.getTime() + 300_000),
  });
  const sendVia = (s: Store, payload: string, now = at(0)) => s.signals.send({ signal: entry(payload, now), toUserId: bob, now, limits: { max: 100, perSender: 100 } });
  const payloads = async (s: Store, now = at(1)) => (await s.signals.pending(bobPhone, now, 100)).map((x) => x.payload);

  const fx = useTwoUsersOnSqlite('signalbox-known-empty-');
  beforeEach(() => {
    ({ file, store, alice, bob, bobPhone } = fx);
  });

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
