import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { bearer } from '../helpers/factories.js';
import { useTestApp, withUser } from '../helpers/perTest.js';
import { connectQuietly, deviceIdOf, send } from '../helpers/signaling.js';
import { Receiver } from './receivers.js';

/*
 * The Matrix push gateway path against what Sygnal, the reference gateway, actually reads. The
 * functions below restate Sygnal's reading of a notify body, from matrix-org/sygnal at commit
 * 4700184bac220125a51fed7ece428e233fb0c824:
 *
 * - sygnal/notifications.py: `Notification` (event_id, type, prio, counts; `counts` absent is
 *   Counts({}) with unread/missed_calls None), `Device` (app_id, pushkey, data).
 * - sygnal/apnspushkin.py: `_dispatch_notification_unlimited`: `default_payload` must be a dict (else
 *   the pushkey is rejected); `if n.event_id and not n.type` the payload is
 *   `_get_payload_event_id_only(n, default_payload)` = default_payload + room_id, event_id (when
 *   set) + unread_count, missed_calls (when counts has them); otherwise `_get_payload_full`, which
 *   builds a visible alert. `prio = 10`, `5` when `n.prio == "low"`. `_dispatch_request`: with
 *   `convert_device_token_to_hex` (default true) the device token is `base64.b64decode(pushkey).hex()`.
 * - sygnal/gcmpushkin.py: `_build_data`: data = default_payload, then every attribute in
 *   [event_id, type, sender, room_name, room_alias, membership, sender_display_name, content, room_id]
 *   set from the notification (None when absent), `content` dropped for api v1 when a dict, then
 *   `prio` "high"/"normal" and, for api v1, `unread`/`missed_calls` as str(). The v1 body is
 *   {message: {data, android: {priority}, token: pushkey}}.
 */

type Json = Record<string, unknown>;
interface Notify {
  notification: Json & { devices: Array<{ app_id: string; pushkey: string; data?: Json }> };
}

/** sygnal/apnspushkin.py, event_id_only or full: what APNs receives, the priority and the hex token. */
function sygnalApns(n: Notify['notification']) {
  const device = n.devices[0]!;
  const defaultPayload = (device.data?.default_payload ?? {}) as Json;
  if (typeof defaultPayload !== 'object' || Array.isArray(defaultPayload)) return { rejected: true } as const;
  const counts = (n.counts ?? {}) as { unread?: number | null; missed_calls?: number | null };
  if (!(n.event_id && !n.type)) return { alert: true } as const;
  const payload: Json = { ...defaultPayload };
  if (n.room_id) payload.room_id = n.room_id;
  payload.event_id = n.event_id; // set: checked above
  if (counts.unread !== undefined && counts.unread !== null) payload.unread_count = counts.unread;
  if (counts.missed_calls !== undefined && counts.missed_calls !== null) payload.missed_calls = counts.missed_calls;
  return { payload, priority: n.prio === 'low' ? 5 : 10, token: Buffer.from(device.pushkey, 'base64').toString('hex') };
}

/** sygnal/gcmpushkin.py `_build_data` and the v1 body: the FCM message Sygnal sends. */
function sygnalFcmV1(n: Notify['notification']) {
  const device = n.devices[0]!;
  const data: Json = { ...((device.data?.default_payload ?? {}) as Json) };
  for (const attr of ['event_id', 'type', 'sender', 'room_name', 'room_alias', 'membership', 'sender_display_name', 'content', 'room_id']) {
    data[attr] = n[attr] ?? null;
  }
  if (data.content && typeof data.content === 'object') delete data.content;
  data.prio = n.prio === 'low' ? 'normal' : 'high';
  const counts = (n.counts ?? {}) as { unread?: number | null; missed_calls?: number | null };
  data.unread = String(counts.unread ?? 'None');
  data.missed_calls = String(counts.missed_calls ?? 'None');
  return { message: { data, android: { priority: n.prio === 'low' ? 'normal' : 'high' }, token: device.pushkey } };
}

describe('the Matrix push gateway request, as Sygnal reads it', () => {
  const t = useTestApp({ env: { PUSH_ALLOW_HTTP: 'true', PUSH_ALLOW_PRIVATE: 'true', PUSH_COALESCE_MS: '100' } });
  const alice = withUser(t);
  const bob = withUser(t);
  let receiver: Receiver;
  let bobDevice: string;
  beforeEach(async () => {
    receiver = await Receiver.start();
    receiver.answer = { rejected: [] };
    await connectQuietly(t, alice, bob);
    bobDevice = await deviceIdOf(t, bob);
  });
  afterEach(() => receiver.close());

  const subscribeGateway = (pushkey: string, appId: string) =>
    t.http
      .put(`/users/me/devices/${bobDevice}/push`)
      .set(bearer(bob))
      .send({ kind: 'gateway', url: `${receiver.origin}/_matrix/push/v1/notify`, pushkey, appId });

  it("gives Sygnal's APNs pushkin the direct APNs body as default_payload, event_id_only, priority 10 for an offer", async () => {
    const apnsToken = Buffer.alloc(32, 0x5a);
    expect((await subscribeGateway(apnsToken.toString('base64'), 'org.example.signalbox.voip')).status).toBe(200);
    await send(t, alice, bob, { type: 'offer', payload: 'secret sdp' });
    const [req] = await receiver.count(1);
    const { notification } = JSON.parse(req!.body.toString()) as Notify;
    const apns = sygnalApns(notification);
    expect('payload' in apns).toBe(true);
    if (!('payload' in apns)) return;
    // What direct APNs sends, plus the event id Sygnal adds (one fixed id that names no event).
    expect(apns.payload).toEqual({ aps: { 'content-available': 1 }, sb: { type: 'wake', reason: 'signal', count: 1 }, event_id: '$signalbox-wake' });
    expect(apns.priority).toBe(10);
    expect(apns.token).toBe(apnsToken.toString('hex'));
    expect(req!.body.toString()).not.toContain('secret sdp');
    expect(req!.body.toString()).not.toContain(alice.username);
  });

  it('asks for priority 5 when no offer waits', async () => {
    await subscribeGateway(Buffer.alloc(32, 1).toString('base64'), 'org.example.signalbox');
    await send(t, alice, bob, { type: 'ice', payload: 'candidate' });
    const [req] = await receiver.count(1);
    const apns = sygnalApns((JSON.parse(req!.body.toString()) as Notify).notification);
    expect(apns).toMatchObject({ priority: 5, payload: { sb: { type: 'wake', reason: 'signal', count: 1 } } });
  });

  it("gives Sygnal's FCM pushkin (api v1) string data with type, reason and count, high priority for an offer", async () => {
    const fcmToken = 'dK3x:APA91bH-example_registration-token';
    await subscribeGateway(fcmToken, 'org.example.signalbox.android');
    await send(t, alice, bob, { type: 'offer', payload: 'secret sdp' });
    const [req] = await receiver.count(1);
    const fcm = sygnalFcmV1((JSON.parse(req!.body.toString()) as Notify).notification);
    expect(fcm.message.token).toBe(fcmToken);
    expect(fcm.message.android).toEqual({ priority: 'high' });
    expect(fcm.message.data).toMatchObject({ type: 'wake', reason: 'signal', count: '1', prio: 'high' });
    // FCM v1 refuses data values that are not strings: Sygnal sends its own absent fields as null, ours are all strings.
    for (const key of ['type', 'reason', 'count', 'event_id', 'prio', 'unread']) expect(typeof fcm.message.data[key]).toBe('string');
    expect(req!.body.toString()).not.toContain('secret sdp');
    expect(req!.body.toString()).not.toContain(alice.username);
  });
});
