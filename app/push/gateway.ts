import type { WakeUp } from './deliver.js';

/**
 * The Matrix Push Gateway API v1 `notify` body for one wake-up, shaped so Sygnal, the reference gateway,
 * hands the device the same content-free wake-up a direct APNs or FCM push carries (docs/push.md,
 * "Through a Matrix push gateway"). What Sygnal reads (sygnal/apnspushkin.py, sygnal/gcmpushkin.py):
 *
 * - APNs pushkin: a notification with an `event_id` and no `type` is "event_id_only": the APNs payload is
 *   the device's `data.default_payload`, plus `event_id` (and `unread_count` when `counts` is given: we
 *   give none). Any `type` would make it build a visible alert from sender and room instead. `prio: low`
 *   is apns-priority 5, anything else 10: high only for an offer (as direct APNs does on VoIP).
 * - FCM pushkin: the FCM `data` is `data.default_payload` overlaid with the notification's `event_id`,
 *   `type`, `sender`, room fields and `content` (null when absent: they replace ours of the same name),
 *   `prio` and, with api v1, `unread`/`missed_calls` as strings. So `type: "wake"` rides in the
 *   notification itself, `reason` and `count` (a string: FCM v1 data values are strings) in the payload.
 *
 * One payload cannot serve both: FCM v1 refuses the nested `aps` object in `data`, and a `type` makes
 * the APNs pushkin show an alert. The pushkey tells them apart: Sygnal's APNs pushkey is the device token
 * in standard base64 (32 bytes for today's tokens), an FCM registration token is `<instance>:<token>`.
 */
export function gatewayNotification(target: { pushkey: string; appId: string }, wake: WakeUp, urgent: boolean) {
  const prio = urgent ? 'high' : 'low';
  if (isApnsPushkey(target.pushkey)) {
    return {
      notification: {
        event_id: WAKE_EVENT_ID,
        prio,
        devices: [
          {
            app_id: target.appId,
            pushkey: target.pushkey,
            data: { default_payload: { aps: { 'content-available': 1 }, sb: { type: wake.type, reason: wake.reason, count: wake.count } } },
          },
        ],
      },
    };
  }
  return {
    notification: {
      event_id: WAKE_EVENT_ID,
      type: wake.type,
      prio,
      counts: { unread: wake.count },
      devices: [{ app_id: target.appId, pushkey: target.pushkey, data: { default_payload: { reason: wake.reason, count: String(wake.count) } } }],
    },
  };
}

/**
 * Sygnal's APNs pushkin needs an event id to send `default_payload` as is; this one names no event (the
 * same for every wake-up), so a push service or gateway learns nothing from it.
 */
export const WAKE_EVENT_ID = '$signalbox-wake';

/** A Sygnal APNs pushkey: the device token's bytes in standard base64 (not hex, not an FCM token). */
export function isApnsPushkey(pushkey: string): boolean {
  if (pushkey.includes(':') || !/^[A-Za-z0-9+/]+={0,2}$/.test(pushkey) || pushkey.length % 4 !== 0) return false;
  const bytes = Buffer.from(pushkey, 'base64').length;
  return bytes >= 32 && bytes <= 100;
}
