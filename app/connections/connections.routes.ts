import { defaultOf } from '../config/defaults.js';
import { caller } from '../http/context.js';
import { defineRoute, type AnyRoute } from '../http/route.js';
import { presentConnection, presentRequest } from './connections.presenter.js';
import { connectionAnswer, connectionsAnswer, pendingAnswer, requestBody, requestCreated, respondAnswer, respondBody, usernameParams } from './connections.schema.js';
import type { ConnectionService } from './connections.service.js';

const TAG = 'Connections';

export function connectionRoutes(connections: ConnectionService): AnyRoute[] {
  return [
    defineRoute({
      method: 'post',
      path: '/connections/request',
      tag: TAG,
      summary: 'Ask a user to connect',
      description:
        `The request waits CONNECTION_REQUEST_TTL (default ${defaultOf('CONNECTION_REQUEST_TTL')}) for an answer. When that user had already asked you, ` +
        'this accepts their request instead and answers 200 with the connection. Asking yourself is 400 validation_failed. ' +
        `One account may hold CONNECTION_PENDING_MAX (default ${defaultOf('CONNECTION_PENDING_MAX')}) unanswered requests; past that, 429 rate_limited ` +
        'with Retry-After until the oldest of them lapses (cancelling one frees a place at once). Each account may ask ' +
        `RATE_CONNECTION_REQUEST times (default ${defaultOf('RATE_CONNECTION_REQUEST')}; every call counts, whatever its answer, cancel-and-ask-again ` +
        'included); past that, 429 rate_limited with Retry-After. After you cancelled your request to the user, asking ' +
        `them again within CONNECTION_REQUEST_COOLDOWN (default ${defaultOf('CONNECTION_REQUEST_COOLDOWN')}; 0 turns it off) gets 429 rate_limited with ` +
        `Retry-After; after the user turned your request down, the same within CONNECTION_REJECT_COOLDOWN (default ${defaultOf('CONNECTION_REJECT_COOLDOWN')}; ` +
        '0 turns it off); neither when they have since asked you (then this accepts theirs). This tells you ' +
        'nothing new: a rejected request already disappeared from your outgoing list before its expiry. Server events ' +
        '(GET /signaling/poll): a new request writes `connection.requested` (payload: the `request`) to every device of ' +
        'the user asked and to your other devices, replacing on each device a `connection.requested` of the same two ' +
        'users still pending there (not yet acknowledged); accepting their request instead writes `connection.accepted` ' +
        '(payload: `{username}`, the other member) to every device of theirs and to your other devices.',
      auth: true,
      body: requestBody,
      responses: {
        201: { description: 'The request, pending.', schema: requestCreated },
        200: { description: 'They had asked you: you are now connected.', schema: connectionAnswer },
      },
      errors: ['not_found', 'already_connected', 'request_pending', 'rate_limited'],
      handler: async (ctx, { body }) => {
        const outcome = await connections.request(caller(ctx), body.username, body.message ?? null);
        if (outcome.kind === 'requested') {
          ctx.status = 201;
          ctx.body = { request: presentRequest(outcome.request) };
        } else {
          ctx.body = { connection: presentConnection(outcome.connection) };
        }
      },
    }),
    defineRoute({
      method: 'get',
      path: '/connections/pending',
      tag: TAG,
      summary: 'Requests waiting for an answer, both ways',
      description: 'Newest first. Expired requests are not listed.',
      auth: true,
      responses: { 200: { description: 'Requests to you and from you.', schema: pendingAnswer } },
      handler: async (ctx) => {
        const { incoming, outgoing } = await connections.pending(caller(ctx));
        ctx.body = { incoming: incoming.map(presentRequest), outgoing: outgoing.map(presentRequest) };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/connections/respond',
      tag: TAG,
      summary: 'Accept or reject a request sent to you',
      description:
        'Only the recipient may respond: the sender naming the recipient gets 404 not_found, as for no request at all ' +
        '(to cancel your own request use DELETE /connections/{username}). Responding once already connected gets ' +
        `409 already_connected. A rejected sender may ask again after CONNECTION_REJECT_COOLDOWN (default ${defaultOf('CONNECTION_REJECT_COOLDOWN')}); ` +
        'the one who rejected may ask the sender at any time. Server events (GET /signaling/poll): accepting writes ' +
        '`connection.accepted`, rejecting `connection.removed` (payload: `{username}`, the other user), to every device ' +
        "of the sender and to your other devices; a device that still holds the request's `connection.requested` " +
        'pending (never acknowledged) gets neither: that event is removed and the removal is not written there.',
      auth: true,
      body: respondBody,
      responses: { 200: { description: '`{connection}` when accepted, `{rejected: true}` when rejected.', schema: respondAnswer } },
      errors: ['not_found', 'already_connected'],
      handler: async (ctx, { body }) => {
        if (body.action === 'accept') {
          ctx.body = { connection: presentConnection(await connections.accept(caller(ctx), body.username)) };
        } else {
          await connections.reject(caller(ctx), body.username);
          ctx.body = { rejected: true };
        }
      },
    }),
    defineRoute({
      method: 'get',
      path: '/connections/',
      tag: TAG,
      summary: 'Your connections',
      description: "By username. Each carries the other member's presence.",
      auth: true,
      responses: { 200: { description: 'Every accepted connection.', schema: connectionsAnswer } },
      handler: async (ctx) => {
        ctx.body = { connections: (await connections.list(caller(ctx))).map(presentConnection) };
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/connections/:username',
      tag: TAG,
      summary: 'Remove a connection or cancel your request',
      description:
        'Removes the connection for both sides, or cancels your own pending request to that user. ' +
        'A request they sent you is answered with POST /connections/respond instead. After cancelling a request you may ' +
        `ask that user again only after CONNECTION_REQUEST_COOLDOWN (default ${defaultOf('CONNECTION_REQUEST_COOLDOWN')}). Server event (GET /signaling/poll): ` +
        '`connection.removed` (payload: `{username}`, the other user) to every device of that user and to your other devices; ' +
        'when you cancel a request, a device still holding its `connection.requested` pending (never acknowledged) gets ' +
        'neither: that event is removed and the removal is not written there. So asking and cancelling in a loop leaves ' +
        'nothing in the mailbox of a device that does not poll.',
      auth: true,
      params: usernameParams,
      responses: { 204: { description: 'Removed.' } },
      errors: ['not_found'],
      handler: async (ctx, { params }) => {
        await connections.remove(caller(ctx), params.username);
        ctx.status = 204;
      },
    }),
  ];
}
