import type { Middleware } from 'koa';
import type { LimitRule, RateLimitName } from '../config.js';
import type { Clock } from '../lib/clock.js';
import type { RateCount, RateLimitStore } from '../store/types.js';
import type { AppContext, AppState } from './context.js';
import { rateLimited } from './errors.js';

/**
 * Fixed-window limits kept in the store, so they hold across instances. Subjects (IPs, usernames,
 * e-mail addresses) are stored only as keyed hashes (`hashSubject`), never as given.
 */
export class RateLimiter {
  constructor(
    private readonly store: RateLimitStore,
    private readonly rules: Readonly<Record<RateLimitName, LimitRule | null>>,
    private readonly clock: Clock,
    private readonly hashSubject: (subject: string) => string,
  ) {}

  /** Counts one attempt by `subject`; throws 429 rate_limited once the window holds more than allowed. */
  async consume(name: RateLimitName, subject: string): Promise<void> {
    const hit = await this.record(name, subject);
    if (hit && hit.count > hit.rule.max) throw rateLimited((hit.resetAt.getTime() - this.clock.now()) / 1000);
  }

  /** Counts one event by `subject` without refusing anything (a failed login, judged by `ensureAllowed`). */
  async record(name: RateLimitName, subject: string): Promise<(RateCount & { rule: LimitRule }) | null> {
    const rule = this.rules[name];
    if (!rule) return null;
    const counted = await this.store.hit(this.key(name, subject), new Date(this.clock.now()), rule.windowSeconds * 1000);
    return { ...counted, rule };
  }

  /**
   * Throws 429 when `subject` has used up its window, without counting: failed logins are counted
   * only when they fail (`consume`), but once over the limit even the right password is refused.
   */
  async ensureAllowed(name: RateLimitName, subject: string): Promise<void> {
    const rule = this.rules[name];
    if (!rule) return;
    const now = this.clock.now();
    const current = await this.store.peek(this.key(name, subject), new Date(now));
    if (current && current.count >= rule.max) throw rateLimited((current.resetAt.getTime() - now) / 1000);
  }

  private key(name: RateLimitName, subject: string): string {
    return `${name}:${this.hashSubject(subject)}`;
  }
}

/** Route middleware limiting every request by client IP (which honours TRUST_PROXY through ctx.ip). */
export function limitByIp(limiter: RateLimiter, name: RateLimitName): Middleware<AppState, AppContext> {
  return async (ctx, next) => {
    await limiter.consume(name, ctx.ip);
    await next();
  };
}
