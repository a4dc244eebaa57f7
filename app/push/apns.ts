import { SignJWT } from 'jose';
import type { ApnsCredentials } from './credentials.js';
import type { WakeUp } from './deliver.js';
import type { OutgoingRequest } from './exchange.js';

/** What a device subscribed with for direct APNs (stored encrypted, like every target). */
export interface ApnsTarget {
  kind: 'apns';
  /** The device token, hex (as PushKit's and UIApplication's token bytes print). */
  token: string;
  /** The bundle id; APNS_TOPIC when the device gave none. */
  topic?: string;
  /** A PushKit VoIP token: pushes go to `<topic>.voip` with apns-push-type voip. */
  voip: boolean;
  environment: 'production' | 'sandbox';
}

/**
 * Apple accepts a provider token for an hour and refuses one refreshed more often than every 20
 * minutes (TooManyProviderTokenUpdates): one is signed, then reused for 50 minutes.
 */
export const PROVIDER_TOKEN_REUSE_MS = 50 * 60_000;

/** The provider token (ES256 JWT: `iss` team id, `kid` key id, `iat`), signed once and reused. */
export class ApnsProviderToken {
  private cached: { jwt: string; until: number } | null = null;
  private signing: Promise<string> | null = null;
  /** How many were signed (tests, bench): one for many pushes. */
  signed = 0;

  constructor(private readonly creds: ApnsCredentials) {}

  async get(now = Date.now()): Promise<string> {
    if (this.cached && this.cached.until > now) return this.cached.jwt;
    // One signature however many pushes ask at once.
    this.signing ??= new SignJWT({ iss: this.creds.teamId, iat: Math.floor(now / 1000) })
      .setProtectedHeader({ alg: 'ES256', kid: this.creds.keyId })
      .sign(this.creds.key)
      .then((jwt) => {
        this.signed++;
        this.cached = { jwt, until: now + PROVIDER_TOKEN_REUSE_MS };
        return jwt;
      })
      .finally(() => {
        this.signing = null;
      });
    return this.signing;
  }

  /** APNs said the token expired or is invalid (403): the next push signs a new one. */
  forget(jwt: string): void {
    if (this.cached?.jwt === jwt) this.cached = null;
  }
}

/** The APNs host a subscription's environment goes to. */
export const apnsOrigin = (creds: ApnsCredentials, t: Pick<ApnsTarget, 'environment'>) => (t.environment === 'sandbox' ? creds.sandboxUrl : creds.productionUrl);

/**
 * The request for one wake-up (Apple, "Sending notification requests to APNs"): `POST /3/device/<token>`
 * with the provider token, `apns-topic`, `apns-push-type` voip or background, `apns-priority` 10 for an
 * offer on a VoIP subscription and 5 otherwise (Apple refuses 10 for background pushes), `apns-expiration`
 * when the entries expire anyway, and the content-free body: `content-available` and the wake-up.
 */
export function apnsRequest(
  creds: ApnsCredentials,
  target: ApnsTarget,
  wake: WakeUp,
  urgent: boolean,
  jwt: string,
  ttlSeconds: number,
  now = Date.now(),
): OutgoingRequest {
  const topic = target.topic ?? creds.topic;
  const body = Buffer.from(JSON.stringify({ aps: { 'content-available': 1 }, sb: { type: wake.type, reason: wake.reason, count: wake.count } }));
  return {
    url: new URL(`/3/device/${target.token}`, apnsOrigin(creds, target)),
    headers: {
      authorization: `bearer ${jwt}`,
      'apns-topic': target.voip ? `${topic}.voip` : topic,
      'apns-push-type': target.voip ? 'voip' : 'background',
      'apns-priority': target.voip && urgent ? 10 : 5,
      'apns-expiration': Math.floor(now / 1000) + ttlSeconds,
      'content-type': 'application/json',
      'content-length': body.length,
    },
    body,
  };
}

/** What an APNs answer means for the subscription and the provider token. */
export interface ApnsVerdict {
  /** 410, 400 BadDeviceToken or Unregistered: the token is dead, remove the subscription. */
  gone: boolean;
  /** 403 ExpiredProviderToken / InvalidProviderToken: sign a new token and try again. */
  tokenRefused: boolean;
  reason: string | null;
}

export function apnsVerdict(status: number, body: Buffer): ApnsVerdict {
  let reason: string | null = null;
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { reason?: unknown };
    if (typeof parsed.reason === 'string') reason = parsed.reason;
  } catch {
    // 200 has no body; anything else unparseable is judged by its status alone.
  }
  return {
    gone: status === 410 || (status === 400 && reason === 'BadDeviceToken') || reason === 'Unregistered',
    tokenRefused: status === 403 && (reason === 'ExpiredProviderToken' || reason === 'InvalidProviderToken'),
    reason,
  };
}
