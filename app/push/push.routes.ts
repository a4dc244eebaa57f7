import { defaultOf } from '../config/defaults.js';
import { z } from 'zod';
import { caller } from '../http/context.js';
import { defineRoute, type AnyRoute } from '../http/route.js';
import type { EndpointPolicy } from './endpoint.js';
import { pushParams, subscriptionBody, subscriptionSchema, vapidKeySchema } from './push.schema.js';
import type { PushService, SubscriptionView } from './push.service.js';

const TAG = 'Push';

const presentSubscription = (s: SubscriptionView) => ({ kind: s.kind, origin: s.origin, createdAt: s.createdAt.toISOString() });

/** Push wake-ups: a device's subscription, and the VAPID key browsers subscribe with. */
export function pushRoutes(service: PushService, policy: EndpointPolicy): AnyRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/push/vapid-public-key',
      tag: TAG,
      summary: 'The VAPID public key (RFC 8292) to subscribe browsers with',
      description:
        'Pass it as `applicationServerKey` to `PushManager.subscribe`. Generated once into DATA_DIR (or VAPID_PRIVATE_KEY); a new key ' +
        'orphans every browser subscription. No sign-in needed: a service worker may subscribe before the app signs in.',
      auth: false,
      responses: { 200: { description: 'The key.', schema: vapidKeySchema } },
      errors: ['unavailable'],
      handler: (ctx) => {
        ctx.body = { publicKey: service.vapidPublicKey() };
      },
    }),
    defineRoute({
      method: 'put',
      path: '/users/me/devices/:id/push',
      tag: TAG,
      summary: 'Subscribe a device to push wake-ups',
      description:
        'When a signal or server event arrives for this device while it holds no long-poll, Signalbox sends it a content-free ' +
        'wake-up: `{type: "wake", reason: "signal"|"event", count}` (never the sender, the type of signal or a payload), at most ' +
        'one per PUSH_COALESCE_MS. Either a Web Push subscription (`kind: "webpush"`, the browser\'s or UnifiedPush ' +
        "distributor's PushSubscription JSON: RFC 8030 with an RFC 8291 aes128gcm body and RFC 8292 VAPID) or a Matrix push " +
        'gateway (`kind: "gateway"`, Push Gateway API v1, e.g. Sygnal for APNs and FCM). One subscription per device: a new one ' +
        'replaces the old. URLs must be https (unless PUSH_ALLOW_HTTP) and resolve to public addresses only (unless ' +
        'PUSH_ALLOW_PRIVATE), checked now and again at every connection. A 404 or 410 from the push service removes the ' +
        `subscription. Counted per user (RATE_PUSH_USER, default ${defaultOf('RATE_PUSH_USER')}). Another account's device is 404.`,
      auth: true,
      params: pushParams,
      body: subscriptionBody(policy),
      responses: { 200: { description: 'Subscribed.', schema: z.object({ push: subscriptionSchema }) } },
      errors: ['not_found', 'rate_limited', 'unavailable'],
      handler: async (ctx, { params, body }) => {
        ctx.body = { push: presentSubscription(await service.subscribe(caller(ctx), params.id, body)) };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/users/me/devices/:id/push',
      tag: TAG,
      summary: "A device's push subscription",
      description: 'Its kind, the origin it goes to and when it was made; never the keys or the pushkey. 404 when the device has none.',
      auth: true,
      params: pushParams,
      responses: { 200: { description: 'The subscription.', schema: z.object({ push: subscriptionSchema }) } },
      errors: ['not_found'],
      handler: async (ctx, { params }) => {
        ctx.body = { push: presentSubscription(await service.get(caller(ctx), params.id)) };
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/users/me/devices/:id/push',
      tag: TAG,
      summary: "Remove a device's push subscription",
      description: 'No more wake-ups for this device. 204 whether or not it had one; 404 when the device is not yours.',
      auth: true,
      params: pushParams,
      responses: { 204: { description: 'Removed.' } },
      errors: ['not_found'],
      handler: async (ctx, { params }) => {
        await service.unsubscribe(caller(ctx), params.id);
        ctx.status = 204;
      },
    }),
  ];
}
