import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import Database from '../../app/store/sqlite/driver.js';
import { openSqliteStore } from '../../app/store/sqlite/index.js';
import type { Store, UserRecord } from '../../app/store/types.js';
import { makePgpKey, makeUser } from './contract.js';
import { at, HOUR } from './contractTime.js';

/**
 * The SQLite adapter remembers the users and connections its point reads found (a send reads its sender,
 * its recipient and their connection every time). Each way a user or a connection changes must be seen by
 * the very next read, or a disabled account could still send and a removed connection still be signalled.
 */
let dir: string;
let file: string;
let store: Store;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'signalbox-row-memo-'));
  file = join(dir, 'signalbox.db');
  store = openSqliteStore(file);
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `sql` through a connection of its own, as the admin CLI or a second server on the file would. */
const otherConnection = (sql: string, ...params: unknown[]) => {
  const other = new Database(file);
  try {
    other.pragma('foreign_keys = ON');
    other.prepare(sql).run(...params);
  } finally {
    other.close();
  }
};
/** Another connection's commit is noticed from the next turn of the event loop (otherWriters.ts). */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('SQLite users remembered after a lookup', () => {
  let user: UserRecord;
  beforeEach(async () => {
    user = makeUser();
    await store.users.create(user);
    // Both lookups now remembered.
    expect((await store.users.findById(user.id))!.username).toBe(user.username);
    expect((await store.users.findByUsername(user.username))!.id).toBe(user.id);
  });

  it('answers a second lookup by either key from memory, with an object no caller can change', async () => {
    const first = await store.users.findById(user.id);
    expect(await store.users.findById(user.id)).toBe(first);
    expect(await store.users.findByUsername(user.username)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
  });

  it('shows a new password hash (password change or reset)', async () => {
    await store.users.setPasswordHash(user.id, '$argon2id$new');
    expect((await store.users.findById(user.id))!.passwordHash).toBe('$argon2id$new');
    expect((await store.users.findByUsername(user.username))!.passwordHash).toBe('$argon2id$new');
  });

  it('shows a key uploaded, then removed', async () => {
    const key = makePgpKey();
    await store.users.setPgpKey(user.id, key);
    expect((await store.users.findByUsername(user.username))!.pgp).toEqual(key);
    expect(Object.isFrozen((await store.users.findById(user.id))!.pgp)).toBe(true);
    await store.users.setPgpKey(user.id, null);
    expect((await store.users.findById(user.id))!.pgp).toBeNull();
    expect((await store.users.findByUsername(user.username))!.pgp).toBeNull();
  });

  it('shows an account disabled, then enabled again', async () => {
    await store.users.setDisabled(user.id, at(5));
    expect((await store.users.findById(user.id))!.disabledAt).toEqual(at(5));
    expect((await store.users.findByUsername(user.username))!.disabledAt).toEqual(at(5));
    await store.users.setDisabled(user.id, null);
    expect((await store.users.findById(user.id))!.disabledAt).toBeNull();
  });

  it('forgets a deleted account by both keys, and finds a new account that takes its username', async () => {
    await store.users.delete(user.id);
    expect(await store.users.findById(user.id)).toBeNull();
    expect(await store.users.findByUsername(user.username)).toBeNull();
    const successor = makeUser({ username: user.username });
    await store.users.create(successor);
    expect((await store.users.findByUsername(user.username))!.id).toBe(successor.id);
  });

  it('sees another connection disable, rename or delete the account (the admin CLI, a second server)', async () => {
    otherConnection('UPDATE users SET disabled_at = ? WHERE id = ?', at(5).getTime(), user.id);
    await nextTurn();
    expect((await store.users.findById(user.id))!.disabledAt).toEqual(at(5));

    otherConnection('UPDATE users SET username = ? WHERE id = ?', `${user.username}_2`, user.id);
    await nextTurn();
    expect(await store.users.findByUsername(user.username)).toBeNull();
    expect((await store.users.findById(user.id))!.username).toBe(`${user.username}_2`);

    otherConnection('DELETE FROM users WHERE id = ?', user.id);
    await nextTurn();
    expect(await store.users.findById(user.id)).toBeNull();
  });

  it('remembers nothing absent: a user created after a miss is found', async () => {
    const later = makeUser();
    expect(await store.users.findById(later.id)).toBeNull();
    expect(await store.users.findByUsername(later.username)).toBeNull();
    await store.users.create(later);
    expect((await store.users.findById(later.id))!.id).toBe(later.id);
    expect((await store.users.findByUsername(later.username))!.id).toBe(later.id);
  });
});

describe('SQLite connections remembered after a lookup', () => {
  let alice: UserRecord;
  let bob: UserRecord;
  const request = (from: UserRecord, to: UserRecord, now = at(0)) =>
    store.connections.request({ id: randomUUID(), fromId: from.id, toId: to.id, message: null, now, expiresAt: new Date(now.getTime() + HOUR), maxPending: 10 });
  const find = (now = at(1)) => store.connections.find(alice.id, bob.id, now);
  const stateNow = async (now = at(1)) => (await find(now))?.state ?? null;

  beforeEach(async () => {
    alice = makeUser();
    bob = makeUser();
    await store.users.create(alice);
    await store.users.create(bob);
  });

  const connected = async () => {
    expect((await request(alice, bob)).outcome).toBe('requested');
    expect(await store.connections.accept(alice.id, bob.id, at(1))).not.toBeNull();
    expect(await stateNow()).toBe('accepted'); // remembered
  };

  it('answers a second lookup, from either side, from memory', async () => {
    await connected();
    const first = await find();
    expect(await store.connections.find(bob.id, alice.id, at(2))).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
  });

  it('shows a pending request accepted', async () => {
    await request(alice, bob);
    expect(await stateNow()).toBe('pending');
    await store.connections.accept(alice.id, bob.id, at(1));
    expect(await stateNow()).toBe('accepted');
  });

  it('shows a request accepted by a crossing request', async () => {
    await request(alice, bob);
    expect(await stateNow()).toBe('pending');
    expect((await request(bob, alice, at(1))).outcome).toBe('accepted');
    expect(await stateNow()).toBe('accepted');
  });

  it('forgets a request rejected, and one cancelled', async () => {
    await request(alice, bob);
    expect(await stateNow()).toBe('pending');
    expect(await store.connections.reject(alice.id, bob.id, at(1))).toBe(true);
    expect(await stateNow()).toBeNull();
    await request(alice, bob, at(2));
    expect(await stateNow(at(3))).toBe('pending');
    expect(await store.connections.remove(alice.id, bob.id, at(3))).toBe('request');
    expect(await stateNow(at(4))).toBeNull();
  });

  it('forgets a connection removed by either side', async () => {
    await connected();
    expect(await store.connections.remove(bob.id, alice.id, at(2))).toBe('connection');
    expect(await stateNow(at(3))).toBeNull();
  });

  it('judges a remembered request by its expiry, and forgets one replaced after it expired or purged', async () => {
    await request(alice, bob);
    expect(await stateNow()).toBe('pending');
    expect(await stateNow(at(HOUR))).toBeNull(); // expired: not live, as the SQL says
    // A fresh request replaces the expired one (a new id).
    const fresh = await request(alice, bob, at(HOUR + 1));
    expect(fresh.outcome).toBe('requested');
    expect((await find(at(HOUR + 2)))!.id).toBe(fresh.outcome === 'requested' ? fresh.record.id : '');
    expect(await store.connections.purgeExpired(at(3 * HOUR))).toBe(1);
    // The purged row is gone even for a time at which it would still be live.
    expect(await find(at(HOUR + 2))).toBeNull();
  });

  it('forgets the connections of a deleted account (they go by ON DELETE CASCADE)', async () => {
    await connected();
    await store.users.delete(bob.id);
    expect(await stateNow(at(2))).toBeNull();
  });

  it('sees another connection remove the connection (the admin CLI, a second server)', async () => {
    await connected();
    otherConnection('DELETE FROM connections');
    await nextTurn();
    expect(await stateNow(at(2))).toBeNull();
  });

  it('remembers nothing absent: a connection made after a miss is found', async () => {
    expect(await stateNow(at(0))).toBeNull();
    await request(alice, bob);
    expect(await stateNow()).toBe('pending');
  });
});
