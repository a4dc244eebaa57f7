import { defaultOf } from '../config/defaults.js';
import type { RateLimiter } from '../core/rateLimiter.js';
import { caller, originOf } from '../http/context.js';
import { defineRoute, type AnyRoute } from '../http/route.js';
import type { AccountService } from './accounts.service.js';
import { keyBackupBody, keyBackupResponse } from './keyBackup.schema.js';
import type { KeyBackupService } from './keyBackup.service.js';

const TAG = 'Users';

const TOLD =
  'Server event (GET /signaling/poll): `key-backup.changed` (payload `{}`) to your other devices, written with the change; ' +
  'the security log gets a `key-backup.changed` entry.';

const LIMITED = `Writes and deletions together are limited per user (RATE_KEY_BACKUP_USER, default ${defaultOf('RATE_KEY_BACKUP_USER')}): past it, 429.`;

/** The account's one key backup (`/users/me/key-backup`): opaque to the server, for the SDK's keys.saveBackup/loadBackup. */
export function keyBackupRoutes(backups: KeyBackupService, accounts: AccountService, limiter: RateLimiter): AnyRoute[] {
  // Writes and deletions share one per-user budget (RATE_KEY_BACKUP_USER); reads are not counted.
  const countChange = (userId: string) => limiter.consume('keyBackupPerUser', userId);
  return [
    defineRoute({
      method: 'put',
      path: '/users/me/key-backup',
      tag: TAG,
      summary: 'Store or replace the key backup',
      description:
        'One per account; a new one replaces the old. `backup` must be an ASCII-armored OpenPGP message that is encrypted: ' +
        'one or more session-key packets (public-key or passphrase) followed by one encrypted-data packet, the armor checksum ' +
        'right when present, nothing after the armor. A key (public or secret), a signature, an unencrypted message or ' +
        `anything else is 400 validation_failed; so is more than 64 KiB (a body over MAX_BODY_BYTES, default ${defaultOf('MAX_BODY_BYTES')}, is 413 ` +
        'first). The check reads only the framing, never decrypts. ' +
        TOLD +
        ' ' +
        LIMITED,
      auth: true,
      body: keyBackupBody,
      responses: { 204: { description: 'Stored.' } },
      errors: ['rate_limited'],
      handler: async (ctx, { body }) => {
        const auth = caller(ctx);
        await countChange(auth.userId);
        await backups.put(auth, await accounts.requireUser(auth), body.backup, originOf(ctx));
        ctx.status = 204;
      },
    }),
    defineRoute({
      method: 'get',
      path: '/users/me/key-backup',
      tag: TAG,
      summary: 'The key backup',
      description: 'Exactly what was stored, and when. 404 not_found when there is none.',
      auth: true,
      responses: { 200: { description: 'The backup.', schema: keyBackupResponse } },
      errors: ['not_found'],
      handler: async (ctx) => {
        const backup = await backups.get(caller(ctx));
        ctx.body = { backup: backup.backup, updatedAt: backup.updatedAt.toISOString() };
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/users/me/key-backup',
      tag: TAG,
      summary: 'Delete the key backup',
      description: `Deleting when there is none also answers 204 (and tells nobody). ${TOLD} ${LIMITED}`,
      auth: true,
      responses: { 204: { description: 'Deleted.' } },
      errors: ['rate_limited'],
      handler: async (ctx) => {
        const auth = caller(ctx);
        await countChange(auth.userId);
        await backups.delete(auth, await accounts.requireUser(auth), originOf(ctx));
        ctx.status = 204;
      },
    }),
  ];
}
