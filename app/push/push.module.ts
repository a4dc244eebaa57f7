import type { Registry } from 'prom-client';
import type { Platform } from '../core/platform.js';
import type { Feature } from '../http/router.js';
import { apnsOrigin } from './apns.js';
import { loadPushCredentials } from './credentials.js';
import { createDelivery } from './deliver.js';
import type { EndpointPolicy } from './endpoint.js';
import { pushRoutes } from './push.routes.js';
import { PushService } from './push.service.js';
import { createPushMetrics } from './pushMetrics.js';
import { PushSender } from './sender.js';
import type { ServiceOrigins } from './targets.js';
import { WakeCoalescer } from './wakeups.js';

export interface PushModuleDeps extends Pick<Platform, 'config' | 'store' | 'clock' | 'cipher' | 'limiter' | 'logger'> {
  registry: Registry;
  /** True while the device holds a long-poll on this instance (signaling). */
  isHoldingDevice: (deviceId: string) => boolean;
  /** Waits between a wake-up's attempts; RETRY_DELAYS_MS by default (tests that retry take shorter ones). */
  retryDelaysMs?: readonly number[];
}

export interface PushFeature extends Feature {
  sender: PushSender;
  /** Provider tokens signed and access tokens fetched (tests, bench). */
  tokenCounts: () => { apnsSigned: number; fcmFetched: number };
  coalescer: WakeCoalescer;
}

/**
 * Push wake-ups. From creation, every mailbox write through this store (a send, a server event) is
 * looked at after it commits: devices that hold no poll and have a subscription get a content-free
 * wake-up through the bounded sender queue, coalesced per device. Started, it first sends the
 * wake-ups owed from before a restart (every subscribed device with unexpired entries waiting);
 * stopped, retries are dropped and requests in flight finish.
 */
export function createPush(d: PushModuleDeps): PushFeature {
  const { config, store, logger } = d;
  const policy: EndpointPolicy = { allowHttp: config.pushAllowHttp, allowPrivate: config.pushAllowPrivate };
  // Direct APNs and FCM: their key files read once, now (a bad one stops the start, naming its variable).
  const credentials = loadPushCredentials(config);
  const serviceOrigins: ServiceOrigins = {
    apns: (t) => (credentials.apns ? apnsOrigin(credentials.apns, t) : t.environment === 'sandbox' ? config.apnsSandboxUrl : config.apnsUrl),
    fcm: config.fcmUrl,
  };
  const delivery = createDelivery({
    credentials,
    vapid: config.vapid,
    vapidSubject: config.vapidSubject,
    ttlSeconds: config.signalTtl,
    policy,
    timeoutMs: config.pushTimeoutMs,
    socketsPerOrigin: config.pushInflightPerOrigin,
  });
  const metrics = createPushMetrics(
    d.registry,
    () => queue.size,
    () => queue.parkedCount,
  );
  const queue = new PushSender({
    store,
    cipher: d.cipher,
    clock: d.clock,
    logger,
    delivery,
    metrics,
    max: config.pushQueueMax,
    inflight: { total: config.pushInflightMax, perAccount: config.pushInflightPerAccount, perOrigin: config.pushInflightPerOrigin },
    serviceOrigins,
    retryDelaysMs: d.retryDelaysMs,
  });
  const coalescer = new WakeCoalescer({
    windowMs: config.pushCoalesceMs,
    isHolding: d.isHoldingDevice,
    subscribed: async (ids) => new Set((await store.pushSubscriptions.findMany(ids)).map((s) => s.deviceId)),
    wake: (deviceId, count) => queue.add(deviceId, count),
    logger,
  });
  // Like signaling's wake-ups, part of the feature itself rather than start(): the store and the app end together.
  store.signals.onArrival((deviceIds) => coalescer.arrived(deviceIds));
  const service = new PushService({
    store,
    cipher: d.cipher,
    clock: d.clock,
    limiter: d.limiter,
    config,
    policy,
    configured: { apns: credentials.apns !== null, fcm: credentials.fcm !== null },
    serviceOrigins,
  });
  return {
    routes: pushRoutes(service, policy),
    sender: queue,
    coalescer,
    tokenCounts: delivery.tokenCounts,
    start() {
      // A restart loses the queue, not what it was for: entries still waiting in a subscribed device's
      // mailbox are what a wake-up was owed for, so each such device gets one now (a duplicate, at
      // worst, of one sent just before the stop).
      store.pushSubscriptions
        .owed(new Date(d.clock.now()))
        .then((owed) => {
          for (const { deviceId, count } of owed) coalescer.arrived([deviceId], count);
          if (owed.length > 0) logger.info({ devices: owed.length }, 'push wake-ups owed from before the start queued');
        })
        .catch((err: unknown) => logger.warn({ err }, 'owed push wake-ups could not be read'));
      return async () => {
        coalescer.stop();
        await queue.stop();
        delivery.close();
      };
    },
  };
}
