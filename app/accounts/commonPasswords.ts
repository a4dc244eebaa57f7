import { dictionary } from '@zxcvbn-ts/language-common';

/**
 * The passwords most often found in breach corpora, for ASVS 6.2.4 ("not in a list of commonly used
 * passwords"). The list is zxcvbn-ts's `passwords-common` dictionary (@zxcvbn-ts/language-common,
 * MIT, about 49,000 entries, all lower case), kept up to date upstream; about 18,000 of them are long
 * enough to pass the 8-character minimum. It is read once, when this module is first imported (a few
 * tens of milliseconds and about 4 MB of heap), and then answered from a Set.
 */
const COMMON: ReadonlySet<string> = new Set(dictionary['passwords-common'].map((p) => p.toLowerCase()));

/** How many passwords the list holds (docs/security.md names the figure). */
export const COMMON_PASSWORD_COUNT = COMMON.size;

/** True when `password`, compared case-insensitively, is on the common-passwords list. */
export function isCommonPassword(password: string): boolean {
  return COMMON.has(password.toLowerCase());
}
