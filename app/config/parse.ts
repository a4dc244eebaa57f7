/** The environment parsed into the frozen Config the server runs on (docs/configuration.md). */
import { resolve } from 'node:path';
import { CONFIG_ROWS, RATE_LIMIT_ROWS, envSchema, type Env, type Fields, type RateLimitName } from './environment.js';
import { ConfigError, type LimitRule } from './parsers.js';
import { loadSecrets, vapidKeysOf, type Secrets, type VapidKeys } from './secrets.js';

/**
 * The whole server configuration, parsed once and frozen: the field `key` of each ENVIRONMENT variable
 * (DATA_DIR resolved, MAILBOX_PER_SENDER at most MAILBOX_MAX), the secrets as bytes, and the limits.
 */
export interface Config extends Omit<Fields, 'jwtSecret' | 'dataKey' | 'vapidPrivateKey'> {
  /** JWT_SECRET, or the secret generated into DATA_DIR. */
  jwtSecret: Buffer;
  /** DATA_KEY decoded, or the key generated into DATA_DIR. */
  dataKey: Buffer;
  /**
   * The VAPID key pair (base64url): VAPID_PRIVATE_KEY, or the key generated into DATA_DIR. Null only for
   * a Config parsed without it (tools, tests that do not push): Web Push subscriptions then get 503.
   */
  vapid: VapidKeys | null;
  /** Each limit, or null when switched off. */
  rateLimits: Readonly<Record<RateLimitName, LimitRule | null>>;
}

/**
 * Parses the environment into a Config. Secrets come from the environment or `secrets`;
 * nothing is read from disk here, so tests can build configs freely.
 */
export function parseConfig(env: Env, secrets?: Secrets): Config {
  const result = envSchema.safeParse(env);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new ConfigError(`${String(issue.path[0])}: ${issue.message}`);
  }
  const e = result.data;
  if (e.STORE === 'mongodb' && !e.MONGODB_URI) throw new ConfigError('MONGODB_URI: must be set when STORE=mongodb');
  if (e.STORE === 'postgres' && !e.DATABASE_URL) throw new ConfigError('DATABASE_URL: must be set when STORE=postgres');
  if (e.TURN_URLS.length > 0 && !e.TURN_SECRET && !(e.TURN_USERNAME && e.TURN_CREDENTIAL)) {
    throw new ConfigError('TURN_SECRET: must be set (or TURN_USERNAME and TURN_CREDENTIAL) when TURN_URLS is set');
  }
  if (Boolean(e.TURN_USERNAME) !== Boolean(e.TURN_CREDENTIAL)) {
    throw new ConfigError('TURN_CREDENTIAL: TURN_USERNAME and TURN_CREDENTIAL go together');
  }
  // Direct APNs needs all four or none: a half-configured key would fail at the first push instead of now.
  const apns = [e.APNS_KEY_FILE, e.APNS_KEY_ID, e.APNS_TEAM_ID, e.APNS_TOPIC];
  if (apns.some(Boolean) && !apns.every(Boolean)) {
    const missing = (['APNS_KEY_FILE', 'APNS_KEY_ID', 'APNS_TEAM_ID', 'APNS_TOPIC'] as const).find((n) => !e[n]);
    throw new ConfigError(`${missing}: APNS_KEY_FILE, APNS_KEY_ID, APNS_TEAM_ID and APNS_TOPIC go together`);
  }
  const jwtSecret = e.JWT_SECRET ? Buffer.from(e.JWT_SECRET) : secrets?.jwtSecret;
  const dataKey = e.DATA_KEY ? Buffer.from(e.DATA_KEY, 'base64') : secrets?.dataKey;
  if (!jwtSecret) throw new ConfigError('JWT_SECRET: must be set');
  if (!dataKey) throw new ConfigError('DATA_KEY: must be set');
  const vapidPrivateKey = e.VAPID_PRIVATE_KEY ? Buffer.from(e.VAPID_PRIVATE_KEY.trim(), 'base64url') : secrets?.vapidPrivateKey;
  let vapid: VapidKeys | null = null;
  try {
    vapid = vapidPrivateKey ? vapidKeysOf(vapidPrivateKey) : null;
  } catch {
    throw new ConfigError('VAPID_PRIVATE_KEY: is not a valid P-256 private key');
  }
  // The key's text stays out of Config: `vapid` carries the pair.
  const { vapidPrivateKey: _fromEnv, ...fields } = Object.fromEntries(CONFIG_ROWS.map((v) => [v.key, e[v.env]])) as Fields;
  const rateLimits = Object.fromEntries(RATE_LIMIT_ROWS.map((v) => [v.rateLimit, e[v.env]])) as Record<RateLimitName, LimitRule | null>;
  // The fields below are derived from more than their own variable; overwriting keeps each in its place.
  return Object.freeze({
    ...fields,
    dataDir: resolve(e.DATA_DIR),
    jwtSecret,
    dataKey,
    vapid,
    mailboxPerSender: Math.min(e.MAILBOX_PER_SENDER, e.MAILBOX_MAX),
    rateLimits: Object.freeze(rateLimits),
  });
}

/** The configuration for `main.ts`: environment first, then generated secrets from DATA_DIR. */
export function loadConfig(env: Env): Config {
  parseConfig(env, { jwtSecret: Buffer.alloc(32), dataKey: Buffer.alloc(32) }); // fail on bad values before touching disk
  return parseConfig(env, loadSecrets(env));
}
