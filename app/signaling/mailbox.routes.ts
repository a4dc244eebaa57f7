import { caller, type AppContext } from '../http/context.js';
import { defineRoute, type AnyRoute } from '../http/route.js';
import type { SignalRecord } from '../store/types.js';
import { ackBody, pollQuery, pollResponse, sendBody, sendResponse, type SignalJson } from './mailbox.schema.js';
import type { MailboxService } from './mailbox.service.js';

const TAG = 'Signaling';

/** The one place a stored signal becomes JSON. */
function presentSignal(s: SignalRecord): SignalJson {
  return { id: s.id, from: s.senderUsername, type: s.type, payload: s.payload, sessionId: s.sessionId, createdAt: s.createdAt.toISOString() };
}

/** Aborts when the client goes away before the answer is written, releasing a held poll at once. */
function clientGone(ctx: AppContext): AbortSignal {
  const controller = new AbortController();
  ctx.res.once('close', () => {
    if (!ctx.res.writableFinished) controller.abort();
  });
  return controller.signal;
}

export function mailboxRoutes(mailboxes: MailboxService): AnyRoute[] {
  return [
    defineRoute({
      method: 'post',
      path: '/signaling/send',
      tag: TAG,
      summary: 'Send a signal to an accepted connection',
      description:
        'The payload is opaque to the server (your ciphertext), 1 byte to SIGNAL_MAX_BYTES. Only accepted connections ' +
        'can be signalled; unknown users get the same 403 not_connected. A recipient holds at most MAILBOX_MAX pending ' +
        'signals, of which at most MAILBOX_PER_SENDER from one sender (429 mailbox_full past either). Limited per ' +
        'sender (RATE_SEND_USER).',
      auth: true,
      body: sendBody,
      responses: { 202: { description: 'Stored; delivered at least once until acknowledged or expired.', schema: sendResponse } },
      errors: ['not_connected', 'mailbox_full', 'rate_limited'],
      handler: async (ctx, { body }) => {
        const sent = await mailboxes.send(caller(ctx), body);
        ctx.status = 202;
        ctx.body = { id: sent.id, expiresAt: sent.expiresAt.toISOString() };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/signaling/poll',
      tag: TAG,
      summary: 'Receive pending signals (short or long poll)',
      description:
        '`after` acknowledges everything up to that cursor (gone for good); the answer holds every pending signal ' +
        'after it, oldest first (at most 100; poll again with the new cursor for more). Unacknowledged signals are ' +
        'delivered again until they expire (SIGNAL_TTL). With `wait` and an empty mailbox the request is held until ' +
        'a signal arrives (answered at once) or the wait ends (empty list). `cursor` is always present. ' +
        'Each device (session) holds at most one poll: a new one replaces the older, which answers at once with an ' +
        'empty list and its cursor. A user holds at most POLLS_PER_USER polls (429 rate_limited past that) and the ' +
        'server at most POLLS_MAX (503 unavailable), both with Retry-After; a poll that would not wait (`wait=0`, or ' +
        'signals pending) is never refused. When the session ends (logout, password change or reset, account ' +
        'deletion or disable) its held poll answers 401 unauthorized at once (within 5 s when ended by the admin CLI ' +
        'or another instance), and a poll that waited never delivers to a session that has ended.',
      auth: true,
      query: pollQuery,
      responses: { 200: { description: 'Pending signals and the cursor that acknowledges them.', schema: pollResponse } },
      errors: ['rate_limited', 'unavailable'],
      handler: async (ctx, { query }) => {
        const { signals, cursor } = await mailboxes.poll(caller(ctx), query.after, query.wait, clientGone(ctx));
        ctx.body = { signals: signals.map(presentSignal), cursor };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/signaling/ack',
      tag: TAG,
      summary: 'Acknowledge signals up to a cursor',
      description: 'Everything up to the cursor is removed for good. A cursor of another user or a made-up one is 400.',
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
      summary: 'Drop every pending signal',
      auth: true,
      responses: { 204: { description: 'The mailbox is empty.' } },
      handler: async (ctx) => {
        await mailboxes.clear(caller(ctx));
        ctx.status = 204;
      },
    }),
  ];
}
