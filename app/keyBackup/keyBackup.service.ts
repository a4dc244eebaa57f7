import type { Caller } from '../core/caller.js';
import { notFound, unauthorized, validationFailed } from '../core/errors.js';
import { serverEvent } from '../core/serverEvents.js';
import type { Clock } from '../lib/clock.js';
import type { KeyBackupRecord, Store } from '../store/types.js';
import { keyBackupProblem } from './keyBackupMessage.js';

export interface KeyBackupServiceDeps {
  store: Store;
  clock: Clock;
  /** SIGNAL_TTL: how long the key-backup.changed events stay in the mailboxes. */
  signalTtl: number;
}

/**
 * The account's key backup (docs/protocol.md "Key backup"): the client's passphrase-encrypted private
 * key, kept as an opaque OpenPGP message, one per account. Each write or deletion tells the account's
 * other devices (`key-backup.changed`), so a backup nobody on the account made does not go unnoticed.
 */
export class KeyBackupService {
  constructor(private readonly d: KeyBackupServiceDeps) {}

  async save(auth: Caller, backup: string): Promise<void> {
    const problem = await keyBackupProblem(backup);
    if (problem) throw validationFailed([{ field: 'backup', message: problem }]);
    const now = new Date(this.d.clock.now());
    const user = await this.requireUser(auth);
    const record: KeyBackupRecord = { userId: user.id, backup, updatedAt: now };
    if (!(await this.d.store.keyBackups.put(record, this.changed(auth, user, now)))) throw unauthorized('The session has ended; sign in again.');
  }

  async load(auth: Caller): Promise<KeyBackupRecord> {
    const record = await this.d.store.keyBackups.get(auth.userId);
    if (!record) throw notFound('This account has no key backup.');
    return record;
  }

  /** Deleting none is not an error (the end state is the same), and then nobody is told. */
  async remove(auth: Caller): Promise<void> {
    const user = await this.requireUser(auth);
    await this.d.store.keyBackups.delete(user.id, this.changed(auth, user, new Date(this.d.clock.now())));
  }

  private changed(auth: Caller, user: { id: string; username: string }, now: Date) {
    return () => [serverEvent('key-backup.changed', user, {}, { userId: user.id, exceptDevice: auth.sessionId }, { now, ttlSeconds: this.d.signalTtl })];
  }

  private async requireUser(auth: Caller) {
    const user = await this.d.store.users.findById(auth.userId);
    if (!user) throw unauthorized('The session has ended; sign in again.');
    return user;
  }
}
