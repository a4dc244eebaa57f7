import { randomInt } from 'node:crypto';
import type { FieldCipher } from '../lib/fieldCipher.js';

/**
 * Two-factor recovery codes (docs/security.md, "2FA and a stolen token"): 10 per enable, each 10
 * characters of the RFC 4648 base32 alphabet (50 random bits), shown as two groups of five
 * (`ABCDE-FGH23`). Typed in place of `totp` at login; case, spaces and dashes do not matter. Stored
 * only as a keyed hash (HMAC with DATA_KEY, bound to the user), like the e-mail index: a stolen
 * database alone cannot test guesses offline.
 */
export const RECOVERY_CODE_COUNT = 10;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const LENGTH = 10;

/** A fresh set of codes, as shown to the user once. */
export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const chars = Array.from({ length: LENGTH }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
    return `${chars.slice(0, 5)}-${chars.slice(5)}`;
  });
}

/** The code in its one normal form (upper case, no separators), or null when it cannot be a recovery code. */
export function normaliseRecoveryCode(input: string): string | null {
  const code = input.replace(/[\s-]/g, '').toUpperCase();
  // eslint-disable-next-line @typescript-eslint/no-misused-spread -- each character is looked up in an ASCII alphabet: however a non-ASCII one splits, it fails
  return code.length === LENGTH && [...code].every((c) => ALPHABET.includes(c)) ? code : null;
}

/** The stored form of a (normalised) code of `userId`. */
export const hashRecoveryCode = (cipher: FieldCipher, userId: string, normalised: string) => cipher.blindIndex(normalised, `2fa-recovery:${userId}`);

/** A pattern for the login schema: a 6-digit TOTP code or a recovery code, loosely written. */
export const TOTP_OR_RECOVERY = /^(\d{6}|[A-Za-z2-7][A-Za-z2-7 -]{8,18}[A-Za-z2-7])$/;
