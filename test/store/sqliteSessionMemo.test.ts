import Database from '../../app/store/sqlite/driver.js';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { openSqliteStore } from '../../app/store/sqlite/index.js';
import type { Store } from '../../app/store/types.js';
import { makeSession, makeUser } from './contract.js';
import { at } from './contractTime.js';

/** A real HTTP server on loopback whose every request answers `lookup()`'s session id (or "none"). */
async function listen(lookup: () => Promise<{ id: string } | null>): Promise<{ port: number; close: () => Promise<void> }> {
  const server = createServer((_req, res) => {
    void lookup().then((found) => res.end(found ? found.id : 'none'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const ask = async (port: number) => (await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' } })).text();

/** What `lookup` answers when run for a request that arrives now. */
async function inNextRequest<T extends { id: string } | null>(lookup: () => Promise<T>): Promise<string> {
  const { port, close } = await listen(lookup);
  try {
    return await ask(port);
  } finally {
    await close();
  }
}

/**
 * The SQLite adapter remembers the sessions it found (bench/README.md: every request looks its session up).
 * Each way a session can end or change must be seen by the very next lookup, or revocation is late.
 */
describe('SQLite sessions remembered after a lookup', () => {
  let dir: string;
  let file: string;
  let store: Store;
  let userId: string;
  let sessionId: string;
  let refresh: string;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'signalbox-session-memo-'));
    file = join(dir, 'signalbox.db');
    store = openSqliteStore(file);
    const user = makeUser();
    await store.users.create(user);
    userId = user.id;
    const session = makeSession(userId);
    refresh = `refresh_${randomUUID()}`;
    await store.sessions.create(session, refresh);
    sessionId = session.id;
    expect(await store.sessions.findById(sessionId)).not.toBeNull(); // now remembered
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers a second lookup from memory, with an object no caller can change', async () => {
    const first = await store.sessions.findById(sessionId);
    const second = await store.sessions.findById(sessionId);
    expect(second).toBe(first);
    expect(Object.isFrozen(second)).toBe(true);
  });

  it('forgets a session ended through the session store (logout, device removal, sign out elsewhere)', async () => {
    await store.sessions.delete(sessionId);
    expect(await store.sessions.findById(sessionId)).toBeNull();
  });

  it('forgets a session removed by its owner as a device', async () => {
    await store.sessions.deleteOfUser(sessionId, userId);
    expect(await store.sessions.findById(sessionId)).toBeNull();
  });

  it('forgets every session of a user ended at once (password change or reset)', async () => {
    await store.sessions.deleteByUser(userId);
    expect(await store.sessions.findById(sessionId)).toBeNull();
  });

  it('forgets the sessions of a deleted account (they go by ON DELETE CASCADE, not by the session store)', async () => {
    await store.users.delete(userId);
    expect(await store.sessions.findById(sessionId)).toBeNull();
  });

  it('forgets the sessions of a disabled account', async () => {
    await store.users.setDisabled(userId, at(1));
    expect(await store.sessions.findById(sessionId)).toBeNull();
  });

  it('forgets a session whose refresh token was presented twice (the reuse ends it)', async () => {
    const next = `refresh_${randomUUID()}`;
    expect((await store.sessions.rotateRefreshToken(refresh, next, at(1), at(7200_000))).outcome).toBe('rotated');
    expect((await store.sessions.findById(sessionId))!.expiresAt).toEqual(at(7200_000));
    expect((await store.sessions.rotateRefreshToken(refresh, `refresh_${randomUUID()}`, at(2), at(7200_000))).outcome).toBe('reused');
    expect(await store.sessions.findById(sessionId)).toBeNull();
  });

  it('forgets sessions trimmed to the most recent and expired sessions purged', async () => {
    const newer = makeSession(userId, { createdAt: at(10) });
    await store.sessions.create(newer, `refresh_${randomUUID()}`);
    expect(await store.sessions.trimToMostRecent(userId, 1, newer.id, at(20))).toEqual([sessionId]);
    expect(await store.sessions.findById(sessionId)).toBeNull();

    expect(await store.sessions.findById(newer.id)).not.toBeNull();
    await store.sessions.purgeExpired(at(100 * 3600_000));
    expect(await store.sessions.findById(newer.id)).toBeNull();
  });

  it('shows a new lastSeen after a touch', async () => {
    await store.sessions.touch(sessionId, at(5));
    expect((await store.sessions.findById(sessionId))!.lastSeen).toEqual(at(5));
  });

  // Another connection's commit is noticed by every request that arrives after it, and by work that a
  // timer starts in a later turn of the event loop (otherWriters.ts says why that is enough).
  it('forgets a session another connection to the file deleted, for the next request (the admin CLI, a second server)', async () => {
    const other = new Database(file);
    try {
      other.prepare('DELETE FROM sessions WHERE id = ?').run(sessionId);
    } finally {
      other.close();
    }
    expect(await inNextRequest(() => store.sessions.findById(sessionId))).toBe('none');
  });

  it('forgets a user another connection disabled, with its sessions, in the next turn of the event loop', async () => {
    const second = openSqliteStore(file);
    try {
      await second.users.setDisabled(userId, at(1));
    } finally {
      await second.close();
    }
    await new Promise((resolve) => setImmediate(resolve));
    expect(await store.sessions.findById(sessionId)).toBeNull();
  });

  it('answers no request from a reading taken before it was sent (a client asking again after the admin changed it)', async () => {
    // A request in flight reads (and remembers) the session; the admin deletes it; a request sent after
    // that must not be answered from the reading taken before it.
    const { port, close } = await listen(async () => store.sessions.findById(sessionId));
    try {
      expect(await ask(port)).toBe(sessionId);
      const other = new Database(file);
      other.prepare('DELETE FROM sessions WHERE id = ?').run(sessionId);
      other.close();
      expect(await ask(port)).toBe('none');
    } finally {
      await close();
    }
  });

  it('remembers nothing absent: a session created after a miss is found', async () => {
    const later = makeSession(userId);
    expect(await store.sessions.findById(later.id)).toBeNull();
    await store.sessions.create(later, `refresh_${randomUUID()}`);
    expect((await store.sessions.findById(later.id))!.id).toBe(later.id);
  });
});
