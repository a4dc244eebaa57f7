import type { Logger } from 'pino';
import type { Config } from '../config/parse.js';
import type { Clock } from '../lib/clock.js';
import type { FieldCipher } from '../lib/fieldCipher.js';
import type { Mailer } from '../mail/mailer.js';
import type { Store } from '../store/types.js';
import type { RateLimiter } from './rateLimiter.js';

/**
 * What the composition root (server.ts) builds once and every feature's `createX(deps)` may take a
 * part of: the configuration, the store, time, the cipher for data at rest, the shared rate limiter,
 * mail and the log. A feature asks for its part with `Pick<Platform, ...>`, so its signature says what it uses.
 */
export interface Platform {
  config: Config;
  store: Store;
  clock: Clock;
  cipher: FieldCipher;
  limiter: RateLimiter;
  mailer: Mailer;
  logger: Logger;
}
