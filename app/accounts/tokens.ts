import { webcrypto } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import type { Clock } from '../lib/clock.js';

const ISSUER = 'signalbox';
const AUDIENCE = 'signalbox';
/** The `typ` header every access token carries and every verification demands. */
const TOKEN_TYPE = 'JWT';

/**
 * Tokens verified recently, by their exact text. A polling client presents the same token every few
 * seconds for its whole lifetime, so re-checking its signature and claims each time is wasted work
 * on the hottest path; only expiry is judged again. A changed character is another key: a forged
 * token always gets the full check. Revocation is unaffected: the session is looked up every time.
 */
const VERIFIED_CACHE_MAX = 10_000;

export interface AccessClaims {
  userId: string;
  sessionId: string;
}

/** Signs and verifies access tokens: HS256 only, with issuer, audience and expiry checked. */
export class AccessTokens {
  // A CryptoKey imported once: jose re-imports a KeyObject or raw secret on every call, which was
  // measurable on the poll hot path (bench/README.md).
  private readonly key: Promise<webcrypto.CryptoKey>;
  private readonly verified = new Map<string, AccessClaims & { exp: number }>();

  constructor(
    secret: Buffer,
    readonly ttlSeconds: number,
    private readonly clock: Clock,
  ) {
    this.key = webcrypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
  }

  async sign(claims: AccessClaims): Promise<string> {
    const now = Math.floor(this.clock.now() / 1000);
    return new SignJWT({ sid: claims.sessionId })
      .setProtectedHeader({ alg: 'HS256', typ: TOKEN_TYPE })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(claims.userId)
      .setIssuedAt(now)
      .setExpirationTime(now + this.ttlSeconds)
      .sign(await this.key);
  }

  /**
   * The claims of a valid token, or null for anything malformed, forged, expired, of another algorithm
   * or of another `typ`. Only fully verified tokens enter the memo, keyed by their whole text (header
   * included), so a token with another header never reaches a cached answer.
   */
  async verify(token: string): Promise<AccessClaims | null> {
    const nowSeconds = this.clock.now() / 1000;
    const cached = this.verified.get(token);
    if (cached) {
      // jose's rule: expired once now >= exp.
      if (nowSeconds < cached.exp) return { userId: cached.userId, sessionId: cached.sessionId };
      this.verified.delete(token);
      return null;
    }
    try {
      const { payload } = await jwtVerify(token, await this.key, {
        algorithms: ['HS256'],
        // RFC 8725 §3.11: explicit typing, so a JWT of some other kind signed with the same key (or a
        // header without typ) is never taken for an access token. jose compares it case-insensitively.
        typ: TOKEN_TYPE,
        issuer: ISSUER,
        audience: AUDIENCE,
        currentDate: new Date(this.clock.now()),
        requiredClaims: ['exp', 'sub', 'sid'],
      });
      if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string' || typeof payload.exp !== 'number') return null;
      const claims = { userId: payload.sub, sessionId: payload.sid };
      // Oldest first out (Map keeps insertion order): bounded memory under any number of clients.
      if (this.verified.size >= VERIFIED_CACHE_MAX) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(token, { ...claims, exp: payload.exp });
      return claims;
    } catch (err) {
      if (err instanceof joseErrors.JOSEError || err instanceof TypeError) return null;
      throw err;
    }
  }
}
