import { SignJWT } from 'jose';
import type { FcmCredentials } from './credentials.js';
import type { WakeUp } from './deliver.js';
import { exchange, type ExchangeLimits, type ExchangeResult, type OutgoingRequest, type Transport } from './exchange.js';

/** What a device subscribed with for direct FCM: its registration token (stored encrypted). */
export interface FcmTarget {
  kind: 'fcm';
  token: string;
}

/** The OAuth2 scope for sending with FCM HTTP v1. */
export const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** An access token is dropped this long before Google says it expires, so none is used as it lapses. */
const EXPIRY_MARGIN_MS = 60_000;

/**
 * FCM's OAuth2 access token from the service account (RFC 7523 JWT bearer grant, RS256 assertion signed
 * with the account's key, at its `token_uri`), kept until it expires. Fetching goes through the same
 * exchange as a push (deadline, answer cap). One request however many pushes wait for it.
 */
export class FcmAccessToken {
  private cached: { token: string; until: number } | null = null;
  private fetching: Promise<{ token: string } | { error: string }> | null = null;
  /** Tokens obtained (tests, bench): one until it expires. */
  fetched = 0;

  constructor(
    private readonly creds: FcmCredentials,
    private readonly transport: Transport,
  ) {}

  async get(limits: ExchangeLimits, now = Date.now()): Promise<{ token: string } | { error: string }> {
    if (this.cached && this.cached.until > now) return { token: this.cached.token };
    this.fetching ??= this.fetch(limits, now).finally(() => {
      this.fetching = null;
    });
    return this.fetching;
  }

  /** FCM answered 401: the token was revoked or lapsed early; the next push asks for a new one. */
  forget(token: string): void {
    if (this.cached?.token === token) this.cached = null;
  }

  private async fetch(limits: ExchangeLimits, now: number): Promise<{ token: string } | { error: string }> {
    const iat = Math.floor(now / 1000);
    const assertion = await new SignJWT({ scope: FCM_SCOPE })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
      .setIssuer(this.creds.clientEmail)
      .setAudience(this.creds.tokenUri)
      .setIssuedAt(iat)
      .setExpirationTime(iat + 3600)
      .sign(this.creds.key);
    const body = Buffer.from(new URLSearchParams({ grant_type: JWT_BEARER, assertion }).toString());
    const answer: ExchangeResult = await exchange(
      this.transport,
      { url: new URL(this.creds.tokenUri), headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': body.length }, body },
      limits,
    );
    if ('error' in answer) return { error: answer.error };
    if (answer.status !== 200) return { error: `oauth_${answer.status}` };
    try {
      const parsed = JSON.parse(answer.body.toString('utf8')) as { access_token?: unknown; expires_in?: unknown };
      if (typeof parsed.access_token !== 'string' || typeof parsed.expires_in !== 'number') return { error: 'oauth_malformed' };
      this.fetched++;
      this.cached = { token: parsed.access_token, until: now + parsed.expires_in * 1000 - EXPIRY_MARGIN_MS };
      return { token: parsed.access_token };
    } catch {
      return { error: 'oauth_malformed' };
    }
  }
}

/**
 * `POST {FCM_URL}/v1/projects/{project_id}/messages:send`: a data message (FCM data values are strings,
 * so the count is one), high priority so a dozing Android device is woken, and a TTL after which the
 * entries are gone anyway.
 */
export function fcmRequest(creds: FcmCredentials, target: FcmTarget, wake: WakeUp, accessToken: string, ttlSeconds: number): OutgoingRequest {
  const body = Buffer.from(
    JSON.stringify({
      message: {
        token: target.token,
        data: { type: wake.type, reason: wake.reason, count: String(wake.count) },
        android: { priority: 'HIGH', ttl: `${ttlSeconds}s` },
      },
    }),
  );
  return {
    url: new URL(`/v1/projects/${encodeURIComponent(creds.projectId)}/messages:send`, creds.fcmUrl),
    headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json', 'content-length': body.length },
    body,
  };
}

interface GoogleError {
  status?: string;
  message?: string;
  details?: Array<{ errorCode?: string; fieldViolations?: Array<{ field?: string }> }>;
}

/**
 * What an FCM answer means (FCM HTTP v1 ErrorCode): 404 UNREGISTERED (the app was removed or the token
 * rotated) and 400 INVALID_ARGUMENT about the token remove the subscription. A 400 about another field is
 * our message's fault, not the device's: it never removes one (else one bug would unsubscribe everyone).
 */
export function fcmVerdict(status: number, body: Buffer): { gone: boolean; tokenRefused: boolean } {
  let error: GoogleError = {};
  try {
    error = (JSON.parse(body.toString('utf8')) as { error?: GoogleError }).error ?? {};
  } catch {
    // judged by status alone
  }
  const codes = [error.status, ...(error.details ?? []).map((d) => d.errorCode)];
  const fields = (error.details ?? []).flatMap((d) => d.fieldViolations ?? []).map((v) => v.field ?? '');
  const aboutToken = fields.includes('message.token') || (fields.length === 0 && /token/i.test(error.message ?? ''));
  return {
    gone: (status === 404 && codes.includes('UNREGISTERED')) || (status === 400 && codes.includes('INVALID_ARGUMENT') && aboutToken),
    tokenRefused: status === 401,
  };
}
