import { generateSecret, generateURI, verify } from 'otplib';
import { conflict, invalidPassword, invalidTotp, totpRequired } from '../core/errors.js';
import type { Caller } from '../core/caller.js';
import type { RateLimiter } from '../core/rateLimiter.js';
import type { Clock } from '../lib/clock.js';
import { decryptEmail, decryptTotpSecret, encryptTotpSecret } from '../core/personalData.js';
import type { FieldCipher } from '../lib/fieldCipher.js';
import type { Mailer } from '../mail/mailer.js';
import { twoFactorChangedMail } from '../mail/templates.js';
import type { Store, UserRecord } from '../store/types.js';
import type { PasswordHasher } from './passwordHasher.js';
import { hashRecoveryCode, newRecoveryCodes, normaliseRecoveryCode } from './recoveryCodes.js';
import type { EventOrigin, SecurityEvents } from './securityEvents.service.js';

const ISSUER = 'Signalbox';
/** One 30-second step either side: phones whose clocks drift a little still sign in. */
const TOLERANCE_SECONDS = 30;
const TOTP_CODE = /^\d{6}$/;

export interface TwoFactorDeps {
  store: Store;
  hasher: PasswordHasher;
  cipher: FieldCipher;
  clock: Clock;
  /** Setup, enable and disable re-check the password of a signed-in user: RATE_PASSWORD_CHECK_USER. */
  limiter: RateLimiter;
  /** Tells the owner when 2FA goes on or off. */
  mailer: Mailer;
  securityEvents: SecurityEvents;
}

/** How a login's second step was passed: no 2FA, a TOTP code, or a recovery code. */
export type SecondFactor = 'none' | 'totp' | 'recovery';

/**
 * TOTP (RFC 6238) second factor: setup and enable (both need the password, so a stolen access token
 * alone cannot turn 2FA on against its owner), one-time recovery codes, disable, and the login check.
 */
export class TwoFactorService {
  constructor(private readonly d: TwoFactorDeps) {}

  async isEnabled(userId: string): Promise<boolean> {
    return (await this.d.store.twoFactor.get(userId))?.enabled ?? false;
  }

  /** After the password: a new secret, stored encrypted and not in force until `enable` sees a code made from it. */
  async setup(user: UserRecord, password: string): Promise<{ secret: string; otpauthUrl: string }> {
    if ((await this.d.store.twoFactor.get(user.id))?.enabled) throw conflict('conflict', 'Two-factor authentication is already on; disable it first.');
    const right = await this.d.limiter.guard([['passwordChecksPerUser', user.id]], () => this.d.hasher.verify(user.passwordHash, password, user.id));
    if (!right) throw invalidPassword();
    const secret = generateSecret(); // 20 random bytes, base32: what authenticator apps expect
    const stored = await this.d.store.twoFactor.setPending(user.id, encryptTotpSecret(this.d.cipher, user.id, secret));
    if (!stored) throw conflict('conflict', 'Two-factor authentication is already on; disable it first.');
    return { secret, otpauthUrl: generateURI({ issuer: ISSUER, label: user.username, secret }) };
  }

  /**
   * Turns the pending secret on after the password and one valid code (which proves the app was set
   * up right); answers the recovery codes, shown this once. The owner gets a notice by e-mail.
   */
  async enable(auth: Caller, user: UserRecord, password: string, code: string, origin: EventOrigin): Promise<{ recoveryCodes: string[] }> {
    const factor = await this.d.store.twoFactor.get(user.id);
    if (!factor) throw conflict('conflict', 'Start with POST /auth/2fa/setup.');
    if (factor.enabled) throw conflict('conflict', 'Two-factor authentication is already on.');
    const recoveryCodes = newRecoveryCodes();
    const hashes = recoveryCodes.map((c) => hashRecoveryCode(this.d.cipher, user.id, normaliseRecoveryCode(c)!));
    // Password and code count as one attempt, before either is checked; a wrong password uses up no code.
    // Set inside the guarded callback: the cast keeps TypeScript from narrowing it to its first value, null.
    let wrong = null as 'password' | 'code' | null;
    await this.d.limiter.guard([['passwordChecksPerUser', auth.userId]], async () => {
      if (!(await this.d.hasher.verify(user.passwordHash, password, user.id))) wrong = 'password';
      else {
        const step = await this.matchingStep(user.id, factor.secretEnc, code, null);
        if (step === null || !(await this.d.store.twoFactor.enable(user.id, step, hashes))) wrong = 'code';
      }
      return wrong === null;
    });
    if (wrong === 'password') throw invalidPassword();
    if (wrong === 'code') throw invalidTotp();
    await this.d.securityEvents.record(user.id, '2fa.enabled', origin);
    this.d.mailer.send(twoFactorChangedMail(decryptEmail(this.d.cipher, user), user.username, 'enabled'));
    return { recoveryCodes };
  }

  /** Turns it off; needs both the password and a current code (or a recovery code), so a stolen session alone cannot. */
  async disable(user: UserRecord, password: string, code: string, origin: EventOrigin): Promise<void> {
    const factor = await this.d.store.twoFactor.get(user.id);
    if (!factor?.enabled) throw conflict('conflict', 'Two-factor authentication is not on.');
    // Password and code count as one attempt, before either is checked; a wrong password uses up no code.
    // Set inside the guarded callback: the cast keeps TypeScript from narrowing it to its first value, null.
    let wrong = null as 'password' | 'code' | null;
    await this.d.limiter.guard([['passwordChecksPerUser', user.id]], async () => {
      if (!(await this.d.hasher.verify(user.passwordHash, password, user.id))) wrong = 'password';
      else if ((await this.useSecondFactor(user.id, code)) === null) wrong = 'code';
      return wrong === null;
    });
    if (wrong === 'password') throw invalidPassword();
    if (wrong === 'code') throw invalidTotp();
    await this.d.store.twoFactor.delete(user.id);
    await this.d.securityEvents.record(user.id, '2fa.disabled', origin);
    this.d.mailer.send(twoFactorChangedMail(decryptEmail(this.d.cipher, user), user.username, 'disabled'));
  }

  /**
   * The second step of a login whose password was right: nothing to do without 2FA; else a TOTP code
   * or an unspent recovery code is required (`totp_required`), and a wrong or already-used one is
   * `invalid_totp`. Answers which one passed.
   */
  async checkLogin(userId: string, totp: string | undefined): Promise<SecondFactor> {
    const factor = await this.d.store.twoFactor.get(userId);
    if (!factor?.enabled) return 'none';
    if (totp === undefined) throw totpRequired();
    const used = await this.useSecondFactor(userId, totp);
    if (used === null) throw invalidTotp();
    return used;
  }

  /** Spends `code`: a 6-digit TOTP code of a step not used before, or an unspent recovery code; null when neither. */
  private async useSecondFactor(userId: string, code: string): Promise<'totp' | 'recovery' | null> {
    if (TOTP_CODE.test(code)) return (await this.useCode(userId, code)) ? 'totp' : null;
    const normalised = normaliseRecoveryCode(code);
    if (normalised === null) return null;
    // The DELETE (SQLite) or $pull (MongoDB) decides between two concurrent uses of one code.
    return (await this.d.store.twoFactor.useRecoveryCode(userId, hashRecoveryCode(this.d.cipher, userId, normalised))) ? 'recovery' : null;
  }

  /** True when `code` is valid now and its time step was not used before (it is then marked used). */
  private async useCode(userId: string, code: string): Promise<boolean> {
    const factor = await this.d.store.twoFactor.get(userId);
    if (!factor?.enabled) return false;
    const step = await this.matchingStep(userId, factor.secretEnc, code, factor.lastStep);
    // The conditional write decides between two concurrent uses of one code.
    return step !== null && (await this.d.store.twoFactor.useStep(userId, step));
  }

  private async matchingStep(userId: string, secretEnc: string, code: string, afterStep: number | null): Promise<number | null> {
    if (!TOTP_CODE.test(code)) return null;
    const secret = decryptTotpSecret(this.d.cipher, userId, secretEnc);
    const result = await verify({
      secret,
      token: code,
      epoch: Math.floor(this.d.clock.now() / 1000),
      epochTolerance: TOLERANCE_SECONDS,
      ...(afterStep === null ? {} : { afterTimeStep: afterStep }),
    });
    // The functional API's result type also covers HOTP, which has no time step.
    return result.valid && 'timeStep' in result ? result.timeStep : null;
  }
}
