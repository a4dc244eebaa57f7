import { defaultOf } from '../config/defaults.js';
import { z } from 'zod';
import { caller } from '../http/context.js';
import { defineRoute, type AnyRoute } from '../http/route.js';
import type { SecurityEventType } from '../store/types.js';
import type { SecurityEvents } from './securityEvents.service.js';

export const SECURITY_EVENTS_LIMIT_DEFAULT = 50;
export const SECURITY_EVENTS_LIMIT_MAX = 100;
const limitMessage = `must be a whole number from 1 to ${SECURITY_EVENTS_LIMIT_MAX}`;

/** Every type, with what causes it: the reference's words. */
export const SECURITY_EVENT_DOCS = Object.freeze({
  login: 'a sign-in from a client network the account signed in or registered from within SESSION_MAX_AGE',
  'login.new-network': 'a sign-in from any other network (registering marks its network as signed in from)',
  logout: 'POST /auth/logout, or DELETE /users/me/devices/{id} of the calling device',
  'device.removed': 'DELETE /users/me/devices/{id} of another device; the entry names the device that removed it',
  'password.changed': 'POST /auth/change-password',
  'password.reset': 'POST /auth/reset-password; no device',
  '2fa.enabled': 'POST /auth/2fa/enable',
  '2fa.disabled': "POST /auth/2fa/disable, or the operator's `admin 2fa-reset` with no device and no network",
  '2fa.recovery-used': 'a recovery code stood in for the TOTP code at sign-in; the entry names the new device',
  'key.changed': 'PUT /auth/pgp-key, or DELETE /auth/pgp-key of a stored key',
  'key-backup.changed': 'PUT /users/me/key-backup, or DELETE of a stored backup',
  'account.disabled': "the operator's `admin users disable`, with no device and no network",
} as const satisfies Record<SecurityEventType, string>);

const TYPES = Object.keys(SECURITY_EVENT_DOCS) as [SecurityEventType, ...SecurityEventType[]];

export const securityEventsQuery = z.strictObject({
  limit: z
    .string()
    .regex(/^\d{1,3}$/, limitMessage)
    .transform(Number)
    .pipe(z.number().int().min(1, limitMessage).max(SECURITY_EVENTS_LIMIT_MAX, limitMessage))
    .default(SECURITY_EVENTS_LIMIT_DEFAULT)
    .describe(`1-${SECURITY_EVENTS_LIMIT_MAX}, default ${SECURITY_EVENTS_LIMIT_DEFAULT}`),
});

const securityEventSchema = z.object({
  id: z.string(),
  type: z.enum(TYPES),
  at: z.string().describe('ISO-8601 UTC'),
  deviceId: z.string().nullable().describe('the device (session) that acted; null for a password reset and the operator'),
  platform: z.string().nullable().describe("that device's platform as it gave it at sign-in; null when none"),
  network: z.string().nullable().describe('the coarse client network: an IPv4 /24 (192.0.2.0/24) or IPv6 /48 (2001:db8:1::/48); null for the operator'),
});

/** The account's security log (`GET /users/me/security-events`). */
export function securityEventRoutes(events: SecurityEvents): AnyRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/users/me/security-events',
      tag: 'Users',
      summary: "The account's security log, newest first",
      description:
        'What happened to the account: ' +
        TYPES.map((t) => `\`${t}\` (${SECURITY_EVENT_DOCS[t]})`).join('; ') +
        `. Entries are kept SECURITY_EVENTS_TTL (default ${defaultOf('SECURITY_EVENTS_TTL')}). \`limit\` is 1-100, default 50.`,
      auth: true,
      query: securityEventsQuery,
      responses: { 200: { description: 'The newest entries.', schema: z.object({ events: z.array(securityEventSchema) }) } },
      handler: async (ctx, { query }) => {
        const list = await events.list(caller(ctx).userId, query.limit);
        // Field by field: the store's actor stays out of the wire shape (the operator's entries have no device and no network).
        ctx.body = {
          events: list.map((e) => ({ id: e.id, type: e.type, at: e.at.toISOString(), deviceId: e.deviceId, platform: e.platform, network: e.network })),
        };
      },
    }),
  ];
}
