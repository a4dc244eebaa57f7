import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import Database from '../../app/store/sqlite/driver.js';
import { openSqliteStore } from '../../app/store/sqlite/index.js';
import type { Store } from '../../app/store/types.js';

// Written by the store of release 0.1.0 (schema 10, per-user mailboxes): see make-release-db.mjs beside it.
const RELEASE_DB = new URL('../fixtures/db/release-0.1.0.sqlite', import.meta.url).pathname;
const T0 = Date.parse('2100-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms);
const limits = { max: 500, perSender: 100 };

describe('SQLite upgrade from a database made by release 0.1.0', () => {
  let dir: string;
  let store: Store;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'signalbox-upgrade-'));
    copyFileSync(RELEASE_DB, join(dir, 'signalbox.db'));
    store = openSqliteStore(join(dir, 'signalbox.db'));
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("moves each user's pending signals to every one of their sessions, whole and in order", async () => {
    for (const device of ['session-bob-phone', 'session-bob-tablet']) {
      const pending = await store.signals.pending(device, at(10), 10);
      expect(pending.map((s) => [s.seq, s.id, s.payload, s.sessionId, s.senderDeviceId])).toEqual([
        [2, 'signal-bob-2', 'payload 2 to bob', null, null],
        [3, 'signal-bob-3', 'payload 3 to bob', 'call-1', null],
      ]);
      expect(pending[0]).toMatchObject({ senderId: 'user-alice', senderUsername: 'alice', type: 'offer', createdAt: at(2), expiresAt: at(300_002) });
    }
  });

  it("continues each device's numbering after the user's, so cursors never go back", async () => {
    const signal = {
      id: 'after-upgrade',
      senderId: 'user-alice',
      senderUsername: 'alice',
      senderDeviceId: 'session-alice',
      type: 'answer' as const,
      payload: 'new',
      sessionId: null,
      createdAt: at(10),
      expiresAt: at(300_010),
    };
    expect(await store.signals.send({ signal, toUserId: 'user-bob', now: at(10), limits })).toEqual({
      outcome: 'stored',
      devices: ['session-bob-phone', 'session-bob-tablet'],
    });
    expect((await store.signals.pending('session-bob-phone', at(11), 10)).map((s) => s.seq)).toEqual([2, 3, 4]);
    expect(await store.signals.ack('session-bob-phone', 3)).toBe(2);
    expect((await store.signals.pending('session-bob-tablet', at(11), 10)).map((s) => s.seq)).toEqual([2, 3, 4]);
  });

  it('keeps the accounts and sessions, and counts exactly the moved signals', async () => {
    expect(await store.users.findByUsername('bob')).toMatchObject({ id: 'user-bob' });
    expect(await store.sessions.findById('session-bob-tablet')).toMatchObject({ userId: 'user-bob' });
    // Bob's two on each of his two devices; Carol had no session, so no device to hold hers.
    expect(await store.signals.countPending(at(10))).toBe(4);
  });

  it('leaves no per-user mailbox tables behind', () => {
    const db = new Database(join(dir, 'signalbox.db'), { readonly: true });
    try {
      const tables = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .all()
        .map((r) => (r as { name: string }).name);
      expect(tables).toEqual(expect.arrayContaining(['device_signals', 'device_mailboxes', 'sent_signals']));
      expect(tables).not.toContain('signals');
      expect(tables).not.toContain('mailboxes');
    } finally {
      db.close();
    }
  });
});
