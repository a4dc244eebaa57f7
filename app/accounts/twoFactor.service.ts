import { generateSecret, generateURI, verify } from 'otplib';
import { conflict, invalidPassword, invalidTotp, totpRequired } from '../core/errors.js';
import type { Caller } from '../core/caller.js';
import type { RateLimiter } from '../core/rateLimiter.js';
import type { Clock } from '../lib/clock.js';
import { decryptTotpSecret, encryptTotpSecret } from '../core/personalData.js';
import type { FieldCipher } from '../lib/fieldCipher.js';
import type { Store, UserRecord } from '../store/types.js';
import type { PasswordHasher } from './passwordHasher.js';

const ISSUER = 'Signalbox';
/** One 30-second step either side: phones whose clocks drift a little still sign in. */
const TOLERANCE_SECONDS = 30;

export interface TwoFactorDeps {
  store: Store;
  hasher: PasswordHasher;
  cipher: FieldCipher;
  clock: Clock;
  /** Enable and disable are password/code checks of a signed-in user: RATE_PASSWORD_CHECK_USER. */
  limiter: RateLimiter;
}

/** TOTP (RFC 6238) second factor: setup, enable with a first code, disable, and the login check. */
export class TwoFactorService {
  constructor(private readonly d: TwoFactorDeps) {}

  async isEnabled(userId: string): Promise<boolean> {
    return (await this.d.store.twoFactor.get(userId))?.enabled ?? false;
  }

  /** A new secret, stored encrypted and not yet in force until `enable` sees a code made from it. */
  async setup(user: UserRecord): Promise<{ secret: string; otpauthUrl: string }> {
    const secret = generateSecret(); // 20 random bytes, base32: what authenticator apps expect
    const stored = await this.d.store.twoFactor.setPending(user.id, encryptTotpSecret(this.d.cipher, user.id, secret));
    if (!stored) throw conflict('conflict', 'Two-factor authentication is already on; disable it first.');
    return { secret, otpauthUrl: generateURI({ issuer: ISSUER, label: user.username, secret }) };
  }

  /** Turns the pending secret on after one valid code, which also proves the app was set up right. */
  async enable(auth: Caller, code: string): Promise<void> {
    const factor = await this.d.store.twoFactor.get(auth.userId);
    if (!factor) throw conflict('conflict', 'Start with POST /auth/2fa/setup.');
    if (factor.enabled) throw conflict('conflict', 'Two-factor authentication is already on.');
    const enabled = await this.d.limiter.guard([['passwordChecksPerUser', auth.userId]], async () => {
      const step = await this.matchingStep(auth.userId, factor.secretEnc, code, null);
      return step !== null && (await this.d.store.twoFactor.enable(auth.userId, step));
    });
    if (!enabled) throw invalidTotp();
  }

  /** Turns it off; needs both the password and a current code, so a stolen session alone cannot. */
  async disable(user: UserRecord, password: string, code: string): Promise<void> {
    const factor = await this.d.store.twoFactor.get(user.id);
    if (!factor?.enabled) throw conflict('conflict', 'Two-factor authentication is not on.');
    // Password and code count as one attempt, before either is checked; a wrong password uses up no code.
    let wrong: 'password' | 'code' | null = null;
    await this.d.limiter.guard([['passwordChecksPerUser', user.id]], async () => {
      if (!(await this.d.hasher.verify(user.passwordHash, password, user.id))) wrong = 'password';
      else if (!(await this.useCode(user.id, code))) wrong = 'code';
      return wrong === null;
    });
    if (wrong === 'password') throw invalidPassword();
    if (wrong === 'code') throw invalidTotp();
    await this.d.store.twoFactor.delete(user.id);
  }

  /**
   * The second step of a login whose password was right: nothing to do without 2FA; else a code is
   * required (`totp_required`), and a wrong or already-used one is `invalid_totp`.
   */
  async checkLogin(userId: string, totp: string | undefined): Promise<void> {
    const factor = await this.d.store.twoFactor.get(userId);
    if (!factor?.enabled) return;
    if (totp === undefined) throw totpRequired();
    if (!(await this.useCode(userId, totp))) throw invalidTotp();
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
