import type { FieldCipher } from '../lib/fieldCipher.js';
import type { ApnsTarget } from './apns.js';
import type { FcmTarget } from './fcm.js';

/** Where a device's wake-ups go; stored encrypted (the keys, the pushkey and the tokens let anyone push to the device). */
export type PushTarget =
  { kind: 'webpush'; endpoint: string; p256dh: string; auth: string } | { kind: 'gateway'; url: string; pushkey: string; appId: string } | ApnsTarget | FcmTarget;

/** Where APNs and FCM targets go: the operator's configured hosts (they are not in the target). */
export interface ServiceOrigins {
  apns: (t: ApnsTarget) => string;
  fcm: string;
}

const context = (deviceId: string) => `push:${deviceId}`;

/** The target encrypted, bound to its device, so a row copied to another device does not decrypt. */
export const sealTarget = (cipher: FieldCipher, deviceId: string, target: PushTarget): string => cipher.encrypt(JSON.stringify(target), context(deviceId));

export const openTarget = (cipher: FieldCipher, deviceId: string, targetEnc: string): PushTarget =>
  JSON.parse(cipher.decrypt(targetEnc, context(deviceId))) as PushTarget;

/**
 * The origin a target's requests go to: what the owner sees and what PUSH_INFLIGHT_PER_ORIGIN counts.
 * APNs and FCM go to configured hosts; without them configured (`services` null) they show as Apple's
 * and Google's defaults.
 */
export function targetOrigin(t: PushTarget, services: ServiceOrigins | null): string {
  switch (t.kind) {
    case 'webpush':
      return new URL(t.endpoint).origin;
    case 'gateway':
      return new URL(t.url).origin;
    case 'apns':
      return new URL(services?.apns(t) ?? (t.environment === 'sandbox' ? 'https://api.sandbox.push.apple.com' : 'https://api.push.apple.com')).origin;
    case 'fcm':
      return new URL(services?.fcm ?? 'https://fcm.googleapis.com').origin;
  }
}

/** The user-given URL of a target, for the SSRF checks; null for APNs and FCM (the operator's hosts). */
export const targetUrl = (t: PushTarget): string | null => (t.kind === 'webpush' ? t.endpoint : t.kind === 'gateway' ? t.url : null);
