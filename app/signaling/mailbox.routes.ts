import { defaultOf } from '../config/defaults.js';
import { EVENT_DOCS, EVENT_TYPES } from '../core/serverEvents.js';
import type { ServerResponse } from 'node:http';
import type { z } from 'zod';
import { caller } from '../http/context.js';
import type { LeanRoute } from '../http/lean.js';
import { defineRoute, type AnyRoute } from '../http/route.js';
import { parseInput } from '../http/validate.js';
import type { SignalRecord } from '../store/types.js';
import { ackBody, MAX_WAIT_SECONDS, pollQuery, pollResponse, sendBody, sendResponse, type SignalJson } from './mailbox.schema.js';
import type { MailboxService, SendAnswer } from './mailbox.service.js';
import type { ClientGone, ClientWatch } from './notifier.js';

const TAG = 'Signaling';

/** The one place a stored signal or server event becomes JSON. */
export function presentSignal(s: SignalRecord): SignalJson {
  return {
    id: s.id,
    from: s.senderUsername,
    fromDevice: s.senderDeviceId,
    type: s.type,
    payload: s.payload,
    sessionId: s.sessionId,
    createdAt: s.createdAt.toISOString(),
    expiresAt: s.expiresAt.toISOString(),
  };
}

/** A poll's answer as JSON: the signals presented, and the cursor. */
function presentPoll({ signals, cursor }: { signals: SignalRecord[]; cursor: string }): { signals: SignalJson[]; cursor: string } {
  return { signals: signals.map(presentSignal), cursor };
}

/** Every server event, for the poll's description: from the one table in core/serverEvents.ts. */
const EVENTS_TEXT = EVENT_TYPES.map((type) => `\`${type}\`: ${EVENT_DOCS[type]}.`).join(' ');

/** The watch of each response whose poll is about to wait, for the one shared `close` listener below. */
const watches = new WeakMap<ServerResponse, ClientGone>();

/** Tells a held poll that its client went away: the response closed before its answer was finished. */
function onResponseClose(this: ServerResponse): void {
  const gone = watches.get(this);
  if (!gone || this.writableFinished) return;
  watches.delete(this);
  gone.aborted = true;
  gone.holder?.clientLeft();
}

/**
 * Watches for the client going away before the answer is written (the response closing unfinished), so
 * a held poll is released at once. The watch starts only when a poll is about to wait; one object per
 * poll and one listener shared by all, rather than a closure, a `once` wrapper and its bound function
 * each: held polls are counted by the ten thousand (bench/README.md, "Held poll").
 */
class ResponseWatch implements ClientWatch {
  constructor(private readonly res: ServerResponse) {}
  start(): ClientGone {
    const res = this.res;
    const gone: ClientGone = { aborted: !res.socket || res.socket.destroyed, holder: null };
    if (!gone.aborted) {
      watches.set(res, gone);
      res.on('close', onResponseClose);
    }
    return gone;
  }
}

const clientGone = (res: ServerResponse): ClientWatch => new ResponseWatch(res);

/** Query values that Node's querystring (Koa's `ctx.query`) would read as they are: no escapes, no `+`. */
const PLAIN_VALUE = /^[A-Za-z0-9._~-]*$/;
const WAIT_VALUE = /^\d{1,2}$/;
const MAX_AFTER_CHARS = 64;

/**
 * `GET /signaling/poll` answered outside Koa (http/lean.ts): the same check, service and presenter as
 * the route below, for the requests every client sends. A query of any other shape (an unknown or
 * repeated key, an escaped value, a `wait` out of range) is left to the Koa route, which answers it.
 */
export function leanPollRoute(mailboxes: MailboxService): LeanRoute<{ after: string | undefined; wait: number }> {
  return {
    method: 'GET',
    path: '/signaling/poll',
    template: '/signaling/poll',
    status: 200,
    query(search) {
      let after: string | undefined;
      let wait: number | undefined;
      if (search === '') return { after, wait: 0 };
      for (const part of search.split('&')) {
        const eq = part.indexOf('=');
        if (eq === -1) return null;
        const key = part.slice(0, eq);
        const value = part.slice(eq + 1);
        if (key === 'after' && after === undefined && value.length <= MAX_AFTER_CHARS && PLAIN_VALUE.test(value)) after = value;
        else if (key === 'wait' && wait === undefined && WAIT_VALUE.test(value) && Number(value) <= MAX_WAIT_SECONDS) wait = Number(value);
        else return null;
      }
      return { after, wait: wait ?? 0 };
    },
    // Not an async function: a held poll would keep one more suspended frame (its promise, its
    // registers, the await's two closures) for its whole wait (bench/README.md, "Held poll").
    handle(auth, query, _body, _req, res) {
      return mailboxes.poll(auth, query.after, query.wait, clientGone(res)).then(presentPoll);
    },
  };
}

/** The send's 202 body, for the Koa route and the lean one alike. */
function presentSent(sent: SendAnswer): z.infer<typeof sendResponse> {
  return { id: sent.id, expiresAt: sent.expiresAt.toISOString(), devices: sent.devices, reachable: sent.reachable };
}

/**
 * `POST /signaling/send` answered outside Koa (http/lean.ts), the hottest write: the body read as `jsonBody`
 * reads it, then the Koa route's own steps (the caller, `parseInput` with `sendBody`, the service, the
 * presenter). A request with a query string, or whose body Koa alone can read (leanBody.ts), goes to Koa.
 */
export function leanSendRoute(mailboxes: MailboxService): LeanRoute<Record<string, never>> {
  return {
    method: 'POST',
    path: '/signaling/send',
    template: '/signaling/send',
    status: 202,
    query: (search) => (search === '' ? {} : null),
    async handle(auth, _query, body) {
      const [input] = parseInput([[sendBody, body, '']]) as [z.infer<typeof sendBody>];
      return presentSent(await mailboxes.send(auth, input));
    },
  };
}

export function mailboxRoutes(mailboxes: MailboxService): AnyRoute[] {
  return [
    defineRoute({
      method: 'post',
      path: '/signaling/send',
      tag: TAG,
      summary: 'Send a signal to the devices of an accepted connection, or to your other devices',
      description:
        'The payload is opaque to the server (your ciphertext), 1 byte to SIGNAL_MAX_BYTES. Only accepted connections ' +
        'can be signalled; unknown users get the same 403 not_connected. Each device (session) has its own mailbox: ' +
        'without `toDevice` the signal is stored, in one write, for every device of `to`; with `toDevice` for that ' +
        'device only (404 not_found when it is not a device of `to`). `devices` says how many stored it. `to` may be ' +
        'your own username: the signal then goes to your other devices (e.g. "stop ringing, I answered"), and needs ' +
        'no connection. A device never receives its own signals. `type` is one of the signal types; the dotted server ' +
        'event types are written by the server only (400 validation_failed). Each device holds at most MAILBOX_MAX ' +
        'pending signals, of which at most MAILBOX_PER_SENDER from one sender: a device past either is skipped, and ' +
        'only when every target device is, the send gets 429 mailbox_full (nothing stored). Server events count ' +
        'apart (EVENTS_MAX), so nothing a stranger does can fill a mailbox against your signals. `idempotencyKey` (per ' +
        "sender, remembered for SIGNAL_TTL): a retry with the same key answers the first send's `{id, expiresAt, " +
        'devices}` and stores nothing new. `reachable` (additive, v1.2) counts the target devices that can get the signal ' +
        'soon: holding a poll, seen within PRESENCE_WINDOW, or with a push subscription to wake them; 0 tells a caller ' +
        "at once that nobody can pick up (the SDK's call() then fails with `unavailable`). Limited per sender (RATE_SEND_USER).",
      auth: true,
      body: sendBody,
      responses: { 202: { description: 'Stored; delivered at least once to each device until acknowledged or expired.', schema: sendResponse } },
      errors: ['not_connected', 'not_found', 'mailbox_full', 'rate_limited'],
      handler: async (ctx, { body }) => {
        const sent = await mailboxes.send(caller(ctx), body);
        ctx.status = 202;
        ctx.body = presentSent(sent);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/signaling/poll',
      tag: TAG,
      summary: "Receive your device's pending signals and server events (short or long poll)",
      description:
        "Each device (session) has its own mailbox; a poll reads the calling device's. `after` acknowledges " +
        'everything up to that cursor (gone for good, on this device only); the answer holds every pending entry ' +
        'after it, oldest first (at most 100; poll again with the new cursor for more). Unacknowledged entries are ' +
        'delivered again until they expire (SIGNAL_TTL). With `wait` and an empty mailbox the request is held until ' +
        'a signal or server event arrives (answered at once) or the wait ends (empty list). `cursor` is always ' +
        'present, and valid for this device only: a cursor of another device, or one handed out before v1.1 (bound to ' +
        'the user, not the device), is 400 validation_failed; poll once without `after` to get a new one. ' +
        'Server events share the mailbox, its order and its ack and TTL rules: a dotted `type`, `fromDevice: null`, ' +
        '`from` the user whose action caused it, and a `payload` of JSON text. ' +
        `${EVENTS_TEXT} ` +
        `Events count apart from signals: a device holds at most EVENTS_MAX (default ${defaultOf('EVENTS_MAX')}) pending events, and past ` +
        'that its oldest pending event is dropped (a change is never refused for it, and neither is a signal). ' +
        'Each device (session) holds at most one poll: a new one replaces the older, which answers at once with an ' +
        'empty list and its cursor. A user holds at most POLLS_PER_USER polls (429 rate_limited past that) and the ' +
        'server at most POLLS_MAX (503 unavailable), both with Retry-After; a poll that would not wait (`wait=0`, or ' +
        'signals pending) is never refused. When the session ends (logout, password change or reset, account ' +
        'deletion or disable) its held poll answers 401 unauthorized at once (within 5 s when ended by the admin CLI ' +
        'or another instance), and a poll that waited never delivers to a session that has ended.',
      auth: true,
      query: pollQuery,
      responses: { 200: { description: "The device's pending signals and events, and the cursor that acknowledges them.", schema: pollResponse } },
      errors: ['rate_limited', 'unavailable'],
      handler: async (ctx, { query }) => {
        const { signals, cursor } = await mailboxes.poll(caller(ctx), query.after, query.wait, clientGone(ctx.res));
        ctx.body = { signals: signals.map(presentSignal), cursor };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/signaling/ack',
      tag: TAG,
      summary: 'Acknowledge signals and events up to a cursor',
      description:
        "Everything up to the cursor is removed for good from the calling device's mailbox; the user's other devices " +
        'keep their copies. A cursor of another device (even of the same user), one from before v1.1 or a made-up ' +
        'one is 400 validation_failed.',
      auth: true,
      body: ackBody,
      responses: { 204: { description: 'Acknowledged.' } },
      handler: async (ctx, { body }) => {
        await mailboxes.ack(caller(ctx), body.upTo);
        ctx.status = 204;
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/signaling/clear',
      tag: TAG,
      summary: 'Drop every pending signal and event of your device',
      description: "Empties the calling device's mailbox; the user's other devices keep theirs.",
      auth: true,
      responses: { 204: { description: "The device's mailbox is empty." } },
      handler: async (ctx) => {
        await mailboxes.clear(caller(ctx));
        ctx.status = 204;
      },
    }),
  ];
}
