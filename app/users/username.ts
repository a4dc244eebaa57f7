import { z } from 'zod';

export const USERNAME_RULE = /^[A-Za-z0-9_]{3,32}$/;

/** A username as input: a leading `@` is dropped, the charset checked, the result lower-cased. */
export const usernameInput = z
  .string()
  .max(64)
  .transform((s) => (s.startsWith('@') ? s.slice(1) : s))
  .pipe(z.string().regex(USERNAME_RULE, 'must be 3-32 letters, digits or underscores'))
  .transform((s) => s.toLowerCase());
