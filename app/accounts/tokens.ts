import { createSecretKey, type KeyObject } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import type { Clock } from '../lib/clock.js';

const ISSUER = 'signalbox';
const AUDIENCE = 'signalbox';

export interface AccessClaims {
  userId: string;
  sessionId: string;
}

/** Signs and verifies access tokens: HS256 only, with issuer, audience and expiry checked. */
export class AccessTokens {
  // Imported once: building the key per request is measurable on the poll hot path.
  private readonly key: KeyObject;

  constructor(
    secret: Buffer,
    readonly ttlSeconds: number,
    private readonly clock: Clock,
  ) {
    this.key = createSecretKey(secret);
  }

  async sign(claims: AccessClaims): Promise<string> {
    const now = Math.floor(this.clock.now() / 1000);
    return new SignJWT({ sid: claims.sessionId })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(claims.userId)
      .setIssuedAt(now)
      .setExpirationTime(now + this.ttlSeconds)
      .sign(this.key);
  }

  /** The claims of a valid token, or null for anything malformed, forged, expired or of another algorithm. */
  async verify(token: string): Promise<AccessClaims | null> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        issuer: ISSUER,
        audience: AUDIENCE,
        currentDate: new Date(this.clock.now()),
        requiredClaims: ['exp', 'sub', 'sid'],
      });
      if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string') return null;
      return { userId: payload.sub, sessionId: payload.sid };
    } catch (err) {
      if (err instanceof joseErrors.JOSEError || err instanceof TypeError) return null;
      throw err;
    }
  }
}
