import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { z } from 'zod';

/** Thrown for a bad environment value; its message is the one line printed before exiting. */
export class ConfigError extends Error {}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

// Environment values are strings; an empty one (`SMTP_URL=` in a .env file) means "unset".
const unsetIfEmpty = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const opt = <T extends z.ZodType>(schema: T) => z.preprocess(unsetIfEmpty, schema.optional());

const int = (min: number, max: number, fallback: number) =>
  z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .optional()
      .transform((v, ctx) => {
        if (v === undefined) return fallback;
        const n = Number(v.trim());
        if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
          ctx.addIssue({ code: 'custom', message: `must be a whole number from ${min} to ${max} (got "${v}")` });
          return z.NEVER;
        }
        return n;
      }),
  );

const bool = (fallback: boolean) =>
  z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .optional()
      .transform((v, ctx) => {
        if (v === undefined) return fallback;
        const s = v.trim().toLowerCase();
        if (['true', '1', 'yes'].includes(s)) return true;
        if (['false', '0', 'no'].includes(s)) return false;
        ctx.addIssue({ code: 'custom', message: `must be true or false (got "${v}")` });
        return z.NEVER;
      }),
  );

/** Comma-separated URLs, each of which must start with one of `schemes`. */
const urlList = (schemes: string[]) =>
  z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .optional()
      .transform((v, ctx) => {
        if (v === undefined) return [] as string[];
        const items = v.split(',').map((s) => s.trim()).filter(Boolean);
        for (const item of items) {
          const scheme = item.slice(0, item.indexOf(':') + 1).toLowerCase();
          // stun:/turn: URIs (RFC 7064/7065) are host[:port][?transport=udp|tcp], not hierarchical URLs.
          const rest = item.slice(scheme.length);
          if (!schemes.includes(scheme) || !/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?(\?transport=(udp|tcp))?$/.test(rest)) {
            ctx.addIssue({ code: 'custom', message: `"${item}" is not a ${schemes.join(' or ')} URL` });
            return z.NEVER;
          }
        }
        return items;
      }),
  );

/** A rate limit: at most `max` per `windowSeconds`; null when switched off. */
export interface LimitRule {
  max: number;
  windowSeconds: number;
}

/** `max/seconds` (e.g. `10/900`), or `off`. */
const limit = (fallback: string) =>
  z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .default(fallback)
      .transform((v, ctx): LimitRule | null => {
        const s = v.trim().toLowerCase();
        if (s === 'off') return null;
        const m = /^(\d{1,9})\/(\d{1,9})$/.exec(s);
        if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) {
          ctx.addIssue({ code: 'custom', message: `must be max/seconds like 10/900, or off (got "${v}")` });
          return z.NEVER;
        }
        return { max: Number(m[1]), windowSeconds: Number(m[2]) };
      }),
  );

const originList = z.preprocess(
  unsetIfEmpty,
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return [] as string[];
      const items = v.split(',').map((s) => s.trim()).filter(Boolean);
      for (const item of items) {
        let ok = false;
        try {
          const u = new URL(item);
          ok = (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === item.replace(/\/$/, '');
        } catch {
          ok = false;
        }
        if (!ok) {
          ctx.addIssue({ code: 'custom', message: `"${item}" is not an origin like https://app.example.com` });
          return z.NEVER;
        }
      }
      return items.map((s) => s.replace(/\/$/, ''));
    }),
);

const envSchema = z.object({
  HOST: z.preprocess(unsetIfEmpty, z.string().default('127.0.0.1')),
  PORT: int(0, 65535, 8080),
  STORE: z.preprocess(unsetIfEmpty, z.enum(['sqlite', 'mongodb'], { message: 'must be sqlite or mongodb' }).default('sqlite')),
  DATA_DIR: z.preprocess(unsetIfEmpty, z.string().default('./data')),
  MONGODB_URI: opt(z.string().regex(/^mongodb(\+srv)?:\/\/\S+$/, 'must be a mongodb:// or mongodb+srv:// URL')),
  MONGODB_DB: z.preprocess(unsetIfEmpty, z.string().regex(/^[A-Za-z0-9_-]{1,63}$/, 'must be a database name').default('signalbox')),
  JWT_SECRET: opt(z.string().refine((s) => Buffer.byteLength(s) >= 32, 'must be at least 32 bytes')),
  DATA_KEY: opt(
    z.string().refine((s) => /^[A-Za-z0-9+/]+={0,2}$/.test(s.trim()) && Buffer.from(s, 'base64').length === 32, 'must be 32 bytes in base64'),
  ),
  ACCESS_TOKEN_TTL: int(60, 86400, 900),
  REFRESH_TOKEN_TTL: int(300, 31_536_000, 2_592_000),
  // smtp+insecure:// is the operator's explicit opt-out of STARTTLS being required (a relay on loopback).
  SMTP_URL: opt(
    z
      .string()
      .regex(/^(smtps?|smtp\+insecure):\/\/\S+$/, 'must be an smtp://, smtps:// or smtp+insecure:// URL')
      .refine(isUrl, 'must be an smtp://, smtps:// or smtp+insecure:// URL'),
  ),
  MAIL_FROM: z.preprocess(unsetIfEmpty, z.string().max(320).default('Signalbox <no-reply@localhost>')),
  OTP_TTL: int(60, 86400, 600),
  MIN_AGE: int(0, 150, 13),
  STUN_URLS: urlList(['stun:', 'stuns:']),
  TURN_URLS: urlList(['turn:', 'turns:']),
  TURN_SECRET: opt(z.string().min(16, 'must be at least 16 characters')),
  TURN_TTL: int(60, 604_800, 86400),
  TURN_USERNAME: opt(z.string()),
  TURN_CREDENTIAL: opt(z.string()),
  SIGNAL_TTL: int(5, 86400, 300),
  SIGNAL_MAX_BYTES: int(1, 1_048_576, 16384),
  MAILBOX_MAX: int(1, 100_000, 500),
  MAILBOX_PER_SENDER: int(1, 100_000, 100),
  POLLS_PER_USER: int(1, 10_000, 8),
  POLLS_MAX: opt(z.string().regex(/^\d{1,7}$/, 'must be a whole number from 1 to 9999999').transform(Number).refine((n) => n >= 1, 'must be at least 1')),
  SESSION_MAX_AGE: int(3600, 315_360_000, 7_776_000),
  PRESENCE_WINDOW: int(1, 86400, 60),
  CONNECTION_REQUEST_TTL: int(60, 31_536_000, 2_592_000),
  CONNECTION_PENDING_MAX: int(1, 100_000, 100),
  CONNECTION_REQUEST_COOLDOWN: int(0, 31_536_000, 604_800),
  CORS_ORIGINS: originList,
  TRUST_PROXY: bool(false),
  METRICS_TOKEN: opt(z.string().min(16, 'must be at least 16 characters')),
  LOG_LEVEL: z.preprocess(unsetIfEmpty, z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info')),
  MAX_BODY_BYTES: int(1024, 10_485_760, 65536),
  // Defaults follow OWASP's authentication guidance; the reasons are in .env.example.
  RATE_LOGIN_ACCOUNT_IP: limit('10/900'),
  RATE_LOGIN_USERNAME: limit('100/3600'),
  RATE_LOGIN_TOTP: limit('30/86400'),
  RATE_LOGIN_IP: limit('50/300'),
  RATE_PASSWORD_CHECK_USER: limit('10/900'),
  RATE_REGISTER_IP: limit('10/3600'),
  RATE_REGISTER_EMAIL: limit('3/3600'),
  RATE_FORGOT_IP: limit('10/3600'),
  RATE_FORGOT_EMAIL_IP: limit('3/3600'),
  RATE_FORGOT_EMAIL: limit('10/3600'),
  RATE_RESET_EMAIL_IP: limit('10/3600'),
  RATE_RESET_EMAIL: limit('30/3600'),
  RATE_SEARCH_USER: limit('60/60'),
  RATE_SEND_USER: limit('1200/60'),
  RATE_ICE_USER: limit('30/60'),
  RATE_PGP_USER: limit('10/3600'),
  RATE_PGP_IP: limit('30/3600'),
});

function isUrl(s: string): boolean {
  try {
    new URL(s);
    return true;
  } catch {
    return false;
  }
}

export type LogLevel = (typeof LOG_LEVELS)[number];

/** The whole server configuration, parsed once and frozen. */
export interface Config {
  host: string;
  port: number;
  store: 'sqlite' | 'mongodb';
  dataDir: string;
  mongodbUri: string | undefined;
  mongodbDb: string;
  jwtSecret: Buffer;
  dataKey: Buffer;
  accessTokenTtl: number;
  refreshTokenTtl: number;
  smtpUrl: string | undefined;
  mailFrom: string;
  otpTtl: number;
  minAge: number;
  stunUrls: readonly string[];
  turnUrls: readonly string[];
  turnSecret: string | undefined;
  turnTtl: number;
  turnUsername: string | undefined;
  turnCredential: string | undefined;
  signalTtl: number;
  signalMaxBytes: number;
  mailboxMax: number;
  /** Pending signals one sender may hold in one recipient's mailbox, so no single peer can fill it. */
  mailboxPerSender: number;
  /** Long-polls one user may hold at once (a device's new poll replaces its older one first). */
  pollsPerUser: number;
  /** Long-polls held by this process in all; undefined: derived from the open-file limit at start. */
  pollsMax: number | undefined;
  /** Seconds a session may live from sign-in however often it refreshes (absolute lifetime). */
  sessionMaxAge: number;
  presenceWindow: number;
  connectionRequestTtl: number;
  /** Live outgoing connection requests one account may hold; past it, requests get 429. */
  connectionPendingMax: number;
  /** Seconds a rejected requester must wait before asking the same user again. */
  connectionRequestCooldown: number;
  corsOrigins: readonly string[];
  trustProxy: boolean;
  metricsToken: string | undefined;
  logLevel: LogLevel;
  maxBodyBytes: number;
  /** Each limit, or null when switched off. */
  rateLimits: Readonly<Record<RateLimitName, LimitRule | null>>;
}

export type RateLimitName =
  | 'loginFailuresPerAccountIp'
  | 'loginFailuresPerUsername'
  | 'loginCodeFailuresPerAccount'
  | 'loginPerIp'
  | 'passwordChecksPerUser'
  | 'registerPerIp'
  | 'registerPerEmail'
  | 'forgotPerIp'
  | 'forgotPerEmailIp'
  | 'forgotPerEmail'
  | 'resetPerEmailIp'
  | 'resetPerEmail'
  | 'searchPerUser'
  | 'sendPerUser'
  | 'icePerUser'
  | 'pgpUploadPerUser'
  | 'pgpUploadPerIp';

export type Env = Record<string, string | undefined>;

/**
 * Parses the environment into a Config. Secrets come from the environment or `secrets`;
 * nothing is read from disk here, so tests can build configs freely.
 */
export function parseConfig(env: Env, secrets?: { jwtSecret?: Buffer; dataKey?: Buffer }): Config {
  const result = envSchema.safeParse(env);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new ConfigError(`${String(issue.path[0])}: ${issue.message}`);
  }
  const e = result.data;
  if (e.STORE === 'mongodb' && !e.MONGODB_URI) throw new ConfigError('MONGODB_URI: must be set when STORE=mongodb');
  if (e.TURN_URLS.length > 0 && !e.TURN_SECRET && !(e.TURN_USERNAME && e.TURN_CREDENTIAL)) {
    throw new ConfigError('TURN_SECRET: must be set (or TURN_USERNAME and TURN_CREDENTIAL) when TURN_URLS is set');
  }
  if (Boolean(e.TURN_USERNAME) !== Boolean(e.TURN_CREDENTIAL)) {
    throw new ConfigError('TURN_CREDENTIAL: TURN_USERNAME and TURN_CREDENTIAL go together');
  }
  const jwtSecret = e.JWT_SECRET ? Buffer.from(e.JWT_SECRET) : secrets?.jwtSecret;
  const dataKey = e.DATA_KEY ? Buffer.from(e.DATA_KEY, 'base64') : secrets?.dataKey;
  if (!jwtSecret) throw new ConfigError('JWT_SECRET: must be set');
  if (!dataKey) throw new ConfigError('DATA_KEY: must be set');
  return Object.freeze({
    host: e.HOST,
    port: e.PORT,
    store: e.STORE,
    dataDir: resolve(e.DATA_DIR),
    mongodbUri: e.MONGODB_URI,
    mongodbDb: e.MONGODB_DB,
    jwtSecret,
    dataKey,
    accessTokenTtl: e.ACCESS_TOKEN_TTL,
    refreshTokenTtl: e.REFRESH_TOKEN_TTL,
    smtpUrl: e.SMTP_URL,
    mailFrom: e.MAIL_FROM,
    otpTtl: e.OTP_TTL,
    minAge: e.MIN_AGE,
    stunUrls: Object.freeze(e.STUN_URLS),
    turnUrls: Object.freeze(e.TURN_URLS),
    turnSecret: e.TURN_SECRET,
    turnTtl: e.TURN_TTL,
    turnUsername: e.TURN_USERNAME,
    turnCredential: e.TURN_CREDENTIAL,
    signalTtl: e.SIGNAL_TTL,
    signalMaxBytes: e.SIGNAL_MAX_BYTES,
    mailboxMax: e.MAILBOX_MAX,
    mailboxPerSender: Math.min(e.MAILBOX_PER_SENDER, e.MAILBOX_MAX),
    pollsPerUser: e.POLLS_PER_USER,
    pollsMax: e.POLLS_MAX,
    sessionMaxAge: e.SESSION_MAX_AGE,
    presenceWindow: e.PRESENCE_WINDOW,
    connectionRequestTtl: e.CONNECTION_REQUEST_TTL,
    connectionPendingMax: e.CONNECTION_PENDING_MAX,
    connectionRequestCooldown: e.CONNECTION_REQUEST_COOLDOWN,
    corsOrigins: Object.freeze(e.CORS_ORIGINS),
    trustProxy: e.TRUST_PROXY,
    metricsToken: e.METRICS_TOKEN,
    logLevel: e.LOG_LEVEL,
    maxBodyBytes: e.MAX_BODY_BYTES,
    rateLimits: Object.freeze({
      loginFailuresPerAccountIp: e.RATE_LOGIN_ACCOUNT_IP,
      loginFailuresPerUsername: e.RATE_LOGIN_USERNAME,
      loginCodeFailuresPerAccount: e.RATE_LOGIN_TOTP,
      loginPerIp: e.RATE_LOGIN_IP,
      passwordChecksPerUser: e.RATE_PASSWORD_CHECK_USER,
      registerPerIp: e.RATE_REGISTER_IP,
      registerPerEmail: e.RATE_REGISTER_EMAIL,
      forgotPerIp: e.RATE_FORGOT_IP,
      forgotPerEmailIp: e.RATE_FORGOT_EMAIL_IP,
      forgotPerEmail: e.RATE_FORGOT_EMAIL,
      resetPerEmailIp: e.RATE_RESET_EMAIL_IP,
      resetPerEmail: e.RATE_RESET_EMAIL,
      searchPerUser: e.RATE_SEARCH_USER,
      sendPerUser: e.RATE_SEND_USER,
      icePerUser: e.RATE_ICE_USER,
      pgpUploadPerUser: e.RATE_PGP_USER,
      pgpUploadPerIp: e.RATE_PGP_IP,
    }),
  });
}

const SECRET_FILES = { jwtSecret: 'jwt-secret', dataKey: 'data-key' } as const;

/**
 * Reads JWT_SECRET and DATA_KEY from DATA_DIR, generating each once (mode 0600) when neither the
 * environment nor the directory has it. Losing data-key makes stored e-mails unreadable: back it up.
 */
export function loadSecrets(env: Env): { jwtSecret?: Buffer; dataKey?: Buffer } {
  const dataDir = resolve(unsetIfEmpty(env.DATA_DIR) === undefined ? './data' : env.DATA_DIR!);
  const out: { jwtSecret?: Buffer; dataKey?: Buffer } = {};
  const need = { jwtSecret: !unsetIfEmpty(env.JWT_SECRET), dataKey: !unsetIfEmpty(env.DATA_KEY) };
  if (!need.jwtSecret && !need.dataKey) return out;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  for (const name of ['jwtSecret', 'dataKey'] as const) {
    if (!need[name]) continue;
    const file = join(dataDir, SECRET_FILES[name]);
    if (!existsSync(file)) {
      // 'wx' fails if another process created it first, so two starts never disagree on a key.
      try {
        writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    chmodSync(file, 0o600);
    const value = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    if (value.length !== 32) throw new ConfigError(`${name === 'jwtSecret' ? 'JWT_SECRET' : 'DATA_KEY'}: ${file} is not 32 bytes of base64`);
    out[name] = value;
  }
  return out;
}

/** The configuration for `main.ts`: environment first, then generated secrets from DATA_DIR. */
export function loadConfig(env: Env): Config {
  parseConfig(env, { jwtSecret: Buffer.alloc(32), dataKey: Buffer.alloc(32) }); // fail on bad values before touching disk
  return parseConfig(env, loadSecrets(env));
}
