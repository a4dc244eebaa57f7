import type { RateLimitName } from '../config/environment.js';
import type { Config } from '../config/parse.js';
import { AppError, invalidCredentials, invalidPassword, invalidTotp, unauthorized, validationFailed, conflict } from '../core/errors.js';
import type { Caller, EventOrigin } from '../core/caller.js';
import { serverEvent } from '../core/serverEvents.js';
import type { Attempt, RateLimiter } from '../core/rateLimiter.js';
import type { Clock } from '../lib/clock.js';
import type { FieldCipher } from '../lib/fieldCipher.js';
import { hashSecret, newId, newSecret } from '../lib/ids.js';
import type { Mailer } from '../mail/mailer.js';
import { passwordChangedMail } from '../mail/templates.js';
import { DuplicateError, type PgpKeyRecord, type Store, type UserRecord } from '../store/types.js';
import { decryptEmail, emailIndex, encryptBirthday, encryptDevice, encryptEmail, normaliseEmail, normaliseUsername, type DeviceInfo } from '../core/personalData.js';
import { parseUsername } from '../users/username.js';
import type { PasswordHasher } from './passwordHasher.js';
import type { SecurityEvents } from './securityEvents.service.js';
import type { SecondFactor, TwoFactorService } from './twoFactor.service.js';
import { readPublicKey } from './pgpKey.js';
import type { AccessTokens } from './tokens.js';

export interface TokenGrant {
  user: UserRecord;
  twoFactor: boolean;
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  /**
   * The session's id, which is the device's id (docs/api.md, Devices). It is no credential: every request
   * needs the signed access token (whose readable payload carries it already, as `sid`) and refresh
   * needs the refresh token; so it may be shown, and one id leaves nothing to keep in step.
   */
  deviceId: string;
}

export interface AccountDeps {
  store: Store;
  hasher: PasswordHasher;
  tokens: AccessTokens;
  cipher: FieldCipher;
  clock: Clock;
  /** `signalTtl` and `eventsMax`: how long the `pgp.changed` events of a key change stay in the mailboxes, and how many a device keeps. */
  config: Pick<Config, 'refreshTokenTtl' | 'minAge' | 'sessionMaxAge' | 'devicesMax' | 'signalTtl' | 'eventsMax'>;
  limiter: RateLimiter;
  twoFactor: TwoFactorService;
  /** The account's security log: sign-ins, sign-outs, password and key changes. */
  securityEvents: SecurityEvents;
  /** Sends the "your password was changed" notice. */
  mailer: Mailer;
  /** Told after a logout, so the user shows offline at once (presence). */
  onSignOut?: (userId: string) => Promise<void>;
  /** Told after sessions end, so their held polls answer 401 at once (signaling). */
  onSessionsEnded?: (ended: EndedSessions) => void;
}

/**
 * Sessions that just ended: these ids, or every session of `userId` except `except`. One shape for
 * every way a session ends (logout, password change or reset, account deletion, device removal).
 */
export type EndedSessions = { readonly sessionIds: readonly string[] } | { readonly userId: string; readonly except?: string };

/** The limit subject of a name that matches no account: `Alice`, `@alice` and `alice` count together. */
const unknownNameSubject = (identifier: string) => `name:${normaliseUsername(identifier.trim())}`;

/** Registration, sign-in, token refresh, sign-out, password change and account deletion. */
export class AccountService {
  constructor(private readonly d: AccountDeps) {}

  /** Creates an account and signs it in; `network` (the client's) is whom the argon2 work counts against. */
  async register(
    input: {
      username: string;
      email: string;
      password: string;
      birthday?: string | null;
      pgpPublicKey?: string | null;
      device?: DeviceInfo | null;
    },
    network: string,
  ): Promise<TokenGrant> {
    const { store, cipher, clock } = this.d;
    await this.d.limiter.consume('registerPerEmail', normaliseEmail(input.email));
    if (input.birthday) this.checkBirthday(input.birthday);
    // Validated before anything is stored, so a refused key leaves no half-made account behind.
    const pgp = input.pgpPublicKey != null ? await readPublicKey(input.pgpPublicKey, new Date(clock.now())) : null;
    const index = emailIndex(cipher, input.email);
    // Cheap checks first, so a taken name costs no argon2 work; the unique indexes still decide races.
    if (await store.users.findByUsername(input.username)) throw conflict('username_taken', 'That username is taken.');
    if (await store.users.findByEmailIndex(index)) throw conflict('email_taken', 'That e-mail address is already registered.');
    const id = newId();
    const user: UserRecord = {
      id,
      username: input.username,
      emailIndex: index,
      emailEnc: encryptEmail(cipher, id, input.email),
      birthdayEnc: encryptBirthday(cipher, id, input.birthday),
      passwordHash: await this.d.hasher.hash(input.password, network),
      createdAt: new Date(clock.now()),
      pgp,
      disabledAt: null,
    };
    try {
      await store.users.create(user);
    } catch (err) {
      if (err instanceof DuplicateError) {
        throw err.field === 'username' ? conflict('username_taken', 'That username is taken.') : conflict('email_taken', 'That e-mail address is already registered.');
      }
      throw err;
    }
    const grant = await this.startSession(user, input.device);
    // The network an account was made from is its owner's, as much as one it signed in from: without
    // this an owner who only registered was held to the per-account ceilings that strangers can fill.
    await this.rememberNetwork(user, network);
    return grant;
  }

  /**
   * `identifier` is a username, `@username` or e-mail address; `network` is the client's
   * (`clientNetwork`). Every failure looks the same. Each attempt is counted *before* the password
   * is checked, against the account (however it was named; an unknown name on its normalised form)
   * from this network (RATE_LOGIN_ACCOUNT_IP) and from everywhere (RATE_LOGIN_USERNAME), and given
   * back when it succeeds: past either limit even the right password gets 429 until the window
   * ends, and parallel requests cannot get more guesses checked than the limit allows.
   * A wrong TOTP code (`invalid_totp`) is a failed guess like a wrong password. A network the account signed in
   * from within SESSION_MAX_AGE is held to the first limit only, so strangers filling the
   * per-account ceiling from elsewhere do not lock the owner out of their usual networks.
   * The security log gets `login`, or `login.new-network` from a network that is not known in that
   * sense, and `2fa.recovery-used` when a recovery code stood in for the TOTP code; `ip` is the
   * client's address, kept there coarse (docs/security.md).
   */
  async login(
    identifier: string,
    password: string,
    totp: string | undefined,
    network: string,
    device?: DeviceInfo | null,
    ip: string | null = null,
  ): Promise<TokenGrant> {
    const user = await this.findByIdentifier(identifier);
    const account = user ? `user:${user.id}` : unknownNameSubject(identifier);
    const here = `${account} from ${network}`;
    // Looked up for unknown names too (never found), so both cost the same work.
    const known = await this.d.limiter.remembers(here);
    const attempt = await this.d.limiter.attempt(
      ['loginFailuresPerAccountIp', here],
      ...(known ? [] : [['loginFailuresPerUsername', account] as [RateLimitName, string]]),
    );
    let ok: boolean;
    try {
      ok = user ? await this.d.hasher.verify(user.passwordHash, password, network) : await this.d.hasher.verifyAgainstDummy(password, network);
    } catch (err) {
      await attempt.refund(); // nothing was checked (the hash queue refused)
      throw err;
    }
    // A disabled account (admin CLI) gets the same answer as a wrong password: nothing tells a guesser
    // that the password was right. Its sessions ended when it was disabled, so this is the only door.
    if (!user || !ok || user.disabledAt) throw invalidCredentials();
    // Past the code limit this throws what a wrong code gets, and the password attempt stays counted.
    const codeAttempt = totp === undefined || known ? null : await this.codeAttempt(account);
    let secondFactor: SecondFactor;
    try {
      secondFactor = await this.d.twoFactor.checkLogin(user.id, totp);
    } catch (err) {
      // A wrong code stays counted as a failed guess; a missing one is not a guess.
      if (!(err instanceof AppError && err.code === 'invalid_totp')) {
        await attempt.refund();
        await codeAttempt?.refund();
      }
      throw err;
    }
    await attempt.refund();
    await codeAttempt?.refund();
    await this.rememberNetwork(user, network);
    if (this.d.hasher.needsRehash(user.passwordHash)) {
      await this.d.store.users.setPasswordHash(user.id, await this.d.hasher.hash(password, network));
    }
    const grant = await this.startSession(user, device);
    const origin = { deviceId: grant.deviceId, ip };
    if (secondFactor === 'recovery') await this.d.securityEvents.record(user.id, '2fa.recovery-used', origin);
    await this.d.securityEvents.record(user.id, known ? 'login' : 'login.new-network', origin);
    return grant;
  }

  /**
   * Counts a TOTP code about to be checked against the account's code limit (RATE_LOGIN_TOTP). Only
   * reached with the right password, so it bounds what someone who has the password can guess, far
   * below the per-account ceiling for passwords. Past the limit the code is not checked and the answer
   * is the one a wrong code gets (`invalid_totp`), not 429, so a guesser cannot tell when its codes
   * stop being checked.
   */
  private async codeAttempt(account: string): Promise<Attempt> {
    try {
      return await this.d.limiter.attempt(['loginCodeFailuresPerAccount', account]);
    } catch (err) {
      if (err instanceof AppError && err.code === 'rate_limited') throw invalidTotp();
      throw err;
    }
  }

  /** Swaps a refresh token for a new pair; a token that was already swapped ends its session. */
  async refresh(refreshToken: string): Promise<TokenGrant> {
    const { store, clock } = this.d;
    const newRefresh = newSecret();
    const now = clock.now();
    const result = await store.sessions.rotateRefreshToken(
      hashSecret(refreshToken),
      hashSecret(newRefresh),
      new Date(now),
      new Date(now + this.d.config.refreshTokenTtl * 1000),
    );
    // A reused token ended its session in the store (theft detection): its held polls end too.
    if (result.outcome === 'reused') this.d.onSessionsEnded?.({ sessionIds: [result.sessionId] });
    if (result.outcome !== 'rotated') throw unauthorized('The refresh token is not valid; sign in again.');
    if (result.session.createdAt.getTime() + this.d.config.sessionMaxAge * 1000 <= now) {
      // SESSION_MAX_AGE: however often it refreshed, the device signs in again.
      await store.sessions.delete(result.session.id);
      this.d.onSessionsEnded?.({ sessionIds: [result.session.id] });
      throw unauthorized('The session has reached its maximum age; sign in again.');
    }
    const user = await store.users.findById(result.session.userId);
    if (!user) throw unauthorized('The refresh token is not valid; sign in again.');
    return this.grant(user, result.session.id, newRefresh);
  }

  async logout(auth: Caller, origin: EventOrigin): Promise<void> {
    // Before the session goes, so the entry can still name the device's platform.
    await this.d.securityEvents.record(auth.userId, 'logout', origin);
    await this.d.store.sessions.delete(auth.sessionId);
    this.d.onSessionsEnded?.({ sessionIds: [auth.sessionId] });
    await this.d.onSignOut?.(auth.userId);
  }

  /**
   * Changes the password after checking the current one; every other session ends and the address
   * on file gets a notice, so an owner learns of a change made with a stolen session.
   */
  async changePassword(auth: Caller, currentPassword: string, newPassword: string, origin: EventOrigin): Promise<void> {
    const user = await this.requireUser(auth);
    if (newPassword.toLowerCase() === user.username) {
      throw validationFailed([{ field: 'newPassword', message: 'must not be the username' }]);
    }
    if (!(await this.checkPassword(user, currentPassword))) throw invalidPassword();
    await this.d.store.users.setPasswordHash(user.id, await this.d.hasher.hash(newPassword, user.id));
    await this.d.store.sessions.deleteByUser(user.id, auth.sessionId);
    this.d.onSessionsEnded?.({ userId: user.id, except: auth.sessionId });
    await this.d.securityEvents.record(user.id, 'password.changed', origin);
    this.d.mailer.send(passwordChangedMail(decryptEmail(this.d.cipher, user), user.username, 'changed'));
  }

  /** Deletes the account and everything it owns, after checking the password. */
  async deleteAccount(auth: Caller, password: string): Promise<void> {
    const user = await this.requireUser(auth);
    if (!(await this.checkPassword(user, password))) throw invalidPassword();
    await this.d.store.users.delete(user.id);
    this.d.onSessionsEnded?.({ userId: user.id });
  }

  /** Marks `network` as the account's own for SESSION_MAX_AGE (see `isKnownNetwork`). */
  private async rememberNetwork(user: UserRecord, network: string): Promise<void> {
    await this.d.limiter.remember(`user:${user.id} from ${network}`, this.d.config.sessionMaxAge);
  }

  /**
   * True when the account registered or signed in from `network` within SESSION_MAX_AGE (see `login`). Asked with
   * null for an unknown address too (a subject no account has), so both cost the same work.
   */
  async isKnownNetwork(user: UserRecord | null, network: string): Promise<boolean> {
    return this.d.limiter.remembers(`${user ? `user:${user.id}` : 'nobody'} from ${network}`);
  }

  /**
   * Re-checks a signed-in user's password, counted against RATE_PASSWORD_CHECK_USER before the
   * check (429 past it) and given back when right: a stolen access token is no unlimited oracle.
   */
  async checkPassword(user: UserRecord, password: string): Promise<boolean> {
    return this.d.limiter.guard([['passwordChecksPerUser', user.id]], () => this.d.hasher.verify(user.passwordHash, password, user.id));
  }

  /**
   * Validates and stores the caller's OpenPGP public key, replacing any earlier one; `pgp.changed`
   * goes to every connection and to the caller's other devices in the same write.
   */
  async setPgpKey(auth: Caller, armored: string, origin: EventOrigin): Promise<UserRecord> {
    const key = await readPublicKey(armored, new Date(this.d.clock.now()));
    await this.storePgpKey(auth, key, origin);
    return this.requireUser(auth);
  }

  /**
   * Removes the caller's OpenPGP key; removing none is not an error (the end state is the same). Told
   * as `pgp.changed` with a null fingerprint either way: a client that pinned a key learns it is gone.
   */
  async clearPgpKey(auth: Caller, origin: EventOrigin): Promise<void> {
    await this.storePgpKey(auth, null, origin);
  }

  /** Stores or clears the key with its events; the security log gets `key.changed` unless nothing was there to remove. */
  private async storePgpKey(auth: Caller, key: PgpKeyRecord | null, origin: EventOrigin): Promise<void> {
    const user = await this.requireUser(auth);
    const time = { now: new Date(this.d.clock.now()), ttlSeconds: this.d.config.signalTtl, eventsMax: this.d.config.eventsMax };
    const payload = { username: user.username, fingerprint: key?.fingerprint ?? null };
    const events = () => [
      serverEvent('pgp.changed', user, payload, { connectionsOf: user.id }, time),
      serverEvent('pgp.changed', user, payload, { userId: user.id, exceptDevice: auth.sessionId }, time),
    ];
    if (!(await this.d.store.users.setPgpKey(user.id, key, events))) throw unauthorized('The session has ended; sign in again.');
    if (key !== null || user.pgp !== null) await this.d.securityEvents.record(user.id, 'key.changed', origin);
  }

  /** The caller's account and whether it has two-factor authentication, for the own-user view. */
  async ownAccount(auth: Caller): Promise<{ user: UserRecord; twoFactor: boolean }> {
    const user = await this.requireUser(auth);
    return { user, twoFactor: await this.d.twoFactor.isEnabled(user.id) };
  }

  async requireUser(auth: Caller): Promise<UserRecord> {
    const user = await this.d.store.users.findById(auth.userId);
    if (!user) throw unauthorized('The session has ended; sign in again.');
    return user;
  }

  private async findByIdentifier(identifier: string): Promise<UserRecord | null> {
    const id = identifier.trim();
    // An identifier with an @ anywhere but in front is an e-mail address, never a username.
    if (id.includes('@') && !id.startsWith('@')) return this.d.store.users.findByEmailIndex(emailIndex(this.d.cipher, id));
    const username = parseUsername(id);
    return username === null ? null : this.d.store.users.findByUsername(username);
  }

  private checkBirthday(birthday: string): void {
    const born = new Date(`${birthday}T00:00:00Z`);
    const now = new Date(this.d.clock.now());
    if (born.getTime() >= now.getTime()) throw validationFailed([{ field: 'birthday', message: 'must be in the past' }]);
    const comesOfAge = new Date(born);
    comesOfAge.setUTCFullYear(born.getUTCFullYear() + this.d.config.minAge);
    if (comesOfAge.getTime() > now.getTime()) {
      throw validationFailed([{ field: 'birthday', message: `you must be at least ${this.d.config.minAge} years old` }]);
    }
  }

  /**
   * A new session (device) for `user`, its name and platform encrypted. Past DEVICES_MAX the least
   * recently seen of the user's other sessions end, with their held polls.
   */
  private async startSession(user: UserRecord, device: DeviceInfo | null | undefined): Promise<TokenGrant> {
    const { store, clock, cipher, config } = this.d;
    const now = clock.now();
    const sessionId = newId();
    const refreshToken = newSecret();
    const created = await store.sessions.create(
      {
        id: sessionId,
        userId: user.id,
        createdAt: new Date(now),
        expiresAt: new Date(now + config.refreshTokenTtl * 1000),
        ...encryptDevice(cipher, user.id, sessionId, device),
        lastSeen: null,
      },
      hashSecret(refreshToken),
    );
    if (!created) throw invalidCredentials(); // the account was deleted meanwhile
    // After the insert: of concurrent sign-ins, the last trim sees every new session (store/types.ts).
    const ended = await store.sessions.trimToMostRecent(user.id, config.devicesMax, sessionId, new Date(now));
    if (ended.length > 0) this.d.onSessionsEnded?.({ sessionIds: ended });
    return this.grant(user, sessionId, refreshToken);
  }

  private async grant(user: UserRecord, sessionId: string, refreshToken: string): Promise<TokenGrant> {
    const accessToken = await this.d.tokens.sign({ userId: user.id, sessionId });
    return {
      user,
      twoFactor: await this.d.twoFactor.isEnabled(user.id),
      accessToken,
      refreshToken,
      expiresIn: this.d.tokens.ttlSeconds,
      deviceId: sessionId,
    };
  }
}
