import { z } from 'zod';
import { normaliseUsername } from '../core/personalData.js';

/** A username as typed: an optional leading `@`, then 3-32 letters, digits or underscores. */
const USERNAME_AS_TYPED = /^@?[A-Za-z0-9_]{3,32}$/;

/** A username as input: an optional leading `@`, 3-32 letters, digits or underscores; lower-cased. */
export const usernameInput = z
  .string()
  // One pattern (not a transform then a check) so the OpenAPI document shows the rule itself.
  .regex(USERNAME_AS_TYPED, 'must be 3-32 letters, digits or underscores')
  .transform(normaliseUsername);

/**
 * The username `name` spells (`@Alice` → `alice`), or null when it breaks the rule. The rule is
 * checked on what was typed, before lower-casing: some non-ASCII letters lower-case to ASCII ones.
 */
export const parseUsername = (name: string): string | null => (USERNAME_AS_TYPED.test(name) ? normaliseUsername(name) : null);
