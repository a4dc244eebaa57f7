import type { FieldCipher } from '../lib/fieldCipher.js';
import type { PushKind } from '../store/types.js';

/** Where a device's wake-ups go; stored encrypted (the keys and the pushkey let anyone push to the device). */
export type PushTarget =
  | { kind: 'webpush'; endpoint: string; p256dh: string; auth: string }
  | { kind: 'gateway'; url: string; pushkey: string; appId: string };

const context = (deviceId: string) => `push:${deviceId}`;

/** The target encrypted, bound to its device, so a row copied to another device does not decrypt. */
export const sealTarget = (cipher: FieldCipher, deviceId: string, target: PushTarget): string => cipher.encrypt(JSON.stringify(target), context(deviceId));

export const openTarget = (cipher: FieldCipher, deviceId: string, targetEnc: string): PushTarget =>
  JSON.parse(cipher.decrypt(targetEnc, context(deviceId))) as PushTarget;

export const targetUrl = (t: PushTarget) => (t.kind === 'webpush' ? t.endpoint : t.url);

export const kindOf = (t: PushTarget): PushKind => t.kind;
