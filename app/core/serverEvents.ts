import { newTimeOrderedId } from '../lib/ids.js';
import type { ConnectionRecord, EventAudience, EventType, ServerEvent } from '../store/types.js';

/**
 * Server events (docs/api.md, Signaling, v1.1): what the server writes into device mailboxes beside the
 * signals, with a dotted type no client can send. The one place their names, payload shapes and
 * documentation live; connections and accounts build them here and hand them to the store, which
 * writes them in the same transaction as the change that causes them.
 */

/** A pending connection request exactly as GET /connections/pending presents it. */
export interface ConnectionRequestedPayload {
  id: string;
  from: string;
  to: string;
  message: string | null;
  createdAt: string;
  expiresAt: string;
}

/**
 * The `connection.requested` payload of a pending request `from` asked `to`: the same JSON GET
 * /connections/pending answers (the connections presenter presents its bodies with this), so a device
 * reads one shape whichever way the request reached it (docs/api.md).
 */
export function connectionRequestedPayload(record: ConnectionRecord, from: string, to: string): ConnectionRequestedPayload {
  return {
    id: record.id,
    from,
    to,
    message: record.message,
    createdAt: record.createdAt.toISOString(),
    expiresAt: record.expiresAt!.toISOString(),
  };
}

/** The other user of the connection, from the receiving device's point of view. */
export interface OtherUserPayload {
  username: string;
}

/** Whose key changed, and its new fingerprint (null: the key was removed). */
export interface PgpChangedPayload {
  username: string;
  fingerprint: string | null;
}

/** Each event type's payload, before it is turned into the entry's JSON text. */
export interface EventPayloads {
  'connection.requested': ConnectionRequestedPayload;
  'connection.accepted': OtherUserPayload;
  'connection.removed': OtherUserPayload;
  'pgp.changed': PgpChangedPayload;
  /** Nothing: the device fetches GET /users/me/key-backup if it cares. */
  'key-backup.changed': Record<string, never>;
}

/** When each event is written, to whom, and what its payload holds: the reference's words (OpenAPI descriptions). */
export const EVENT_DOCS = Object.freeze({
  'connection.requested':
    "someone asked you to connect; to each of your devices, and to the asker's other devices. Payload: the `request` " +
    'as GET /connections/pending shows it (`{id, from, to, message, createdAt, expiresAt}`). A device holds at most one ' +
    'per pair of users: a new one replaces one still pending (not yet acknowledged) for the same pair',
  'connection.accepted':
    'a request was accepted (by POST /connections/respond, or by crossing requests); to each device of the other user and ' +
    "to the accepting user's other devices. Payload: `{username}`, the other member of the new connection",
  'connection.removed':
    'a connection was removed, an outgoing request cancelled (DELETE /connections/{username}) or a request rejected; to ' +
    "each device of the other user and to the acting user's other devices. Payload: `{username}`, the other user. When a " +
    "device still holds that request's `connection.requested` pending (never acknowledged), both go instead: that one is " +
    'removed and this one is not written there',
  'pgp.changed':
    'a user uploaded or removed their OpenPGP key; to each device of each of their connections, and to their own other ' +
    'devices. Payload: `{username, fingerprint|null}` (null: removed)',
  'key-backup.changed':
    'your key backup was written, replaced or deleted (PUT or DELETE /users/me/key-backup); to your other devices, so a ' +
    'change you did not make shows at once. Payload: `{}`',
} as const satisfies Record<EventType, string>);

/** The event types, in the order the reference lists them. */
export const EVENT_TYPES = Object.keys(EVENT_DOCS) as [EventType, ...EventType[]];

/** The user whose action causes an event: its `from`. */
export interface EventCause {
  id: string;
  username: string;
}

/** When the change happens, how long its events live (SIGNAL_TTL, like signals) and how many a device keeps (EVENTS_MAX). */
export interface EventTime {
  now: Date;
  ttlSeconds: number;
  eventsMax: number;
}

/** The key of a connection request's events: the two user ids in ascending order, whoever asked. */
export function requestPairKey(a: string, b: string): string {
  return a < b ? `${a}:${b}` : `${b}:${a}`;
}

/**
 * One event entry for `to`, with a fresh id: `from` is `cause`, `fromDevice` null, `payload` the
 * JSON text of `payload`, and it expires `ttlSeconds` after `now`. Pure apart from the id, so it may
 * run inside a store transaction (and again when that is retried).
 */
export function serverEvent<T extends EventType>(
  type: T,
  cause: EventCause,
  payload: EventPayloads[T],
  to: EventAudience,
  time: EventTime,
  requestPair?: string,
): ServerEvent {
  return {
    eventsMax: time.eventsMax,
    ...(requestPair === undefined ? {} : { requestPair }),
    entry: {
      id: newTimeOrderedId(time.now.getTime()),
      senderId: cause.id,
      senderUsername: cause.username,
      senderDeviceId: null,
      type,
      payload: JSON.stringify(payload),
      sessionId: null,
      createdAt: new Date(time.now),
      expiresAt: new Date(time.now.getTime() + time.ttlSeconds * 1000),
    },
    to,
  };
}

/**
 * The pair of events a change between the acting user and another user causes: one to every device
 * of `other`, naming the actor, and one to the actor's other devices (all but `actorDevice`), naming
 * `other`, so every device of both stays in step.
 */
export function pairEvents(
  type: 'connection.accepted' | 'connection.removed',
  actor: EventCause,
  actorDevice: string,
  other: EventCause,
  time: EventTime,
  requestPair?: string,
): ServerEvent[] {
  return [
    serverEvent(type, actor, { username: actor.username }, { userId: other.id }, time, requestPair),
    serverEvent(type, actor, { username: other.username }, { userId: actor.id, exceptDevice: actorDevice }, time, requestPair),
  ];
}
