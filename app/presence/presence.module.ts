import type { Platform } from '../core/platform.js';
import type { Feature } from '../http/router.js';
import { PresenceService } from './presence.service.js';

export interface PresenceModuleDeps extends Pick<Platform, 'config' | 'store' | 'clock'> {
  /** True while the user holds a long-poll on this instance (signaling): online for as long as it is held. */
  isHolding: (userId: string) => boolean;
}

export interface PresenceFeature extends Feature {
  /** Fed by every authenticated request and by logouts; read by users' profiles and connections. */
  service: PresenceService;
}

/** Who is online: no endpoints of its own; its answers ride on profiles and connection lists. */
export function createPresence(d: PresenceModuleDeps): PresenceFeature {
  return {
    routes: [],
    service: new PresenceService({ store: d.store, clock: d.clock, windowSeconds: d.config.presenceWindow, isHolding: d.isHolding }),
  };
}
