import type { Config } from '../config/parse.js';
import type { Caller } from '../core/caller.js';
import { notFound, unavailable, validationFailed } from '../core/errors.js';
import type { RateLimiter } from '../core/rateLimiter.js';
import type { Clock } from '../lib/clock.js';
import type { FieldCipher } from '../lib/fieldCipher.js';
import type { PushSubscriptionRecord, Store } from '../store/types.js';
import { endpointAddressProblem, type EndpointPolicy } from './endpoint.js';
import type { SubscriptionBody } from './push.schema.js';
import { sealTarget, targetOrigin, targetUrl, type PushTarget, type ServiceOrigins } from './targets.js';

export interface PushServiceDeps {
  store: Store;
  cipher: FieldCipher;
  clock: Clock;
  limiter: RateLimiter;
  config: Pick<Config, 'vapid'>;
  policy: EndpointPolicy;
  /** Which of direct APNs and FCM the operator configured (their credentials loaded). */
  configured: { apns: boolean; fcm: boolean };
  /** Their hosts, shown as a subscription's origin. */
  serviceOrigins: ServiceOrigins | null;
}

/** A subscription as its owner sees it: what kind and where, never the keys or the pushkey. */
export interface SubscriptionView {
  kind: PushSubscriptionRecord['kind'];
  origin: string;
  createdAt: Date;
}

/** Subscribing devices to push wake-ups, and unsubscribing them. Sending is the sender's. */
export class PushService {
  constructor(private readonly d: PushServiceDeps) {}

  /** The VAPID public key browsers subscribe with; 503 when this server has none (a Config without it). */
  vapidPublicKey(): string {
    if (!this.d.config.vapid) throw unavailable('Web Push is not configured on this server.');
    return this.d.config.vapid.publicKey;
  }

  /**
   * Stores the device's one subscription (replacing any earlier one) after checking that the device is
   * the caller's and that the endpoint resolves to public addresses only (unless PUSH_ALLOW_PRIVATE).
   */
  async subscribe(caller: Caller, deviceId: string, body: SubscriptionBody): Promise<SubscriptionView> {
    await this.ownDevice(caller, deviceId);
    if (body.kind === 'webpush' && !this.d.config.vapid) throw unavailable('Web Push is not configured on this server.');
    if ((body.kind === 'apns' || body.kind === 'fcm') && !this.d.configured[body.kind]) {
      // Before anything is stored or sent: a subscription no push could ever reach is refused now.
      throw validationFailed([
        { field: 'kind', message: `${body.kind} is not configured on this server (${body.kind === 'apns' ? 'APNS_KEY_FILE' : 'FCM_SERVICE_ACCOUNT_FILE'})` },
      ]);
    }
    await this.d.limiter.consume('pushSubscribePerUser', caller.userId);
    const target = targetOf(body);
    const url = targetUrl(target);
    // Web Push and gateway URLs are the user's: checked where they resolve. APNs and FCM go to the operator's hosts.
    const problem = url ? await endpointAddressProblem(url, this.d.policy) : null;
    if (problem) throw validationFailed([{ field: body.kind === 'webpush' ? 'endpoint' : 'url', message: problem }]);
    const now = new Date(this.d.clock.now());
    const record: PushSubscriptionRecord = { deviceId, userId: caller.userId, kind: target.kind, targetEnc: sealTarget(this.d.cipher, deviceId, target), createdAt: now };
    // The session may have ended since ownDevice looked: the store's write is conditional on it.
    if (!(await this.d.store.pushSubscriptions.put(record, now))) throw notFound('No such device.');
    return { kind: record.kind, origin: targetOrigin(target, this.d.serviceOrigins), createdAt: record.createdAt };
  }

  /** The device's subscription; 404 when the device is not the caller's or has none. */
  async get(caller: Caller, deviceId: string): Promise<SubscriptionView> {
    await this.ownDevice(caller, deviceId);
    const record = await this.d.store.pushSubscriptions.find(deviceId);
    if (!record) throw notFound('This device has no push subscription.');
    return { kind: record.kind, origin: originOf(record, this.d.cipher, this.d.serviceOrigins), createdAt: record.createdAt };
  }

  /** Removes the device's subscription, if any; 404 only when the device is not the caller's. */
  async unsubscribe(caller: Caller, deviceId: string): Promise<void> {
    await this.ownDevice(caller, deviceId);
    await this.d.store.pushSubscriptions.delete(deviceId);
  }

  /** 404 unless `deviceId` is a live session of the caller: another account's device gets the same answer as none. */
  private async ownDevice(caller: Caller, deviceId: string): Promise<void> {
    const session = await this.d.store.sessions.findById(deviceId);
    if (!session || session.userId !== caller.userId || session.expiresAt.getTime() <= this.d.clock.now()) throw notFound('No such device.');
  }
}

/** What is stored of a subscription body: only what a push needs. */
function targetOf(body: SubscriptionBody): PushTarget {
  switch (body.kind) {
    case 'webpush':
      return { kind: 'webpush', endpoint: body.endpoint, p256dh: body.keys.p256dh, auth: body.keys.auth };
    case 'gateway':
      return { kind: 'gateway', url: body.url, pushkey: body.pushkey, appId: body.appId };
    case 'apns':
      return {
        kind: 'apns',
        token: body.token.toLowerCase(),
        ...(body.topic ? { topic: body.topic } : {}),
        voip: body.voip ?? false,
        environment: body.environment ?? 'production',
      };
    case 'fcm':
      return { kind: 'fcm', token: body.token };
  }
}

function originOf(record: PushSubscriptionRecord, cipher: FieldCipher, services: ServiceOrigins | null): string {
  try {
    const target = JSON.parse(cipher.decrypt(record.targetEnc, `push:${record.deviceId}`)) as PushTarget;
    return targetOrigin(target, services);
  } catch {
    return 'unknown';
  }
}
