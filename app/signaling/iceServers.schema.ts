import { z } from 'zod';

/** One entry of RTCConfiguration.iceServers, as a browser or libwebrtc takes it. */
export const iceServerSchema = z.object({
  urls: z.array(z.string()).describe('stun:, stuns:, turn: or turns: URLs, from STUN_URLS and TURN_URLS'),
  username: z.string().optional().describe('TURN only: `<expiry-unix-seconds>:<userId>` with TURN_SECRET, else TURN_USERNAME'),
  credential: z.string().optional().describe('TURN only: base64 HMAC-SHA1 of the username keyed with TURN_SECRET, else TURN_CREDENTIAL'),
});

export const iceServersResponse = z.object({
  iceServers: z.array(iceServerSchema).describe('STUN entry first (when STUN_URLS is set), then the TURN entry (when TURN_URLS is set)'),
  ttl: z.number().int().describe('seconds (TURN_TTL): how long the TURN credential is valid; ask again before it runs out'),
});

export type IceServersAnswer = z.infer<typeof iceServersResponse>;
