import type { Platform } from '../core/platform.js';
import type { Feature } from '../http/router.js';
import { keyBackupRoutes } from './keyBackup.routes.js';
import { KeyBackupService } from './keyBackup.service.js';

/** The account's passphrase-encrypted key backup (docs/protocol.md "Key backup"). */
export function createKeyBackup(d: Pick<Platform, 'config' | 'store' | 'clock'>): Feature {
  return { routes: keyBackupRoutes(new KeyBackupService({ store: d.store, clock: d.clock, signalTtl: d.config.signalTtl })) };
}
