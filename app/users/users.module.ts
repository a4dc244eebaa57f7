import type { Platform } from '../core/platform.js';
import type { Feature } from '../http/router.js';
import { userRoutes } from './users.routes.js';
import { UserDirectory, type PresenceLookup } from './users.service.js';

export interface UsersModuleDeps extends Pick<Platform, 'store' | 'limiter'> {
  /** Who may see whose presence; without it, profiles carry no `presence`. */
  presenceFor?: PresenceLookup;
}

/** Finding people: username search and public profiles. */
export function createUsers(d: UsersModuleDeps): Feature {
  return { routes: userRoutes(new UserDirectory({ users: d.store.users, limiter: d.limiter, presenceFor: d.presenceFor })) };
}
