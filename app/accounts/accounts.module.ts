import type { Middleware } from 'koa';
import type { Caller } from '../core/caller.js';
import type { Platform } from '../core/platform.js';
import { authenticate, callerCheck } from '../http/authenticate.js';
import type { AppContext, AppState } from '../http/context.js';
import type { Feature } from '../http/router.js';
import { accountRoutes } from './accounts.routes.js';
import { AccountService, type EndedSessions } from './accounts.service.js';
import { DeviceService } from './devices.service.js';
import { ownAccountRoutes } from './ownAccount.routes.js';
import { KeyBackupService } from './keyBackup.service.js';
import { keyBackupRoutes } from './keyBackup.routes.js';
import { PasswordHasher } from './passwordHasher.js';
import { passwordResetRoutes } from './passwordReset.routes.js';
import { PasswordResetService } from './passwordReset.service.js';
import { securityEventRoutes } from './securityEvents.routes.js';
import { SecurityEvents } from './securityEvents.service.js';
import { AccessTokens } from './tokens.js';
import { twoFactorRoutes } from './twoFactor.routes.js';
import { TwoFactorService } from './twoFactor.service.js';

export interface AccountsModuleDeps extends Pick<Platform, 'config' | 'store' | 'clock' | 'cipher' | 'limiter' | 'mailer' | 'logger'> {
  /** Tests pass cheaper argon2 parameters; production uses the defaults. */
  hasher?: PasswordHasher;
  /** Told after a logout, so the user shows offline at once (presence). */
  onSignOut?: (userId: string) => Promise<void>;
  /** Told after sessions end in any way, so their held polls answer 401 at once (signaling). */
  onSessionsEnded?: (ended: EndedSessions) => void;
}

export interface AccountsFeature extends Feature {
  /** Route middleware admitting a valid access token of a live session (every `auth: true` route). */
  authenticate: Middleware<AppState, AppContext>;
  /** The same check as `authenticate`, for a route answered outside Koa: the caller, or 401 thrown. */
  callerOf: (authorization: string) => Promise<Caller>;
  /** Told of every authenticated request: the device's lastSeen (written at most every 30 s per session). */
  deviceSeen: (caller: Caller) => Promise<void> | undefined;
}

/**
 * Register, sign-in, tokens and sessions (devices), passwords and their reset, 2FA, the PGP key, the own account
 * (`/users/me`), its security log and its key backup.
 */
export function createAccounts(d: AccountsModuleDeps): AccountsFeature {
  const { config, store, clock, cipher, limiter, mailer, logger } = d;
  const hasher = d.hasher ?? new PasswordHasher();
  const tokens = new AccessTokens(config.jwtSecret, config.accessTokenTtl, clock);
  const securityEvents = new SecurityEvents({ store, cipher, clock, ttlSeconds: config.securityEventsTtl, logger });
  const twoFactor = new TwoFactorService({ store, hasher, cipher, clock, limiter, mailer, securityEvents });
  const accounts = new AccountService({
    store,
    hasher,
    tokens,
    cipher,
    clock,
    config,
    limiter,
    twoFactor,
    securityEvents,
    mailer,
    onSignOut: d.onSignOut,
    onSessionsEnded: d.onSessionsEnded,
  });
  const devices = new DeviceService({ store, cipher, clock, securityEvents, onSessionsEnded: d.onSessionsEnded, onSignOut: d.onSignOut });
  const resets = new PasswordResetService({ store, accounts, hasher, cipher, clock, mailer, limiter, config, securityEvents, onSessionsEnded: d.onSessionsEnded });
  const keyBackups = new KeyBackupService({ store, clock, config, securityEvents });
  return {
    routes: [
      ...accountRoutes(accounts, cipher, limiter),
      ...passwordResetRoutes(resets, limiter),
      ...twoFactorRoutes(twoFactor, accounts),
      ...ownAccountRoutes(accounts, devices, cipher),
      ...securityEventRoutes(securityEvents),
      ...keyBackupRoutes(keyBackups, accounts, limiter),
    ],
    authenticate: authenticate(tokens, store.sessions, clock, config.sessionMaxAge),
    callerOf: callerCheck(tokens, store.sessions, clock, config.sessionMaxAge),
    deviceSeen: (caller) => devices.seen(caller),
  };
}
