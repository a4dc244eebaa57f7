import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import webpush from 'web-push';
import type { VapidKeys } from '../config.js';
import { hostOf, isBlockedAddress, safeLookup, type EndpointPolicy } from './endpoint.js';
import { exchange, http1Transport, type ExchangeError } from './exchange.js';
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
}

/**
 * What became of one attempt: the push service's status, or why there is none (`timeout`, `too_large`:
 * the answer passed 64 KiB, `blocked`: an address a push may not reach, `http_not_allowed`, or a network error code).
 */
export type Attempt = { status: number; retryAfterSeconds: number | null; rejectedPushkeys: string[] } | { error: ExchangeError };

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
 * `notify`, with `prio: high` when a signal waits and no content. Sockets resolve through
 * `safeLookup`, so an endpoint that now resolves inside the network is refused at connect time.
 */
export function createDelivery(o: DeliveryOptions) {
  const lookup = safeLookup(o.policy);
  // One agent per scheme for the life of the app: keep-alive to the few push services most devices use.
  const agents = {
    'https:': new https.Agent({ keepAlive: true, maxSockets: o.socketsPerOrigin ?? 32, lookup } as https.AgentOptions),
    'http:': new http.Agent({ keepAlive: true, maxSockets: o.socketsPerOrigin ?? 32, lookup } as http.AgentOptions),
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

  const request = (target: PushTarget, wake: WakeUp, urgent: boolean): { url: URL; headers: Record<string, string | number>; body: Buffer } => {
    if (target.kind === 'webpush') {
      if (!o.vapid) throw new Error('no VAPID keys configured');
      const details = webpush.generateRequestDetails({ endpoint: target.endpoint, keys: { p256dh: target.p256dh, auth: target.auth } }, paddedWake(wake), {
        headers: { Authorization: vapidHeader(new URL(target.endpoint).origin) },
        TTL: o.ttlSeconds,
        urgency: urgent ? 'high' : 'normal',
        contentEncoding: 'aes128gcm',
      });
      return { url: new URL(target.endpoint), headers: details.headers as Record<string, string | number>, body: details.body as Buffer };
    }
    const notification = {
      notification: {
        prio: wake.reason === 'signal' ? 'high' : 'low',
        counts: { unread: wake.count },
        devices: [{ app_id: target.appId, pushkey: target.pushkey, data: { type: wake.type, reason: wake.reason, count: wake.count } }],
      },
    };
    const body = Buffer.from(JSON.stringify(notification));
    return { url: new URL(target.url), headers: { 'Content-Type': 'application/json', 'Content-Length': body.length }, body };
  };

  return {
    async send(target: PushTarget, wake: WakeUp, urgent: boolean): Promise<Attempt> {
      const { url, headers, body } = request(target, wake, urgent);
      const host = hostOf(url);
      // An address literal is not looked up, so the lookup's check never sees it: judge it here (the
      // policy may also have been tightened since it was subscribed).
      if (isIP(host) !== 0 && !o.policy.allowPrivate && isBlockedAddress(host)) return { error: 'blocked' };
      if (url.protocol === 'http:' && !o.policy.allowHttp) return { error: 'http_not_allowed' };
      const answer = await exchange(transport, { url, headers, body }, limits);
      if ('error' in answer) return answer;
      const retryAfter = Number(answer.headers['retry-after']);
      return {
        status: answer.status,
        retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : null,
        rejectedPushkeys: target.kind === 'gateway' ? rejected(answer.body) : [],
      };
    },
    close() {
      agents['https:'].destroy();
      agents['http:'].destroy();
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
