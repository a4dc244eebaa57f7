import { z } from 'zod';
import { BUNDLE_ID } from '../config/parsers.js';
import { ENDPOINT_MAX_LENGTH, endpointFormProblem, type EndpointPolicy } from './endpoint.js';

/** The path every Matrix push gateway serves (Push Gateway API v1). */
export const GATEWAY_NOTIFY_PATH = '/_matrix/push/v1/notify';

const base64url = (bytes: number, what: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_-]+={0,2}$/, `must be base64url (${what})`)
    .refine((s) => Buffer.from(s, 'base64url').length === bytes, `must be ${bytes} bytes of base64url (${what})`);

const url = (policy: EndpointPolicy, extra?: (u: URL) => string | null) =>
  z
    .string()
    .max(ENDPOINT_MAX_LENGTH)
    .superRefine((raw, ctx) => {
      const problem = endpointFormProblem(raw, policy) ?? extra?.(new URL(raw)) ?? null;
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });

/**
 * `PUT /users/me/devices/{id}/push`: a browser's or UnifiedPush distributor's PushSubscription JSON with
 * `kind: "webpush"`, a Matrix push gateway, or an APNs or FCM token for direct pushes (when configured). URLs are judged by their form here and by where they
 * resolve in the service (the policy: PUSH_ALLOW_HTTP, PUSH_ALLOW_PRIVATE).
 */
export const subscriptionBody = (policy: EndpointPolicy) =>
  z.discriminatedUnion('kind', [
    z.strictObject({
      kind: z.literal('webpush'),
      endpoint: url(policy).describe('the push service URL of PushSubscription.endpoint'),
      keys: z.strictObject({
        p256dh: base64url(65, 'the P-256 public key, uncompressed').refine((s) => Buffer.from(s, 'base64url')[0] === 4, 'must be an uncompressed P-256 point'),
        auth: base64url(16, 'the authentication secret'),
      }),
      // PushSubscription.toJSON() carries it; accepted so the JSON can be passed as is, and not used.
      expirationTime: z.number().nullable().optional(),
    }),
    z.strictObject({
      kind: z.literal('gateway'),
      url: url(policy, (u) => (u.pathname === GATEWAY_NOTIFY_PATH ? null : `must end in ${GATEWAY_NOTIFY_PATH}`)).describe(
        `the push gateway's notify URL, e.g. https://push.example.com${GATEWAY_NOTIFY_PATH}`,
      ),
      pushkey: z.string().min(1).max(512).describe('the APNs device token or FCM registration id the gateway knows the device by'),
      appId: z.string().min(1).max(64).describe('the app id the gateway is configured with (Sygnal: the app key)'),
    }),
    z.strictObject({
      kind: z.literal('apns'),
      token: z
        .string()
        .regex(/^([0-9a-fA-F]{2}){32,100}$/, "must be the APNs device token in hex (64 hex digits for today's tokens)")
        .describe('the device token in hex: PKPushCredentials.token (VoIP) or the one didRegisterForRemoteNotificationsWithDeviceToken gives'),
      topic: z
        .string()
        .max(255)
        .regex(BUNDLE_ID, 'must be an app bundle id like com.example.app')
        .refine((t) => !t.endsWith('.voip'), 'must be the bundle id without .voip (set voip: true)')
        .optional()
        .describe('the app bundle id; default APNS_TOPIC'),
      voip: z.boolean().optional().describe('true: a PushKit VoIP token (pushes to <topic>.voip, apns-push-type voip, only for offers)'),
      environment: z.enum(['production', 'sandbox']).optional().describe('sandbox for development builds; default production'),
    }),
    z.strictObject({
      kind: z.literal('fcm'),
      token: z.string().min(1).max(4096).regex(/^\S+$/, 'must be an FCM registration token').describe('the FCM registration token (FirebaseMessaging.getToken())'),
    }),
  ]);

export type SubscriptionBody = z.infer<ReturnType<typeof subscriptionBody>>;

export const pushParams = z.strictObject({ id: z.string().min(1).max(128).describe('a deviceId from GET /users/me/devices') });

/** What a client sees of a subscription: never the keys, the pushkey or the full endpoint (they are capabilities). */
export const subscriptionSchema = z.object({
  kind: z.enum(['webpush', 'gateway', 'apns', 'fcm']),
  origin: z.string().describe('scheme and host of the endpoint or gateway (APNs, FCM: the configured host)'),
  createdAt: z.string(),
});

export const vapidKeySchema = z.object({ publicKey: z.string().describe('the VAPID public key, base64url: PushManager.subscribe({applicationServerKey})') });
