import { SignalboxError } from './errors.js';
import type { Session } from './session.js';

/** A Web Push subscription as browsers and UnifiedPush distributors give it (PushSubscription.toJSON()). */
export interface WebPushSubscriptionJson {
  endpoint: string;
  expirationTime?: number | null;
  keys: { p256dh: string; auth: string };
}

/** A Matrix push gateway (Push Gateway API v1, e.g. Sygnal for APNs and FCM) and the device's pushkey there. */
export interface GatewaySubscription {
  kind: 'gateway';
  /** The gateway's notify URL, ending in /_matrix/push/v1/notify. */
  url: string;
  /** The APNs device token or FCM registration id. */
  pushkey: string;
  /** The app id the gateway is configured with. */
  appId: string;
}

/** Direct APNs (when the server has APNS_KEY_FILE): an iOS app's device token, hex. */
export interface ApnsSubscription {
  kind: 'apns';
  /** PKPushCredentials.token (voip: true) or the remote-notification device token, as hex. */
  token: string;
  /** The bundle id, when not the server's APNS_TOPIC. */
  topic?: string;
  /** A PushKit VoIP token: woken for incoming calls only, and must report each to CallKit. */
  voip?: boolean;
  /** "sandbox" for development builds (Xcode), default "production". */
  environment?: 'production' | 'sandbox';
}

/** Direct FCM HTTP v1 (when the server has FCM_SERVICE_ACCOUNT_FILE): FirebaseMessaging's registration token. */
export interface FcmSubscription {
  kind: 'fcm';
  token: string;
}

/** What `subscribe` takes: a browser PushSubscription itself (anything with `toJSON()`), its JSON, a gateway, or an APNs or FCM token. */
export type PushSubscriptionInput =
  { toJSON(): unknown } | WebPushSubscriptionJson | ({ kind: 'webpush' } & WebPushSubscriptionJson) | GatewaySubscription | ApnsSubscription | FcmSubscription;

/** A device's subscription as the server shows it: never the keys, the pushkey or the token. */
export interface PushInfo {
  kind: 'webpush' | 'gateway' | 'apns' | 'fcm';
  origin: string;
  createdAt: string;
}

/**
 * Push wake-ups for this device (docs/push.md): while it holds no poll, the server sends it a
 * content-free `{type: "wake", reason, count}`; the app then starts its poll loop and reads its mailbox.
 */
export class Push {
  constructor(private readonly session: Session) {}

  /** The server's VAPID public key (base64url), for `PushManager.subscribe({applicationServerKey})`. */
  async vapidPublicKey(): Promise<string> {
    return (await this.session.request<{ publicKey: string }>('GET', '/push/vapid-public-key')).publicKey;
  }

  /** Subscribes this device (replacing its earlier subscription). */
  async subscribe(subscription: PushSubscriptionInput): Promise<PushInfo> {
    const json = 'toJSON' in subscription && typeof subscription.toJSON === 'function' ? (subscription.toJSON() as WebPushSubscriptionJson) : subscription;
    const body = 'kind' in json ? json : { kind: 'webpush' as const, ...json };
    return (await this.session.request<{ push: PushInfo }>('PUT', this.path(), { body })).push;
  }

  /** No more wake-ups for this device; resolves whether or not it had a subscription. */
  async unsubscribe(): Promise<void> {
    await this.session.request<unknown>('DELETE', this.path());
  }

  /** This device's subscription, or null when it has none. */
  async status(): Promise<PushInfo | null> {
    try {
      return (await this.session.request<{ push: PushInfo }>('GET', this.path())).push;
    } catch (err) {
      if (err instanceof SignalboxError && err.code === 'not_found') return null;
      throw err;
    }
  }

  private path(): string {
    const id = this.session.deviceId;
    if (!id) throw new SignalboxError('signed_out', 'Not signed in: push belongs to a signed-in device.');
    return `/users/me/devices/${encodeURIComponent(id)}/push`;
  }
}
