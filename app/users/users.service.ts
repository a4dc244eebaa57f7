import type { Caller } from '../core/caller.js';
import { notFound } from '../core/errors.js';
import type { RateLimiter } from '../core/rateLimiter.js';
import type { UserRecord, UserSearchHit, UserStore } from '../store/types.js';
import type { Presence } from '../presence/presence.schema.js';

/**
 * Decides whether `viewerId` may see `targetId`'s presence and what it is: a value for oneself and for
 * accepted connections, undefined for everyone else. Supplied by the presence feature.
 */
export type PresenceLookup = (viewerId: string, targetId: string) => Promise<Presence | undefined>;

export interface UserDirectoryDeps {
  users: UserStore;
  limiter: RateLimiter;
  /** Absent until presence exists: then no profile carries `presence`. */
  presenceFor?: PresenceLookup;
}

/** Finding people: username prefix search and public profiles. */
export class UserDirectory {
  constructor(private readonly d: UserDirectoryDeps) {}

  /**
   * Up to `limit` users whose name starts with `prefix` (already lower case), sorted, without the
   * caller. Counted per user (RATE_SEARCH_USER): enumerating the directory takes many searches.
   */
  async search(viewer: Caller, prefix: string, limit: number): Promise<UserSearchHit[]> {
    await this.d.limiter.consume('searchPerUser', viewer.userId);
    return this.d.users.search(prefix, viewer.userId, limit);
  }

  /**
   * The user named `username` (lower case) and, when the viewer may see it, their presence. Counted
   * in the same per-user budget as search (RATE_SEARCH_USER), hit or miss: otherwise guessing exact
   * names one by one would enumerate the directory with no limit at all.
   */
  async profile(viewer: Caller, username: string): Promise<{ user: UserRecord; presence?: Presence }> {
    await this.d.limiter.consume('searchPerUser', viewer.userId);
    const user = await this.d.users.findByUsername(username);
    if (!user) throw notFound('No user has that username.');
    const presence = this.d.presenceFor ? await this.d.presenceFor(viewer.userId, user.id) : undefined;
    return presence ? { user, presence } : { user };
  }
}
