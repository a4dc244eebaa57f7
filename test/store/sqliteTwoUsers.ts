import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from '@jest/globals';
import { openSqliteStore } from '../../app/store/sqlite/index.js';
import type { MailboxEntry, Store } from '../../app/store/types.js';
import { makeSession, makeUser } from './contract.js';
import { at } from './contractTime.js';

/** A SQLite store on a file of its own, with Alice, and Bob signed in on one device (his phone). */
export interface TwoUsersOnSqlite {
  file: string;
  /** Closed after each test; a test that opens the file again assigns its new store here so that one is closed. */
  store: Store;
  alice: string;
  bob: string;
  bobPhone: string;
}

/** Makes the fixture fresh before each test (on a new file in a temp dir) and removes it after. */
export function useTwoUsersOnSqlite(dirPrefix: string): TwoUsersOnSqlite {
  const fx = {} as TwoUsersOnSqlite;
  let dir = '';
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), dirPrefix));
    fx.file = join(dir, 'signalbox.db');
    fx.store = openSqliteStore(fx.file);
    const a = makeUser();
    const b = makeUser();
    await fx.store.users.create(a);
    await fx.store.users.create(b);
    fx.alice = a.id;
    fx.bob = b.id;
    const phone = makeSession(fx.bob);
    await fx.store.sessions.create(phone, `refresh_${randomUUID()}`);
    fx.bobPhone = phone.id;
  });
  afterEach(async () => {
    await fx.store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return fx;
}

/** A signal from Alice (`senderId`), an offer with no session, created at `createdAt` and live for 300 s. */
export function signalFrom(alice: string, payload: string, opts: { id?: string; createdAt?: Date } = {}): MailboxEntry {
  const createdAt = opts.createdAt ?? at(0);
  return {
    id: opts.id ?? randomUUID(),
    senderId: alice,
    senderUsername: 'alice',
    senderDeviceId: null,
    type: 'offer',
    payload,
    sessionId: null,
    createdAt,
    expiresAt: new Date(createdAt.getTime() + 300_000),
  };
}
