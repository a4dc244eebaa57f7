import { caller } from '../http/context.js';
import { defineRoute, type AnyRoute } from '../http/route.js';
import type { IceServerService } from './iceServers.js';
import { iceServersResponse } from './iceServers.schema.js';

const TAG = 'Signaling';

export function iceServerRoutes(ice: IceServerService): AnyRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/signaling/ice-servers',
      tag: TAG,
      summary: 'STUN and TURN servers for RTCPeerConnection',
      description:
        'STUN URLs from STUN_URLS; TURN URLs from TURN_URLS with a credential for the caller. With TURN_SECRET the ' +
        "credential follows coturn's use-auth-secret scheme: username `<expiry-unix-seconds>:<userId>`, credential the " +
        'base64 HMAC-SHA1 of the username keyed with the secret, valid TURN_TTL seconds (`ttl`); otherwise the static ' +
        'TURN_USERNAME/TURN_CREDENTIAL. Without TURN_URLS only STUN entries (or none) are listed. `ttl` is TURN_TTL in ' +
        'every case: ask again before it runs out. Rate limited per user (RATE_ICE_USER).',
      auth: true,
      responses: { 200: { description: 'The ICE servers and how long their credentials last.', schema: iceServersResponse } },
      errors: ['rate_limited'],
      handler: async (ctx) => {
        ctx.body = await ice.forUser(caller(ctx).userId);
      },
    }),
  ];
}
