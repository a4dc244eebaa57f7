import { createHmac } from 'node:crypto';
import type { Config } from '../config/parse.js';
import type { RateLimiter } from '../core/rateLimiter.js';
import type { Clock } from '../lib/clock.js';
import type { IceServersAnswer } from './iceServers.schema.js';

export interface IceServerDeps {
  config: Pick<Config, 'stunUrls' | 'turnUrls' | 'turnSecret' | 'turnTtl' | 'turnUsername' | 'turnCredential'>;
  clock: Clock;
  limiter: RateLimiter;
}

/**
 * coturn's TURN REST credential (`use-auth-secret`): the username carries its own expiry, and the
 * password is an HMAC the TURN server can recompute from the shared secret, so Signalbox and coturn
 * never have to share a user database. coturn refuses the username once its expiry has passed.
 */
export function turnRestCredential(secret: string, userId: string, expiresAtSeconds: number): { username: string; credential: string } {
  const username = `${expiresAtSeconds}:${userId}`;
  return { username, credential: createHmac('sha1', secret).update(username).digest('base64') };
}

/** The ICE servers a signed-in client should use, with TURN credentials minted for that user. */
export class IceServerService {
  constructor(private readonly d: IceServerDeps) {}

  /** Counted per user (RATE_ICE_USER): every answer mints a credential, so a loop is cut off early. */
  async forUser(userId: string): Promise<IceServersAnswer> {
    await this.d.limiter.consume('icePerUser', userId);
    const { config } = this.d;
    const iceServers: IceServersAnswer['iceServers'] = [];
    if (config.stunUrls.length > 0) iceServers.push({ urls: [...config.stunUrls] });
    if (config.turnUrls.length > 0) {
      if (config.turnSecret) {
        // Whole seconds, rounded down: the credential never outlives TURN_TTL.
        const expiresAt = Math.floor(this.d.clock.now() / 1000) + config.turnTtl;
        iceServers.push({ urls: [...config.turnUrls], ...turnRestCredential(config.turnSecret, userId, expiresAt) });
      } else {
        // parseConfig guarantees the static pair is set when TURN_URLS is set without TURN_SECRET.
        iceServers.push({ urls: [...config.turnUrls], username: config.turnUsername!, credential: config.turnCredential! });
      }
    }
    return { iceServers, ttl: config.turnTtl };
  }
}
