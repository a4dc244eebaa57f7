import { z } from 'zod';

export const USERNAME_RULE = /^[A-Za-z0-9_]{3,32}$/;

/** A username as input: an optional leading `@`, 3-32 letters, digits or underscores; lower-cased. */
export const usernameInput = z
  .string()
  // One pattern (not a transform then a check) so the OpenAPI document shows the rule itself.
  .regex(/^@?[A-Za-z0-9_]{3,32}$/, 'must be 3-32 letters, digits or underscores')
  .transform((s) => (s.startsWith('@') ? s.slice(1) : s).toLowerCase());
