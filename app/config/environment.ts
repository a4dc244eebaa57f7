/**
 * The table of every variable Signalbox reads (ENVIRONMENT) and what is derived from it: the environment
 * schema, the row types behind Config, the rate limits' names (docs/configuration.md is rendered from it).
 */
import { z } from 'zod';
import { BUNDLE_ID, bool, int, isHttpsOrigin, isPostgresUrl, isUrl, limit, oneOf, opt, originList, text, urlList, type Parser } from './parsers.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** What a whole-number variable counts, when not plain things: its default is said in this unit's words. */
export type Unit = 'seconds' | 'milliseconds' | 'bytes';

/** Comment lines, as they appear in `.env.example` (each line one string). */
type Doc = string | readonly string[];

interface Variable {
  /** The environment variable. */
  env: string;
  parse: Parser;
  /** What an operator needs to know, printed above it in `.env.example`; none when the comment above covers it. */
  doc?: Doc;
  /** What a whole-number value counts, so docs can say its default in words (defaults.ts); none: a plain count. */
  unit?: Unit;
  /**
   * Its Default cell in docs/security.md's "Every limit at a glance" (scripts/gen-limits-table.ts): `{}` is the
   * default in words, a rate limit's `{max}` and `{window}` apart. None: the default alone.
   */
  shows?: string;
  /** What this limit stops, the Stops cell of its row there (`{perDay}`: a rate limit's maximum over a day). */
  stops?: string;
}

/** A variable that fills one field of Config. */
interface ConfigVariable extends Variable {
  key: string;
}

/** A rate limit: fills `rateLimits[rateLimit]`. */
interface RateLimitVariable extends Variable {
  rateLimit: string;
}

/** A group of variables, separated by a blank line in `.env.example`; `doc` introduces the whole group. */
interface Section {
  doc?: Doc;
  variables: readonly (ConfigVariable | RateLimitVariable)[];
}

/**
 * Every variable Signalbox reads, declared once: the environment schema, `Config`, `RateLimitName` and
 * `.env.example` (`npm run docs:env`) are all derived from this table, in its order (the first bad
 * variable in this order is the one reported).
 */
export const ENVIRONMENT = [
  {
    variables: [
      { env: 'HOST', key: 'host', parse: text('127.0.0.1'), doc: 'Where the HTTP server listens. Keep 127.0.0.1 behind a reverse proxy (nginx/caddy terminates TLS).' },
      { env: 'PORT', key: 'port', parse: int(0, 65535, 8080) },
    ],
  },
  {
    variables: [
      {
        env: 'STORE',
        key: 'store',
        parse: oneOf(['sqlite', 'mongodb', 'postgres'], 'sqlite', 'must be sqlite, mongodb or postgres'),
        doc: 'sqlite: embedded, one file in DATA_DIR, nothing to install. mongodb or postgres: several instances share one database.',
      },
      {
        env: 'DATA_DIR',
        key: 'dataDir',
        parse: text('./data'),
        doc: 'SQLite database, generated secrets (jwt-secret, data-key) and the dev mail outbox live here. Back it up.',
      },
      {
        env: 'SQLITE_SYNCHRONOUS',
        key: 'sqliteSynchronous',
        parse: oneOf(['normal', 'full'], 'normal', 'must be normal or full'),
        doc: 'normal: an accepted write (a 202 send) survives a crash of the process; a power cut or kernel crash may lose the latest ones the OS had not yet written out (up to ~30 s with Linux defaults), never corrupting the file. full: fsync at every commit, so they survive that too, at one disk flush per commit group. See docs/operations.md.',
      },
      {
        env: 'MONGODB_URI',
        key: 'mongodbUri',
        parse: opt(z.string().regex(/^mongodb(\+srv)?:\/\/\S+$/, 'must be a mongodb:// or mongodb+srv:// URL')),
        doc: 'Required when STORE=mongodb; must reach a replica set (one node is enough): mailbox fan-out and server events are multi-document transactions, and its change stream wakes long-polls across instances.',
      },
      { env: 'MONGODB_DB', key: 'mongodbDb', parse: text('signalbox', z.string().regex(/^[A-Za-z0-9_-]{1,63}$/, 'must be a database name')) },
      {
        env: 'DATABASE_URL',
        key: 'databaseUrl',
        parse: opt(z.string().refine(isPostgresUrl, 'must be a postgres:// or postgresql:// URL with a host (postgres://user:pass@host:5432/db)')),
        doc: 'Required when STORE=postgres (PostgreSQL 14+); TLS and other libpq options go in its query string (?sslmode=require). Any number of instances may share the database: migrations run once under an advisory lock and LISTEN/NOTIFY wakes long-polls across instances. See docs/deploy.md.',
      },
      {
        env: 'PG_POOL_MAX',
        key: 'pgPoolMax',
        parse: int(1, 1000, 10),
        doc: "Connections each instance opens at most (STORE=postgres), plus two that LISTEN (arrivals, ended sessions). Instances x (PG_POOL_MAX + 2) must stay below the server's max_connections.",
      },
      {
        env: 'PG_STATEMENT_TIMEOUT_MS',
        key: 'pgStatementTimeoutMs',
        unit: 'milliseconds',
        parse: int(100, 600_000, 5000),
        doc: 'PostgreSQL cancels a statement running longer than this (STORE=postgres); the request is answered 503 unavailable with Retry-After.',
      },
    ],
  },
  {
    variables: [
      {
        env: 'JWT_SECRET',
        key: 'jwtSecret',
        parse: opt(z.string().refine((s) => Buffer.byteLength(s) >= 32, 'must be at least 32 bytes')),
        doc: 'Signs access tokens, at least 32 bytes. Unset: generated once into DATA_DIR/jwt-secret (mode 0600).',
      },
      {
        env: 'DATA_KEY',
        key: 'dataKey',
        parse: opt(z.string().refine((s) => /^[A-Za-z0-9+/]+={0,2}$/.test(s.trim()) && Buffer.from(s, 'base64').length === 32, 'must be 32 bytes in base64')),
        doc: [
          '32 bytes in base64; encrypts e-mail and birthday at rest. Unset: generated once into DATA_DIR/data-key.',
          'Losing it makes stored e-mail addresses unreadable (logins by e-mail stop working): back it up.',
        ],
      },
    ],
  },
  {
    variables: [
      {
        env: 'ACCESS_TOKEN_TTL',
        key: 'accessTokenTtl',
        unit: 'seconds',
        parse: int(60, 86400, 900),
        doc: 'Seconds. Short access tokens bound what a stolen one is worth; refresh tokens rotate on every use.',
      },
      { env: 'REFRESH_TOKEN_TTL', key: 'refreshTokenTtl', unit: 'seconds', parse: int(300, 31_536_000, 2_592_000) },
    ],
  },
  {
    variables: [
      {
        env: 'SMTP_URL',
        key: 'smtpUrl',
        // smtp+insecure:// is the operator's explicit opt-out of STARTTLS being required (a relay on loopback).
        parse: opt(
          z
            .string()
            .regex(/^(smtps?|smtp\+insecure):\/\/\S+$/, 'must be an smtp://, smtps:// or smtp+insecure:// URL')
            .refine(isUrl, 'must be an smtp://, smtps:// or smtp+insecure:// URL'),
        ),
        doc: [
          'smtp:// (STARTTLS required: a server that does not offer it is refused, so TLS cannot be stripped) or',
          'smtps://user:pass@host:465. smtp+insecure:// sends without TLS: only for a relay on loopback.',
          'Unset: mails are written to DATA_DIR/outbox/.',
        ],
      },
      { env: 'MAIL_FROM', key: 'mailFrom', parse: text('Signalbox <no-reply@localhost>', z.string().max(320)) },
    ],
  },
  {
    variables: [
      { env: 'OTP_TTL', key: 'otpTtl', unit: 'seconds', parse: int(60, 86400, 600), doc: 'Seconds a password-reset code stays valid.' },
      {
        env: 'SECURITY_EVENTS_TTL',
        key: 'securityEventsTtl',
        unit: 'seconds',
        parse: int(86_400, 157_680_000, 7_776_000),
        doc: "Seconds an entry of an account's security log (GET /users/me/security-events) is kept; 90 days by default. Removed by the periodic purge.",
      },
      { env: 'MIN_AGE', key: 'minAge', parse: int(0, 150, 13), doc: 'Youngest age (years) allowed to register when a birthday is given; 13 follows COPPA.' },
    ],
  },
  {
    variables: [
      {
        env: 'STUN_URLS',
        key: 'stunUrls',
        parse: urlList(['stun:', 'stuns:']),
        doc: 'Comma-separated stun:/stuns: URLs handed to clients, e.g. stun:turn.example.com:3478',
      },
      {
        env: 'TURN_URLS',
        key: 'turnUrls',
        parse: urlList(['turn:', 'turns:']),
        doc: 'Comma-separated turn:/turns: URLs, e.g. turn:turn.example.com:3478?transport=udp',
      },
      {
        env: 'TURN_SECRET',
        key: 'turnSecret',
        parse: opt(z.string().min(16, 'must be at least 16 characters')),
        doc: 'coturn static-auth-secret: clients get short-lived credentials instead of a shared password.',
      },
      { env: 'TURN_TTL', key: 'turnTtl', unit: 'seconds', parse: int(60, 604_800, 86400), doc: 'Seconds a TURN credential is valid.' },
      { env: 'TURN_USERNAME', key: 'turnUsername', parse: opt(z.string()), doc: 'Static TURN credentials, only when TURN_SECRET is not used.' },
      { env: 'TURN_CREDENTIAL', key: 'turnCredential', parse: opt(z.string()) },
    ],
  },
  {
    variables: [
      {
        env: 'SIGNAL_TTL',
        key: 'signalTtl',
        unit: 'seconds',
        parse: int(5, 86400, 300),
        doc: 'Seconds an undelivered signal is kept; call setup is useless after a few minutes.',
      },
      {
        env: 'SIGNAL_MAX_BYTES',
        stops: 'large payloads and bodies',
        key: 'signalMaxBytes',
        unit: 'bytes',
        parse: int(1, 1_048_576, 16384),
        doc: 'Largest signal payload in bytes (an SDP offer with many candidates stays well below).',
      },
      {
        env: 'MAILBOX_MAX',
        shows: '{} signals per device',
        stops: "one peer filling someone's mailbox so nobody else gets through",
        key: 'mailboxMax',
        parse: int(1, 100_000, 500),
        doc: 'Pending signals each device may hold (server events count apart, EVENTS_MAX); a full device is skipped, and a send every target device refuses gets 429 mailbox_full.',
      },
      {
        env: 'EVENTS_MAX',
        shows: "{} pending server events per device; past it the device's oldest pending event is dropped",
        stops: "strangers' events (connection requests) filling a mailbox so contacts' signals are refused",
        key: 'eventsMax',
        parse: int(1, 100_000, 100),
        doc: [
          'Pending server events each device may hold, counted apart from its signals: past it the oldest pending event',
          'of that device is dropped (docs/security.md), so a flood by strangers never refuses a signal or a change.',
        ],
      },
      {
        env: 'MAILBOX_PER_SENDER',
        shows: '{} per sender in it (server events count apart)',
        key: 'mailboxPerSender',
        parse: int(1, 100_000, 100),
        doc: "Of those, what one sender may hold in each device's mailbox: no single peer can fill a mailbox and block the others.",
      },
      {
        env: 'POLLS_PER_USER',
        shows: '{} held polls per user (one for each of `DEVICES_MAX` devices); 1 per device',
        stops: 'one account holding thousands of sockets',
        key: 'pollsPerUser',
        parse: int(1, 10_000, 10),
        doc: [
          "Long-polls one user may hold at once; a device's new poll replaces its older one (answered empty).",
          'At least DEVICES_MAX, so every device of a user can hold its poll.',
        ],
      },
      {
        env: 'POLLS_MAX',
        stops: 'held polls using up the descriptors logins need',
        key: 'pollsMax',
        parse: opt(
          z
            .string()
            .regex(/^\d{1,7}$/, 'must be a whole number from 1 to 9999999')
            .transform(Number)
            .refine((n) => n >= 1, 'must be at least 1'),
        ),
        doc: [
          'Long-polls this process holds in all; past it polls get 503 with Retry-After. Unset: derived from the',
          'open-file limit (LimitNOFILE), leaving room for logins, the database and the proxy.',
        ],
      },
      {
        env: 'DEVICES_MAX',
        shows: '{} sessions per user; a new sign-in past it ends the least recently seen',
        stops: 'one account piling up sessions (and their mailboxes and polls) without end',
        key: 'devicesMax',
        parse: int(1, 1000, 10),
        doc: [
          'Sessions (signed-in devices) one user may hold; a new sign-in past it ends the least recently seen one',
          '(its tokens and held polls), so a forgotten device cannot keep a slot forever.',
        ],
      },
      {
        env: 'SESSION_MAX_AGE',
        stops: 'a stolen refresh token living forever',
        key: 'sessionMaxAge',
        unit: 'seconds',
        parse: int(3600, 315_360_000, 7_776_000),
        doc: 'Seconds a session lives from sign-in however often it refreshes (90 days); then the device signs in again.',
      },
      { env: 'PRESENCE_WINDOW', key: 'presenceWindow', unit: 'seconds', parse: int(1, 86400, 60), doc: 'Seconds after the last poll that a user still shows online.' },
      {
        env: 'CONNECTION_REQUEST_TTL',
        key: 'connectionRequestTtl',
        unit: 'seconds',
        parse: int(60, 31_536_000, 2_592_000),
        doc: 'Seconds a connection request waits for an answer.',
      },
      {
        env: 'CONNECTION_PENDING_MAX',
        shows: '{} outgoing requests',
        stops: 'spamming the directory with requests',
        key: 'connectionPendingMax',
        parse: int(1, 100_000, 100),
        doc: 'Unanswered outgoing requests one account may hold, so nobody can spam the whole directory with requests.',
      },
      {
        env: 'CONNECTION_REQUEST_COOLDOWN',
        shows: '{} per pair after a cancel',
        stops: 'request-cancel loops against one user',
        key: 'connectionRequestCooldown',
        unit: 'seconds',
        parse: int(0, 31_536_000, 600),
        doc: 'Seconds a requester who cancelled a request waits before asking the same user again (0: at once), so request-cancel loops cannot flood them.',
      },
      {
        env: 'CONNECTION_REJECT_COOLDOWN',
        shows: '{} per pair after a rejection',
        stops: 're-requesting someone who said no, forever',
        key: 'connectionRejectCooldown',
        unit: 'seconds',
        parse: int(0, 31_536_000, 604_800),
        doc: 'Seconds a rejected requester waits before asking the same user again (7 days; 0: at once), so a "no" stays a no.',
      },
    ],
  },
  {
    doc: [
      'Push wake-ups (docs/push.md): a device holding no poll gets a content-free Web Push or push-gateway',
      'message when something arrives for it, at most one per PUSH_COALESCE_MS.',
    ],
    variables: [
      {
        env: 'VAPID_SUBJECT',
        key: 'vapidSubject',
        parse: text('mailto:postmaster@localhost', z.string().regex(/^(mailto:[^\s@]+@[^\s@]+|https:\/\/\S+)$/, 'must be a mailto: address or an https: URL')),
        doc: 'Your contact for push services (RFC 8292), a mailto: or https: URL; Apple refuses localhost: set it.',
      },
      {
        env: 'VAPID_PRIVATE_KEY',
        key: 'vapidPrivateKey',
        parse: opt(z.string().refine((s) => /^[A-Za-z0-9_-]{43}$/.test(s.trim()), 'must be a P-256 private key: 32 bytes in base64url')),
        doc: [
          'Signs Web Push requests (VAPID, P-256, 32 bytes base64url). Unset: generated once into DATA_DIR/vapid-private-key.',
          'Changing it invalidates every browser subscription (they name the public key): back it up.',
        ],
      },
      {
        env: 'PUSH_ALLOW_HTTP',
        key: 'pushAllowHttp',
        parse: bool(false),
        doc: 'true: push endpoints may be http:// (tests only); otherwise https is required.',
      },
      {
        env: 'PUSH_ALLOW_PRIVATE',
        key: 'pushAllowPrivate',
        parse: bool(false),
        doc: [
          'true: push endpoints may resolve to loopback or private addresses (a gateway on your LAN, tests). Off, the',
          'server refuses them at subscribe time and again when it connects, so a user cannot make it call inside your network.',
        ],
      },
      {
        env: 'PUSH_COALESCE_MS',
        key: 'pushCoalesceMs',
        unit: 'milliseconds',
        parse: int(100, 600_000, 5000),
        doc: 'At most one wake-up per device per this many milliseconds; what arrives meanwhile is one more wake-up at its end.',
      },
      {
        env: 'PUSH_QUEUE_MAX',
        key: 'pushQueueMax',
        parse: int(1, 1_000_000, 10_000),
        doc: 'Wake-ups waiting to be sent (retries included); past it new ones are dropped and counted (the device polls when opened).',
      },
      {
        env: 'PUSH_TIMEOUT_MS',
        shows: '{} per push request, start to end',
        stops: 'a push endpoint that trickles its answer holding a request for ever ([below](#push-endpoints-that-attack-the-server))',
        key: 'pushTimeoutMs',
        unit: 'milliseconds',
        parse: int(1000, 120_000, 10_000),
        doc: [
          'The whole of one push request (connecting, TLS, sending, the answer), not per byte: a push service that trickles',
          'its answer is cut off here, then retried like a network error.',
        ],
      },
      {
        env: 'PUSH_INFLIGHT_MAX',
        shows: '{} in flight',
        stops: "one account's or one push origin's slow endpoints taking every push slot, so nobody else is woken",
        key: 'pushInflightMax',
        parse: int(1, 1024, 16),
        doc: 'Push requests in flight at once, for everyone together.',
      },
      {
        env: 'PUSH_INFLIGHT_PER_ACCOUNT',
        shows: '{} per account',
        key: 'pushInflightPerAccount',
        parse: int(1, 1024, 4),
        doc: [
          "Push requests in flight at once for one account's devices: more wait (without holding up anyone else's), so one",
          'account with slow endpoints cannot take the pool. 4 covers a wake-up of every device of a usual account at once.',
        ],
      },
      {
        env: 'PUSH_INFLIGHT_PER_ORIGIN',
        shows: '{} per push origin',
        key: 'pushInflightPerOrigin',
        parse: int(1, 1024, 8),
        doc: [
          'Push requests in flight at once to one push origin (scheme, host and port of the endpoint): more wait, so one slow',
          'push service, or many accounts pointing at one, takes at most this share of PUSH_INFLIGHT_MAX. Raise both together',
          'when one big push service (FCM, Mozilla, Apple) carries more wake-ups than this many in flight can.',
        ],
      },
      {
        env: 'APNS_KEY_FILE',
        key: 'apnsKeyFile',
        parse: opt(z.string()),
        doc: [
          'Direct APNs (docs/push.md): the .p8 signing key from Apple (Certificates, Identifiers & Profiles > Keys). With',
          'APNS_KEY_ID, APNS_TEAM_ID and APNS_TOPIC set, devices may subscribe with kind "apns"; unset: such subscriptions get 400.',
        ],
      },
      {
        env: 'APNS_KEY_ID',
        key: 'apnsKeyId',
        parse: opt(z.string().regex(/^[A-Z0-9]{10}$/, 'must be the 10-character key id Apple shows')),
        doc: "The key id of APNS_KEY_FILE (the provider token's `kid`).",
      },
      {
        env: 'APNS_TEAM_ID',
        key: 'apnsTeamId',
        parse: opt(z.string().regex(/^[A-Z0-9]{10}$/, 'must be the 10-character team id')),
        doc: "Your Apple developer team id (the provider token's `iss`).",
      },
      {
        env: 'APNS_TOPIC',
        key: 'apnsTopic',
        parse: opt(z.string().regex(BUNDLE_ID, 'must be an app bundle id like com.example.app')),
        doc: "The app's bundle id: the default `apns-topic` (VoIP subscriptions use `<topic>.voip`).",
      },
      {
        env: 'APNS_URL',
        key: 'apnsUrl',
        parse: text('https://api.push.apple.com', z.string().refine(isHttpsOrigin, 'must be an https origin like https://api.push.apple.com')),
        doc: 'The APNs host for "production" subscriptions (HTTP/2 over TLS).',
      },
      {
        env: 'APNS_SANDBOX_URL',
        key: 'apnsSandboxUrl',
        parse: text('https://api.sandbox.push.apple.com', z.string().refine(isHttpsOrigin, 'must be an https origin like https://api.sandbox.push.apple.com')),
        doc: 'The APNs host for subscriptions with environment "sandbox" (development builds).',
      },
      {
        env: 'FCM_SERVICE_ACCOUNT_FILE',
        key: 'fcmServiceAccountFile',
        parse: opt(z.string()),
        doc: [
          'Direct FCM HTTP v1 (docs/push.md): a Google service-account JSON (project_id, client_email, private_key, token_uri)',
          'with the Firebase Cloud Messaging API enabled. Set: devices may subscribe with kind "fcm"; unset: such subscriptions get 400.',
        ],
      },
      {
        env: 'FCM_URL',
        key: 'fcmUrl',
        parse: text('https://fcm.googleapis.com', z.string().refine(isHttpsOrigin, 'must be an https origin like https://fcm.googleapis.com')),
        doc: 'The FCM host messages are sent to: POST {FCM_URL}/v1/projects/{project_id}/messages:send.',
      },
      {
        env: 'PUSH_CA_FILE',
        key: 'pushCaFile',
        parse: opt(z.string()),
        doc: [
          'PEM certificates trusted for the APNs, FCM and OAuth hosts besides the system roots (a TLS-inspecting proxy, or',
          'the local fakes of the tests). Leave unset in production.',
        ],
      },
    ],
  },
  {
    variables: [
      {
        env: 'CORS_ORIGINS',
        key: 'corsOrigins',
        parse: originList,
        doc: 'Comma-separated origins allowed to call the API from a browser, e.g. https://app.example.com. Unset: no CORS.',
      },
      {
        env: 'EXAMPLES',
        key: 'examples',
        parse: bool(false),
        doc: 'true: serve the example apps of examples/ on this origin, e.g. /examples/two-person-call/ (npm run dev turns it on).',
      },
      {
        env: 'TRUST_PROXY',
        key: 'trustProxy',
        parse: bool(false),
        doc: 'true only behind a reverse proxy that sets X-Forwarded-For; otherwise clients could forge their IP.',
      },
    ],
  },
  {
    variables: [
      {
        env: 'METRICS_TOKEN',
        key: 'metricsToken',
        parse: opt(z.string().min(16, 'must be at least 16 characters')),
        doc: 'When set (16+ characters), /metrics requires Authorization: Bearer <token>, from any client.',
      },
      {
        env: 'METRICS_PUBLIC',
        key: 'metricsPublic',
        parse: bool(false),
        doc: [
          'Without METRICS_TOKEN, /metrics answers only loopback clients (with TRUST_PROXY: the forwarded address) and',
          'others get 404. true: answer everyone without a token (only where the port is private anyway).',
        ],
      },
      {
        env: 'LOG_LEVEL',
        key: 'logLevel',
        parse: oneOf(LOG_LEVELS, 'info', `must be one of ${LOG_LEVELS.join(', ')}`),
        doc: 'fatal, error, warn, info, debug, trace or silent.',
      },
      {
        env: 'MAX_BODY_BYTES',
        key: 'maxBodyBytes',
        unit: 'bytes',
        parse: int(1024, 10_485_760, 65536),
        doc: 'Largest request body in bytes (64 KiB); larger bodies get 413 payload_too_large.',
      },
    ],
  },
  {
    // Defaults follow OWASP's authentication guidance; each one's reason is its doc.
    doc: [
      'Rate limits, each `max/seconds` or `off`. All answer 429 rate_limited with Retry-After. They are kept in the',
      'store, so they hold across instances on MongoDB. Client IPs come from X-Forwarded-For only with TRUST_PROXY.',
    ],
    variables: [
      {
        env: 'RATE_IPV6_PREFIX',
        stops: 'how much of an IPv6 address is one network for every limit above: a /48 is 256 networks, not 65,536',
        key: 'rateIpv6Prefix',
        parse: int(32, 64, 56),
        doc: [
          'How many leading bits of an IPv6 address make one client network for every per-network limit below and for',
          'the networks an account is known on (an IPv4 address always counts alone). 56: one subscriber is commonly',
          'delegated a /56, and a /48 then holds 256 networks instead of 65,536 /64s. 64 if your users share a /56.',
        ],
      },
      {
        env: 'RATE_LOGIN_ACCOUNT_IP',
        shows: '{max} failures / {window} per account and network',
        stops: 'guessing one account from one network ({perDay} a day)',
        rateLimit: 'loginFailuresPerAccountIp',
        parse: limit('10/900'),
        doc: [
          'Failed logins (passwords and TOTP codes) per account from one client network (IPv4 address, IPv6 /56):',
          'past 10 in 15 min that network waits, even with the right password. The owner, elsewhere, is not locked out.',
        ],
      },
      {
        env: 'RATE_LOGIN_USERNAME',
        shows: '{max} failures / {window} per account (not on its known networks)',
        stops: 'guessing one account from many networks ({perDay} a day; ASVS 2.2.1)',
        rateLimit: 'loginFailuresPerUsername',
        parse: limit('100/3600'),
        doc: [
          'Failed logins per account from everywhere together: the ceiling ASVS 2.2.1 asks for (at most 100 an hour),',
          'for guessing spread over many networks. Reaching it locks the account for the rest of the hour, except from',
          'networks the account registered or signed in from within SESSION_MAX_AGE (so strangers cannot lock the owner out).',
        ],
      },
      {
        env: 'RATE_LOGIN_TOTP',
        shows: '{max} wrong codes / {window} per account (not on its known networks)',
        stops: 'guessing TOTP codes with a stolen password (about 1 in 11,000 a day)',
        rateLimit: 'loginCodeFailuresPerAccount',
        parse: limit('30/86400'),
        doc: [
          'Wrong TOTP codes after a right password, per account from networks it has not registered or signed in from: someone who',
          'has the password gets 30 code guesses a day (about 1 chance in 11,000), not the 2,400 the ceiling above allows.',
        ],
      },
      {
        env: 'RATE_LOGIN_IP',
        shows: '{} per network',
        stops: 'spraying one password over many names',
        rateLimit: 'loginPerIp',
        parse: limit('50/300'),
        doc: 'All logins per client IP: slows password spraying across many names; roomy enough for a shared NAT.',
      },
      {
        env: 'RATE_PASSWORD_CHECK_USER',
        shows: '{} per account',
        stops: 'a stolen access token as a password oracle (change-password, `DELETE /users/me`, 2FA setup/enable/disable)',
        rateLimit: 'passwordChecksPerUser',
        parse: limit('10/900'),
        doc: [
          'Password re-checks by a signed-in user (change-password, DELETE /users/me, 2FA enable/disable): a stolen',
          'access token must not become an unlimited password oracle.',
        ],
      },
      {
        env: 'RATE_REGISTER_IP',
        stops: "scripted sign-ups, mail to someone else's address",
        rateLimit: 'registerPerIp',
        parse: limit('10/3600'),
        doc: 'Registrations per client IP and per e-mail address: stops scripted sign-ups and mail bombing.',
      },
      { env: 'RATE_REGISTER_EMAIL', rateLimit: 'registerPerEmail', parse: limit('3/3600') },
      {
        env: 'RATE_FORGOT_IP',
        stops: "flooding an inbox with codes, without blocking the owner's own request",
        rateLimit: 'forgotPerIp',
        parse: limit('10/3600'),
        doc: [
          'Reset codes requested per client IP, per address from one client network, and per address in all:',
          "nobody can flood someone's inbox. Networks the account registered or signed in from within SESSION_MAX_AGE are not held",
          "to the per-address ceiling, so a stranger asking for codes cannot block the owner's own request.",
        ],
      },
      { env: 'RATE_FORGOT_EMAIL_IP', rateLimit: 'forgotPerEmailIp', parse: limit('3/3600') },
      { env: 'RATE_FORGOT_EMAIL', rateLimit: 'forgotPerEmail', parse: limit('10/3600') },
      {
        env: 'RATE_RESET_EMAIL_IP',
        stops: 'guessing reset codes (each also burns after 5 wrong tries)',
        rateLimit: 'resetPerEmailIp',
        parse: limit('10/3600'),
        doc: [
          'Reset attempts per address from one client network, and per address in all, with the same exception for the',
          "owner's known networks (each code also burns after 5 wrong tries).",
        ],
      },
      { env: 'RATE_RESET_EMAIL', rateLimit: 'resetPerEmail', parse: limit('30/3600') },
      {
        env: 'RATE_RESET_IP',
        shows: '{} per network, all addresses together',
        stops: 'guessing reset codes for many known addresses at once (one takeover per ~16 days from a /48, was ~3 an hour)',
        rateLimit: 'resetPerIp',
        parse: limit('10/3600'),
        doc: [
          'Reset attempts per client network across all addresses: without it one network could guess codes for many',
          'known addresses at once (30 an hour each). A right code is not counted. See docs/security.md for the odds.',
        ],
      },
      {
        env: 'RATE_SEARCH_USER',
        shows: '{} per user, search and exact profile lookups together',
        stops: 'scraping or probing the directory',
        rateLimit: 'searchPerUser',
        parse: limit('60/60'),
        doc: 'Username searches per user: keeps the directory from being scraped.',
      },
      {
        env: 'RATE_SEND_USER',
        shows: '{} per user',
        stops: 'a signal flood',
        rateLimit: 'sendPerUser',
        parse: limit('1200/60'),
        doc: 'Signals sent per user: a call setup with trickle ICE sends a few dozen; this stops a flood.',
      },
      {
        env: 'RATE_CONNECTION_REQUEST',
        shows: '{} per requester, cancel-and-ask-again included',
        stops: "asking (and so writing events into strangers' devices) in a loop",
        rateLimit: 'connectionRequestsPerUser',
        parse: limit('30/3600'),
        doc: [
          'Connection requests per requester (POST /connections/request, cancel-and-ask-again included): each one writes',
          'server events into every device of the user asked, so nobody may ask in a loop.',
        ],
      },
      {
        env: 'RATE_ICE_USER',
        shows: '{} per user',
        stops: 'minting TURN credentials in a loop',
        rateLimit: 'icePerUser',
        parse: limit('30/60'),
        doc: [
          'ICE server requests per user: a client asks once per call or once per TURN_TTL; each answer mints a TURN',
          'credential, so a loop hammering this endpoint is stopped early.',
        ],
      },
      {
        env: 'RATE_PGP_USER',
        stops: 'keeping the key checker busy',
        rateLimit: 'pgpUploadPerUser',
        parse: limit('10/3600'),
        doc: [
          'OpenPGP key uploads per user and per client IP (the per-IP limit also counts registrations that carry a',
          'key): each upload is checked in a worker, and this bounds how much of that work one caller can ask for.',
        ],
      },
      { env: 'RATE_PGP_IP', rateLimit: 'pgpUploadPerIp', parse: limit('30/3600') },
      {
        env: 'RATE_KEY_BACKUP_USER',
        shows: '{} per user, writes and deletions of the key backup together',
        stops: 'rewriting the backup in a loop, each write a server event to every other device and a log entry',
        rateLimit: 'keyBackupPerUser',
        parse: limit('10/3600'),
        doc: [
          'Key backup writes and deletions per user (PUT and DELETE /users/me/key-backup): each one is a server event',
          'to every other device of the user and a security-log entry, and a client saves its backup rarely.',
        ],
      },
      {
        env: 'RATE_PUSH_USER',
        shows: '{} per user',
        stops: 'push subscription changes, each of which resolves a user-chosen name in DNS (SSRF rules in [push.md](push.md))',
        rateLimit: 'pushSubscribePerUser',
        parse: limit('30/3600'),
        doc: 'Push subscription changes per user: each one resolves the endpoint in DNS, which nobody may do in a loop.',
      },
    ],
  },
] as const satisfies readonly Section[];

export type Row = (typeof ENVIRONMENT)[number]['variables'][number];
export type ConfigRow = Extract<Row, { key: string }>;
export type RateLimitRow = Extract<Row, { rateLimit: string }>;
type Shape = { [R in Row as R['env']]: R['parse']['schema'] };
/** Each Config field as its own variable gives it. */
export type Fields = { [R in ConfigRow as R['key']]: z.output<R['parse']['schema']> };

const ROWS: readonly Row[] = ENVIRONMENT.flatMap((section): readonly Row[] => section.variables);
export const CONFIG_ROWS = ROWS.filter((v): v is ConfigRow => 'key' in v);
export const RATE_LIMIT_ROWS = ROWS.filter((v): v is RateLimitRow => 'rateLimit' in v);

export const envSchema = z.object(Object.fromEntries(ROWS.map((v) => [v.env, v.parse.schema])) as Shape);

/** Every RATE_* variable, e.g. for a test or bench environment that switches all limits off. */
export const RATE_LIMIT_VARIABLES: readonly RateLimitRow['env'][] = RATE_LIMIT_ROWS.map((v) => v.env);

export type RateLimitName = RateLimitRow['rateLimit'];

/** The variable that sets each rate limit, e.g. registerPerIp → RATE_REGISTER_IP: what a 429 names. */
export const RATE_LIMIT_ENV = Object.freeze(Object.fromEntries(RATE_LIMIT_ROWS.map((v) => [v.rateLimit, v.env]))) as Readonly<Record<RateLimitName, RateLimitRow['env']>>;

export type Env = Record<string, string | undefined>;
