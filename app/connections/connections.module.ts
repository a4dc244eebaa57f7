import type { Platform } from '../core/platform.js';
import type { Feature } from '../http/router.js';
import type { PresenceService } from '../presence/presence.service.js';
import { connectionRoutes } from './connections.routes.js';
import { ConnectionService } from './connections.service.js';

export interface ConnectionsModuleDeps extends Pick<Platform, 'config' | 'store' | 'clock' | 'limiter'> {
  /** Each connection carries the other member's presence. */
  presence: PresenceService;
}

/** The request/accept graph: who may signal whom. */
export function createConnections(d: ConnectionsModuleDeps): Feature {
  return { routes: connectionRoutes(new ConnectionService({ store: d.store, clock: d.clock, presence: d.presence, limiter: d.limiter, config: d.config })) };
}
