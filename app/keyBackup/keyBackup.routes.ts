import { z } from 'zod';
import { caller } from '../http/context.js';
import { defineRoute, type AnyRoute } from '../http/route.js';
import { keyBackupBody, keyBackupSchema } from './keyBackup.schema.js';
import type { KeyBackupService } from './keyBackup.service.js';

const TAG = 'Users';

/** PUT, GET and DELETE /users/me/key-backup (docs/protocol.md "Key backup"). */
export function keyBackupRoutes(service: KeyBackupService): AnyRoute[] {
  return [
    defineRoute({
      method: 'put',
      path: '/users/me/key-backup',
      tag: TAG,
      summary: "Store the account's key backup",
      description:
        'One per account; a new one replaces the old. `backup` must be an ASCII-armored, encrypted OpenPGP message (at most ' +
        '64 KiB): the private key the client encrypted with a passphrase (docs/protocol.md "Key backup"). The server never ' +
        'decrypts it. A key, a signature or a message that is not encrypted is 400 validation_failed. Server event (GET ' +
        '/signaling/poll): `key-backup.changed` (payload `{}`) to the account\'s other devices.',
      auth: true,
      body: keyBackupBody,
      responses: { 204: { description: 'Stored.' } },
      errors: ['validation_failed'],
      handler: async (ctx, { body }) => {
        await service.save(caller(ctx), body.backup);
        ctx.status = 204;
      },
    }),
    defineRoute({
      method: 'get',
      path: '/users/me/key-backup',
      tag: TAG,
      summary: "The account's key backup",
      description: 'The message as uploaded and when it was written; 404 not_found when the account has none.',
      auth: true,
      responses: { 200: { description: 'The backup.', schema: keyBackupSchema } },
      errors: ['not_found'],
      handler: async (ctx) => {
        const record = await service.load(caller(ctx));
        ctx.body = { backup: record.backup, updatedAt: record.updatedAt.toISOString() } satisfies z.infer<typeof keyBackupSchema>;
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/users/me/key-backup',
      tag: TAG,
      summary: "Delete the account's key backup",
      description:
        'Deleting when there is none also answers 204. When there was one, server event `key-backup.changed` (payload `{}`) ' +
        "to the account's other devices.",
      auth: true,
      responses: { 204: { description: 'Deleted.' } },
      handler: async (ctx) => {
        await service.remove(caller(ctx));
        ctx.status = 204;
      },
    }),
  ];
}
