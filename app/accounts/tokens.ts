import { createHmac, createSecretKey, timingSafeEqual, webcrypto, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Clock } from '../lib/clock.js';

const ISSUER = 'signalbox';
const AUDIENCE = 'signalbox';
/** The `typ` header every access token carries and every verification demands. */
const TOKEN_TYPE = 'JWT';

/** A base64url JWS segment (no padding); the signature of HS256 is 32 bytes, 43 characters. */
const SEGMENT = /^[A-Za-z0-9_-]+$/;
const HS256_SIGNATURE_CHARS = 43;

/**
 * Tokens verified recently, by their exact text. A polling client presents the same token every few
 * seconds for its whole lifetime, so re-checking its signature and claims each time is wasted work on
 * the hottest path (an HMAC is still ~7 % of an empty poll); only expiry is judged again. A changed
 * character is another key: a forged token always gets the full check. Revocation is unaffected: the
 * session is looked up every time.
 */
const VERIFIED_CACHE_MAX = 10_000;

export interface AccessClaims {
  userId: string;
  sessionId: string;
}

/** jose's `typ` comparison: case-insensitive, `application/` optional (RFC 7515 §4.1.9). */
const normalizeTyp = (value: string) => value.toLowerCase().replace(/^application\//, '');

function parseSegment(segment: string): Record<string, unknown> | null {
  if (!SEGMENT.test(segment)) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * Signs and verifies access tokens: HS256 only, with issuer, audience and expiry checked.
 *
 * Signing goes through jose. Verifying is the hottest code of the server (every request, every poll),
 * and only ever has to accept what `sign` makes, so it is done here, synchronously, with node:crypto and
 * a key made once: jose verifies through asynchronous WebCrypto, a job and a promise per request
 * (bench/README.md). Every check of RFC 8725 is kept: the algorithm is pinned (the header
 * must say HS256, nothing else is even parsed for a key), `typ` is demanded (§3.11), `iss` and `aud`
 * must be ours, `exp` is required and `nbf` honoured, `iat` when present must be a number (as jose), a
 * `crit` header is refused (we never set one; jose refuses extensions it does not know), and the
 * signature is compared in constant time before any claim is believed.
 */
export class AccessTokens {
  // A CryptoKey imported once for jose's signing: jose re-imports a KeyObject or raw secret on every call.
  private readonly signingKey: Promise<webcrypto.CryptoKey>;
  private readonly verifyKey: KeyObject;
  /**
   * Keyed by the signature (43 characters), the whole text kept and compared: a Map hashes its key on
   * every lookup, and the whole token (~250 characters, a new string per request) was most of this
   * lookup's cost on the empty poll (bench/README.md). A hit still demands the exact text.
   */
  private readonly verified = new Map<string, AccessClaims & { token: string; exp: number }>();

  constructor(
    secret: Buffer,
    readonly ttlSeconds: number,
    private readonly clock: Clock,
  ) {
    this.signingKey = webcrypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    this.verifyKey = createSecretKey(Buffer.from(secret));
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
      .sign(await this.signingKey);
  }

  /** `verifySync`, for callers that take a promise (the `TokenVerifier` port). */
  async verify(token: string): Promise<AccessClaims | null> {
    return this.verifySync(token);
  }

  /**
   * The claims of a valid token, or null for anything malformed, forged, expired, not yet valid, of
   * another algorithm, of another `typ`, issuer or audience. Synchronous: no promise on the hot path.
   */
  verifySync(token: string): AccessClaims | null {
    const signature = token.slice(token.lastIndexOf('.') + 1);
    const cached = this.verified.get(signature);
    if (cached && cached.token === token) {
      // The same rule as below: expired once now >= exp, in whole seconds.
      if (cached.exp > Math.floor(this.clock.now() / 1000)) return { userId: cached.userId, sessionId: cached.sessionId };
      this.verified.delete(signature);
      return null;
    }
    const claims = this.check(token);
    if (!claims) return null;
    if (claims.remember) {
      // Oldest first out (a Map keeps insertion order): bounded memory under any number of clients.
      if (this.verified.size >= VERIFIED_CACHE_MAX) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(signature, { token, userId: claims.userId, sessionId: claims.sessionId, exp: claims.exp });
    }
    return { userId: claims.userId, sessionId: claims.sessionId };
  }

  /** The full check of a token not in the memo: its claims and expiry, or null. */
  private check(token: string): (AccessClaims & { exp: number; remember: boolean }) | null {
    const firstDot = token.indexOf('.');
    const secondDot = token.indexOf('.', firstDot + 1);
    if (firstDot <= 0 || secondDot <= firstDot + 1 || token.indexOf('.', secondDot + 1) !== -1) return null;
    const signature = token.slice(secondDot + 1);
    if (signature.length !== HS256_SIGNATURE_CHARS || !SEGMENT.test(signature)) return null;
    const header = parseSegment(token.slice(0, firstDot));
    // RFC 8725 §3.1: the one algorithm we issue, decided before the key is used; §3.11: explicit typing.
    if (!header || header.alg !== 'HS256' || typeof header.typ !== 'string' || normalizeTyp(header.typ) !== 'jwt') return null;
    if (header.crit !== undefined || header.b64 !== undefined) return null;
    const expected = createHmac('sha256', this.verifyKey).update(token.slice(0, secondDot)).digest();
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    const payload = parseSegment(token.slice(firstDot + 1, secondDot));
    if (!payload) return null;
    const { iss, aud, sub, sid, exp, nbf, iat } = payload;
    if (iss !== ISSUER) return null;
    if (aud !== AUDIENCE && !(Array.isArray(aud) && aud.includes(AUDIENCE))) return null;
    // jose's rules, in whole seconds: expired once now >= exp; not yet valid while nbf > now.
    const now = Math.floor(this.clock.now() / 1000);
    if (typeof exp !== 'number' || !Number.isFinite(exp) || exp <= now) return null;
    if (nbf !== undefined && (typeof nbf !== 'number' || !Number.isFinite(nbf) || nbf > now)) return null;
    if (iat !== undefined && (typeof iat !== 'number' || !Number.isFinite(iat))) return null;
    if (typeof sub !== 'string' || typeof sid !== 'string') return null;
    // A token with `nbf` (we never issue one) is not remembered: the memo re-judges expiry only.
    return { userId: sub, sessionId: sid, exp, remember: nbf === undefined };
  }
}
