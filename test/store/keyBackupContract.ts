import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from '@jest/globals';
import type { KeyBackupRecord, ServerEvent, Store } from '../../app/store/types.js';
import { freshStorePerTest, makeSession, makeUser, type OpenedStore } from './contract.js';
import { at } from './contractTime.js';

/** The KeyBackupStore contract (docs/protocol.md "Key backup"): one opaque backup per account, with its events. */
export function describeKeyBackupStoreContract(label: string, open: () => Promise<OpenedStore>): void {
  describe(`${label} store contract: key backups`, () => {
    let store: Store;
    let ana: string;
    let phone: string;
    let laptop: string;
    freshStorePerTest(open, (s) => (store = s));

    beforeEach(async () => {
      const u = makeUser();
      await store.users.create(u);
      ana = u.id;
      for (const [i, set] of [(id: string) => (phone = id), (id: string) => (laptop = id)].entries()) {
        const s = makeSession(ana, { createdAt: at(i) });
        await store.sessions.create(s, `refresh_${randomUUID()}`);
        set(s.id);
      }
    });

    const record = (overrides: Partial<KeyBackupRecord> = {}): KeyBackupRecord => ({ userId: ana, backup: `-----BEGIN PGP MESSAGE-----\n${randomUUID()}`, updatedAt: at(1), ...overrides });
    const changed = (): ServerEvent[] => [
      {
        entry: { id: randomUUID(), senderId: ana, senderUsername: 'ana', senderDeviceId: null, type: 'key-backup.changed', payload: '{}', sessionId: null, createdAt: at(1), expiresAt: at(300) },
        to: { userId: ana, exceptDevice: phone },
      },
    ];
    const eventsOn = async (deviceId: string) => (await store.signals.pending(deviceId, at(2), 100)).map((s) => s.type);

    it('stores one backup per user, replaced by the next, read back whole', async () => {
      const first = record();
      expect(await store.keyBackups.put(first)).toBe(true);
      expect(await store.keyBackups.get(ana)).toEqual(first);
      const second = record({ updatedAt: at(5) });
      expect(await store.keyBackups.put(second)).toBe(true);
      expect(await store.keyBackups.get(ana)).toEqual(second);
      expect(await store.keyBackups.get(randomUUID())).toBeNull();
    });

    it('writes its events with it: to the other devices, not the writing one', async () => {
      await store.keyBackups.put(record(), changed);
      expect(await eventsOn(laptop)).toEqual(['key-backup.changed']);
      expect(await eventsOn(phone)).toEqual([]);
    });

    it('stores nothing (and no event) for a user that does not exist', async () => {
      expect(await store.keyBackups.put(record({ userId: randomUUID() }), changed)).toBe(false);
      expect(await eventsOn(laptop)).toEqual([]);
    });

    it('deletes it with its events; deleting none answers false and writes no event', async () => {
      await store.keyBackups.put(record());
      expect(await store.keyBackups.delete(ana, changed)).toBe(true);
      expect(await store.keyBackups.get(ana)).toBeNull();
      expect(await store.keyBackups.delete(ana, changed)).toBe(false);
      expect(await eventsOn(laptop)).toEqual(['key-backup.changed']);
    });

    it('is gone with the user', async () => {
      await store.keyBackups.put(record());
      await store.users.delete(ana);
      expect(await store.keyBackups.get(ana)).toBeNull();
    });
  });
}
