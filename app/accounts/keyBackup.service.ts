import type { Config } from '../config/parse.js';
import type { Caller, EventOrigin } from '../core/caller.js';
import { notFound, unauthorized, validationFailed } from '../core/errors.js';
import { serverEvent } from '../core/serverEvents.js';
import type { Clock } from '../lib/clock.js';
import type { KeyBackupRecord, Store, UserRecord } from '../store/types.js';
import { isArmoredEncryptedMessage } from './keyBackupCheck.js';
import type { SecurityEvents } from './securityEvents.service.js';

export interface KeyBackupDeps {
  store: Store;
  clock: Clock;
  /** `signalTtl`: how long the `key-backup.changed` events stay in the mailboxes. */
  config: Pick<Config, 'signalTtl' | 'eventsMax'>;
  securityEvents: SecurityEvents;
}

/**
 * The account's one key backup (docs/api.md): an armored OpenPGP message the SDK encrypted with the
 * user's passphrase; the server checks only its shape and never reads it. Every write or deletion
 * tells the account's other devices (`key-backup.changed`, in the same transaction) and the security log.
 */
export class KeyBackupService {
  constructor(private readonly d: KeyBackupDeps) {}

  async get(auth: Caller): Promise<KeyBackupRecord> {
    const backup = await this.d.store.keyBackups.get(auth.userId);
    if (!backup) throw notFound('No key backup is stored.');
    return backup;
  }

  /** Stores or replaces the backup after the shape check (400 validation_failed for anything but an encrypted message). */
  async put(auth: Caller, user: UserRecord, backup: string, origin: EventOrigin): Promise<void> {
    if (!isArmoredEncryptedMessage(backup)) {
      throw validationFailed([{ field: 'backup', message: 'must be an ASCII-armored, encrypted OpenPGP message (-----BEGIN PGP MESSAGE-----)' }]);
    }
    const now = new Date(this.d.clock.now());
    if (!(await this.d.store.keyBackups.put({ userId: user.id, backup, updatedAt: now }, this.events(auth, user, now)))) {
      throw unauthorized('The session has ended; sign in again.');
    }
    await this.d.securityEvents.record(user.id, 'key-backup.changed', origin);
  }

  /** Removes the backup; removing none is not an error (the end state is the same) and tells nobody. */
  async delete(auth: Caller, user: UserRecord, origin: EventOrigin): Promise<void> {
    const now = new Date(this.d.clock.now());
    if (await this.d.store.keyBackups.delete(user.id, this.events(auth, user, now))) {
      await this.d.securityEvents.record(user.id, 'key-backup.changed', origin);
    }
  }

  /** `key-backup.changed` (payload `{}`) to every device of the account but the one acting. */
  private events(auth: Caller, user: UserRecord, now: Date) {
    return () => [
      serverEvent(
        'key-backup.changed',
        user,
        {},
        { userId: user.id, exceptDevice: auth.sessionId },
        { now, ttlSeconds: this.d.config.signalTtl, eventsMax: this.d.config.eventsMax },
      ),
    ];
  }
}
