import { RATE_LIMIT_ENV, type RateLimitName } from '../config/environment.js';
import type { LimitRule } from '../config/parsers.js';
import type { Clock } from '../lib/clock.js';
import type { RateLimitStore } from '../store/types.js';
import { clientNetwork, DEFAULT_IPV6_PREFIX } from './clientNetwork.js';
import { rateLimited } from './errors.js';

/** An attempt counted by `RateLimiter.attempt`; `refund` gives its counts back (once). */
export interface Attempt {
  refund(): Promise<void>;
}

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
    /** RATE_IPV6_PREFIX: how much of an IPv6 address names one client network. */
    private readonly ipv6Prefix: number = DEFAULT_IPV6_PREFIX,
  ) {}

  /**
   * The client network of `ip` (ctx.ip, which honours TRUST_PROXY) that every per-network limit and
   * known-network mark counts: an IPv4 address, or the IPv6 prefix of RATE_IPV6_PREFIX bits.
   */
  networkOf(ip: string): string {
    return clientNetwork(ip, this.ipv6Prefix);
  }

  /** Counts one attempt by `subject`; throws 429 rate_limited once the window holds more than allowed. */
  async consume(name: RateLimitName, subject: string): Promise<void> {
    await this.attempt([name, subject]);
  }

  /**
   * Counts one attempt against each limit in order, atomically and *before* the work it guards, so
   * parallel requests cannot all pass a check made before any of them was counted. When a limit is
   * exceeded, the counts this call made are given back (a refused attempt did no work, and must not
   * use up a wider limit: a stranger locked out of one network cannot so spend the account's ceiling)
   * and it throws 429 with the wait of the exceeded limit. The caller refunds a successful attempt.
   */
  async attempt(...checks: Array<[RateLimitName, string]>): Promise<Attempt> {
    const counted: Array<{ key: string; windowMs: number }> = [];
    const refund = async () => {
      const now = new Date(this.clock.now());
      for (const c of counted.splice(0)) await this.store.hit(c.key, now, c.windowMs, -1);
    };
    for (const [name, subject] of checks) {
      const rule = this.rules[name];
      if (!rule) continue;
      const key = this.key(name, subject);
      const windowMs = rule.windowSeconds * 1000;
      const hit = await this.store.hit(key, new Date(this.clock.now()), windowMs);
      counted.push({ key, windowMs });
      if (hit.count > rule.max) {
        await refund();
        throw rateLimited(RATE_LIMIT_ENV[name], (hit.resetAt.getTime() - this.clock.now()) / 1000);
      }
    }
    return { refund };
  }

  /**
   * Remembers `subject` (an account on a client network where it just signed in) for `seconds` from
   * now: a network the owner uses is let past the per-account ceiling that strangers can fill.
   */
  async remember(subject: string, seconds: number): Promise<void> {
    const key = this.markKey(subject);
    await this.store.reset(key); // restart the window: remembered for `seconds` after the newest sign-in
    await this.store.hit(key, new Date(this.clock.now()), seconds * 1000);
  }

  /** True when `subject` was remembered and has not lapsed. */
  async remembers(subject: string): Promise<boolean> {
    return (await this.store.peek(this.markKey(subject), new Date(this.clock.now()))) !== null;
  }

  /**
   * Runs `check` (a password or code check) as one `attempt`: refused with 429 past a limit without
   * running, and given back when it passes or throws (then nothing was judged). A false stays counted.
   */
  async guard(checks: Array<[RateLimitName, string]>, check: () => Promise<boolean>): Promise<boolean> {
    const attempt = await this.attempt(...checks);
    let ok: boolean;
    try {
      ok = await check();
    } catch (err) {
      await attempt.refund();
      throw err;
    }
    if (ok) await attempt.refund();
    return ok;
  }

  private key(name: RateLimitName, subject: string): string {
    return `${name}:${this.hashSubject(subject)}`;
  }

  private markKey(subject: string): string {
    return `knownNetwork:${this.hashSubject(subject)}`;
  }
}
