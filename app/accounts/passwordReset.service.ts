import { randomInt } from 'node:crypto';
import type { RateLimitName } from '../config/environment.js';
import type { Config } from '../config/parse.js';
import { invalidOtp, validationFailed } from '../core/errors.js';
import type { Attempt, RateLimiter } from '../core/rateLimiter.js';
import type { Clock } from '../lib/clock.js';
import type { FieldCipher } from '../lib/fieldCipher.js';
import type { Mailer } from '../mail/mailer.js';
import { passwordChangedMail, resetCodeMail } from '../mail/templates.js';
import type { Store, UserRecord } from '../store/types.js';
import { decryptEmail, emailIndex, normaliseEmail } from '../core/personalData.js';
import type { AccountService, EndedSessions } from './accounts.service.js';
import type { PasswordHasher } from './passwordHasher.js';
import type { SecurityEvents } from './securityEvents.service.js';
import type { EventOrigin } from '../core/caller.js';

/** Wrong guesses a code survives: a 1-in-10^6 code with 5 tries gives an attacker 1 chance in 200,000 per mail. */
export const RESET_CODE_MAX_TRIES = 5;

export interface PasswordResetDeps {
  store: Store;
  accounts: AccountService;
  hasher: PasswordHasher;
  cipher: FieldCipher;
  clock: Clock;
  mailer: Mailer;
  limiter: RateLimiter;
  config: Pick<Config, 'otpTtl'>;
  /** The security log: `password.reset`. */
  securityEvents: SecurityEvents;
  /** Told after a reset ends every session, so their held polls answer 401 at once (signaling). */
  onSessionsEnded?: (ended: EndedSessions) => void;
}

/** Password reset by a 6-digit code sent to the account's e-mail address. */
export class PasswordResetService {
  constructor(private readonly d: PasswordResetDeps) {}

  /**
   * Sends a fresh code when the address belongs to an account, and does nothing visible otherwise:
   * the caller's answer is the same either way and the mail goes out after the answer. Counted per
   * address from the caller's network (RATE_FORGOT_EMAIL_IP, strict) and per address from everywhere
   * (RATE_FORGOT_EMAIL, a looser ceiling, skipped on a network the account signed in from), so a
   * stranger's requests cannot use up the owner's.
   */
  async forgot(email: string, network: string): Promise<void> {
    const { store, clock, cipher } = this.d;
    const user = await store.users.findByEmailIndex(emailIndex(cipher, email));
    await this.attempt('forgotPerEmailIp', 'forgotPerEmail', normaliseEmail(email), user, network);
    if (!user) return;
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    const now = clock.now();
    await store.resetCodes.put({
      userId: user.id,
      codeHash: this.hashCode(user, code),
      createdAt: new Date(now),
      expiresAt: new Date(now + this.d.config.otpTtl * 1000),
    });
    const to = decryptEmail(cipher, user);
    this.d.mailer.send(resetCodeMail(to, user.username, code, this.d.config.otpTtl));
  }

  /**
   * Sets a new password with a valid code; every session of the account ends. Each try is counted
   * before the code is checked, per caller's network across all addresses (RATE_RESET_IP), per
   * address from the caller's network (RATE_RESET_EMAIL_IP) and per
   * address in all (RATE_RESET_EMAIL, skipped on a network the account signed in from), and given
   * back when the code is right.
   */
  async reset(email: string, otp: string, newPassword: string, network: string, origin: EventOrigin): Promise<void> {
    const { store, clock } = this.d;
    const user = await store.users.findByEmailIndex(emailIndex(this.d.cipher, email));
    // Counted per network across all addresses first (RATE_RESET_IP): one network guessing codes for
    // many known addresses is bounded as a whole, not only per address (docs/security.md has the odds).
    const attempt = await this.attempt('resetPerEmailIp', 'resetPerEmail', normaliseEmail(email), user, network, ['resetPerIp', network]);
    // An unknown address gets the same answer as a wrong code.
    if (!user) throw invalidOtp();
    const now = clock.now();
    const codeHash = this.hashCode(user, otp);
    if (!(await store.resetCodes.redeem(user.id, codeHash, new Date(now), RESET_CODE_MAX_TRIES))) throw invalidOtp();
    await attempt.refund();
    // Judged only after the code, so the answer never hints which username an address has.
    if (newPassword.toLowerCase() === user.username) {
      // The code was right: give it back for a minute so the user can retry with another password.
      await store.resetCodes.put({ userId: user.id, codeHash, createdAt: new Date(now), expiresAt: new Date(now + 60_000) });
      throw validationFailed([{ field: 'newPassword', message: 'must not be the username' }]);
    }
    await store.users.setPasswordHash(user.id, await this.d.hasher.hash(newPassword, network));
    await store.sessions.deleteByUser(user.id);
    this.d.onSessionsEnded?.({ userId: user.id });
    await this.d.securityEvents.record(user.id, 'password.reset', origin);
    const to = decryptEmail(this.d.cipher, user);
    this.d.mailer.send(passwordChangedMail(to, user.username, 'reset'));
  }

  /**
   * Counts a request against `first` (when given), the per-address-and-network limit and, unless the
   * network is known, the per-address ceiling; all given back together when one refuses.
   */
  private async attempt(
    perNetwork: RateLimitName,
    ceiling: RateLimitName,
    address: string,
    user: UserRecord | null,
    network: string,
    first?: [RateLimitName, string],
  ): Promise<Attempt> {
    const known = await this.d.accounts.isKnownNetwork(user, network);
    return this.d.limiter.attempt(
      ...(first ? [first] : []),
      [perNetwork, `${address} from ${network}`],
      ...(known ? [] : [[ceiling, address] as [RateLimitName, string]]),
    );
  }

  // Keyed and bound to the user: a copied database reveals no codes, and a code fits one account only.
  private hashCode(user: UserRecord, code: string): string {
    return this.d.cipher.blindIndex(code, `reset-code:${user.id}`);
  }
}
