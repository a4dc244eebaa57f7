import { z } from 'zod';
import { normaliseUsername } from '../core/personalData.js';
import { publicUserSchema, searchResultSchema } from './users.presenter.js';
import { usernameInput } from './username.js';

export const SEARCH_LIMIT_DEFAULT = 20;
export const SEARCH_LIMIT_MAX = 50;

const limitMessage = `must be a whole number from 1 to ${SEARCH_LIMIT_MAX}`;

export const searchQuery = z.strictObject({
  // 32 is the longest username: a longer prefix can match nobody, so it is a mistake worth saying.
  q: z
    .string()
    .regex(/^@?[A-Za-z0-9_]{1,32}$/, 'must be 1-32 letters, digits or underscores, optionally after @')
    .transform(normaliseUsername)
    .describe('the start of a username, e.g. @ali; matched case-insensitively, `_` literally'),
  limit: z
    .string()
    .regex(/^\d{1,3}$/, limitMessage)
    .transform(Number)
    .pipe(z.number().int().min(1, limitMessage).max(SEARCH_LIMIT_MAX, limitMessage))
    .default(SEARCH_LIMIT_DEFAULT)
    .describe(`1-${SEARCH_LIMIT_MAX}, default ${SEARCH_LIMIT_DEFAULT}`),
});

export const searchResponse = z.object({ results: z.array(searchResultSchema) });

export const profileParams = z.strictObject({ username: usernameInput });

export const profileResponse = publicUserSchema;
