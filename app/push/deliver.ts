import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import webpush from 'web-push';
import type { VapidKeys } from '../config/secrets.js';
import { hostOf, isBlockedAddress, safeLookup, type EndpointPolicy } from './endpoint.js';
import { apnsRequest, apnsVerdict, ApnsProviderToken } from './apns.js';
import type { PushCredentials } from './credentials.js';
import { exchange, http1Transport, type ExchangeError, type ExchangeResult, type OutgoingRequest } from './exchange.js';
import { FcmAccessToken, fcmRequest, fcmVerdict } from './fcm.js';
import { gatewayNotification } from './gateway.js';
import { http2Transport } from './http2Transport.js';
import type { PushTarget } from './targets.js';

/**
 * The wake-up itself, the only thing a push service or gateway ever learns from Signalbox: that
 * something arrived, whether a signal is among it, and how many entries. Never the sender, the type of
 * signal or any payload.
 */
export interface WakeUp {
  type: 'wake';
  reason: 'signal' | 'event';
  count: number;
}

export interface DeliveryOptions {
  vapid: VapidKeys | null;
  vapidSubject: string;
  /** Seconds the push service may hold it (Web Push TTL): after SIGNAL_TTL the entries are gone anyway. */
  ttlSeconds: number;
  policy: EndpointPolicy;
  /** PUSH_TIMEOUT_MS: the whole exchange (connect, TLS, request, answer), not per byte. */
  timeoutMs: number;
  /**
   * Sockets per push origin: PUSH_INFLIGHT_PER_ORIGIN, so a request the sender lets go never waits in the
   * agent for a socket (that wait would count against its deadline). Default 32.
   */
  socketsPerOrigin?: number;
  /** Direct APNs and FCM, when configured (loadPushCredentials); none by default. */
  credentials?: PushCredentials;
}

/**
 * What became of one attempt: the push service's status, or why there is none (`timeout`, `too_large`:
 * the answer passed 64 KiB, `blocked`: an address a push may not reach, `http_not_allowed`, or a network error code).
 */
export type Attempt = Answered | { error: ExchangeError };

/** An answer and what it means: `gone` (remove the subscription), `retry` (worth another attempt later). */
export interface Answered {
  status: number;
  retryAfterSeconds: number | null;
  /** 404/410 from a push service, a gateway's `rejected`, APNs 410/BadDeviceToken/Unregistered, FCM UNREGISTERED/INVALID_ARGUMENT on the token. */
  gone: boolean;
  /** 429, 5xx, or a provider/access token refused (a new one is used next time). */
  retry: boolean;
}

/** A VAPID JWT's lifetime (RFC 8292 allows at most 24 h) and how long one is reused before signing anew. */
const VAPID_JWT_SECONDS = 12 * 3600;
const VAPID_REUSE_MS = 3600_000;
/** Push service origins remembered; a handful in practice (FCM, Mozilla, Apple, a few UnifiedPush servers). */
const VAPID_CACHE_MAX = 1000;

/**
 * The most of an answer read (a gateway's `{rejected: [...]}`); push services answer with next to
 * nothing. Past it the connection is destroyed: an endless answer costs 64 KiB, not a CPU.
 */
export const ANSWER_MAX_BYTES = 64 * 1024;

/**
 * Every Web Push wake-up's plaintext is padded to this many bytes, so its encrypted body has one size
 * whatever the reason and count (a push service sees sizes). The longest wake-up, reason `signal` with a
 * 16-digit count, is 58 bytes. Padded with JSON whitespace, which every JSON parser skips.
 */
export const WAKE_PLAINTEXT_BYTES = 64;

/** The wake-up as the JSON a device decrypts, padded to WAKE_PLAINTEXT_BYTES. */
export function paddedWake(wake: WakeUp): string {
  const json = JSON.stringify({ type: wake.type, reason: wake.reason, count: Math.min(wake.count, Number.MAX_SAFE_INTEGER) });
  if (json.length > WAKE_PLAINTEXT_BYTES) throw new Error('wake-up longer than its padded size');
  return json.padEnd(WAKE_PLAINTEXT_BYTES, ' ');
}

/**
 * Sends one wake-up to one target. Web Push: RFC 8030 with an RFC 8291 aes128gcm body and RFC 8292
 * VAPID, built by the `web-push` library (its request, our socket). Gateway: Matrix Push Gateway API v1
 * `notify` shaped for Sygnal (gateway.ts), `prio: high` only for an offer. Those sockets resolve through
 * `safeLookup`, so an endpoint that now resolves inside the network is refused at connect time. APNs:
 * HTTP/2 with an ES256 provider token (apns.ts). FCM: HTTP v1 with an OAuth2 access token (fcm.ts).
 * Every one goes through `exchange`: one deadline for the whole wake-up, answers cut at 64 KiB.
 */
export function createDelivery(o: DeliveryOptions) {
  const lookup = safeLookup(o.policy);
  // One agent per scheme for the life of the app: keep-alive to the few push services most devices use.
  const agents = {
    'https:': new https.Agent({ keepAlive: true, maxSockets: o.socketsPerOrigin ?? 32, lookup }),
    'http:': new http.Agent({ keepAlive: true, maxSockets: o.socketsPerOrigin ?? 32, lookup }),
  };
  const transport = http1Transport(agents);
  const limits = { deadlineMs: o.timeoutMs, maxAnswerBytes: ANSWER_MAX_BYTES };

  // A VAPID JWT per push service origin, reused for an hour (valid for 12): signing one costs more than
  // encrypting the message (web-push converts the key to PEM with a JavaScript ASN.1 encoder each time).
  const vapidHeaders = new Map<string, { value: string; until: number }>();
  const vapidHeader = (audience: string): string => {
    const now = Date.now();
    const cached = vapidHeaders.get(audience);
    if (cached && cached.until > now) return cached.value;
    const expiration = Math.floor(now / 1000) + VAPID_JWT_SECONDS;
    const { Authorization } = webpush.getVapidHeaders(audience, o.vapidSubject, o.vapid!.publicKey, o.vapid!.privateKey, 'aes128gcm', expiration);
    if (vapidHeaders.size >= VAPID_CACHE_MAX) vapidHeaders.clear();
    vapidHeaders.set(audience, { value: Authorization, until: now + VAPID_REUSE_MS });
    return Authorization;
  };

  const webpushRequest = (target: Extract<PushTarget, { kind: 'webpush' }>, wake: WakeUp, urgent: boolean): OutgoingRequest => {
    if (!o.vapid) throw new Error('no VAPID keys configured');
    const details = webpush.generateRequestDetails({ endpoint: target.endpoint, keys: { p256dh: target.p256dh, auth: target.auth } }, paddedWake(wake), {
      headers: { Authorization: vapidHeader(new URL(target.endpoint).origin) },
      TTL: o.ttlSeconds,
      urgency: urgent ? 'high' : 'normal',
      contentEncoding: 'aes128gcm',
    });
    return { url: new URL(target.endpoint), headers: details.headers, body: details.body };
  };

  const gatewayRequest = (target: Extract<PushTarget, { kind: 'gateway' }>, wake: WakeUp, urgent: boolean): OutgoingRequest => {
    const body = Buffer.from(JSON.stringify(gatewayNotification(target, wake, urgent)));
    return { url: new URL(target.url), headers: { 'Content-Type': 'application/json', 'Content-Length': body.length }, body };
  };

  /** A user-given URL (Web Push, gateway): judged again here, then sent over HTTP/1.1 with the SSRF lookup. */
  const toUserEndpoint = async (req: OutgoingRequest): Promise<ExchangeResult> => {
    const host = hostOf(req.url);
    // An address literal is not looked up, so the lookup's check never sees it: judge it here (the
    // policy may also have been tightened since it was subscribed).
    if (isIP(host) !== 0 && !o.policy.allowPrivate && isBlockedAddress(host)) return { error: 'blocked' };
    if (req.url.protocol === 'http:' && !o.policy.allowHttp) return { error: 'http_not_allowed' };
    return exchange(transport, req, limits);
  };

  // Direct APNs and FCM go to the operator's configured hosts only: their own transports, trusting the
  // system roots (plus PUSH_CA_FILE), with no SSRF lookup, and the same deadline and answer cap.
  const creds = o.credentials ?? { apns: null, fcm: null, ca: undefined };
  const apnsTransport = http2Transport(creds.ca);
  const apnsToken = creds.apns ? new ApnsProviderToken(creds.apns) : null;
  const serviceAgent = new https.Agent({ keepAlive: true, maxSockets: o.socketsPerOrigin ?? 32, ...(creds.ca ? { ca: creds.ca } : {}) });
  const serviceTransport = http1Transport({ 'https:': serviceAgent, 'http:': agents['http:'] });
  const fcmToken = creds.fcm ? new FcmAccessToken(creds.fcm, serviceTransport) : null;

  const answered = (answer: Extract<ExchangeResult, { status: number }>, gone: boolean, refused = false): Answered => {
    const retryAfter = Number(answer.headers['retry-after']);
    return {
      status: answer.status,
      retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : null,
      gone,
      retry: !gone && (answer.status === 429 || answer.status >= 500 || refused),
    };
  };

  return {
    async send(target: PushTarget, wake: WakeUp, urgent: boolean): Promise<Attempt> {
      switch (target.kind) {
        case 'webpush': {
          const answer = await toUserEndpoint(webpushRequest(target, wake, urgent));
          return 'error' in answer ? answer : answered(answer, answer.status === 404 || answer.status === 410);
        }
        case 'gateway': {
          const answer = await toUserEndpoint(gatewayRequest(target, wake, urgent));
          if ('error' in answer) return answer;
          const ok = answer.status >= 200 && answer.status < 300;
          return answered(answer, answer.status === 404 || answer.status === 410 || (ok && rejected(answer.body).includes(target.pushkey)));
        }
        case 'apns': {
          if (!creds.apns || !apnsToken) return { error: 'not_configured' };
          const started = Date.now();
          const jwt = await apnsToken.get(started);
          const answer = await exchange(apnsTransport, apnsRequest(creds.apns, target, wake, urgent, jwt, o.ttlSeconds, started), {
            ...limits,
            deadlineMs: Math.max(1, limits.deadlineMs - (Date.now() - started)),
          });
          if ('error' in answer) return answer;
          const verdict = apnsVerdict(answer.status, answer.body);
          if (verdict.tokenRefused) apnsToken.forget(jwt);
          return answered(answer, verdict.gone, verdict.tokenRefused);
        }
        case 'fcm': {
          if (!creds.fcm || !fcmToken) return { error: 'not_configured' };
          // One deadline for the whole wake-up: an access token fetched first takes its share.
          const started = Date.now();
          const token = await fcmToken.get(limits, started);
          if ('error' in token) return token;
          const answer = await exchange(serviceTransport, fcmRequest(creds.fcm, target, wake, token.token, o.ttlSeconds), {
            ...limits,
            deadlineMs: Math.max(1, limits.deadlineMs - (Date.now() - started)),
          });
          if ('error' in answer) return answer;
          const verdict = fcmVerdict(answer.status, answer.body);
          if (verdict.tokenRefused) fcmToken.forget(token.token);
          return answered(answer, verdict.gone, verdict.tokenRefused);
        }
      }
    },
    /** Provider tokens signed and access tokens fetched so far (tests, bench: one for many pushes). */
    tokenCounts: () => ({ apnsSigned: apnsToken?.signed ?? 0, fcmFetched: fcmToken?.fetched ?? 0 }),
    close() {
      agents['https:'].destroy();
      agents['http:'].destroy();
      serviceAgent.destroy();
      apnsTransport.close();
    },
  };
}

export type Delivery = ReturnType<typeof createDelivery>;

/** The pushkeys a gateway answered as `rejected` (the device is gone: remove it), from its JSON answer. */
function rejected(body: Buffer): string[] {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { rejected?: unknown };
    return Array.isArray(parsed.rejected) ? parsed.rejected.filter((k): k is string => typeof k === 'string') : [];
  } catch {
    return [];
  }
}
