import { z } from 'zod';
import { usernameInput } from '../users/username.js';

export const SIGNAL_TYPES = ['offer', 'answer', 'ice', 'bye', 'custom'] as const;
export const MAX_WAIT_SECONDS = 30;

/** The body of POST /signaling/send; `payload`'s byte limit (SIGNAL_MAX_BYTES) is checked by the service. */
export const sendBody = z.strictObject({
  to: usernameInput.describe('the recipient, an accepted connection; a leading @ is ignored'),
  type: z.enum(SIGNAL_TYPES),
  payload: z.string().min(1, 'must not be empty').describe("the client's ciphertext, 1 byte to SIGNAL_MAX_BYTES (UTF-8); never parsed"),
  sessionId: z.string().min(1).max(128, 'must be at most 128 characters').nullable().optional(),
});

export const sendResponse = z.object({
  id: z.string(),
  expiresAt: z.string().describe('ISO-8601 UTC; SIGNAL_TTL after sending'),
});

export const pollQuery = z.strictObject({
  after: z.string().max(64).optional().describe('the cursor of the previous poll: acknowledges everything up to it'),
  wait: z
    .string()
    .regex(/^\d{1,2}$/, `must be a whole number of seconds from 0 to ${MAX_WAIT_SECONDS}`)
    .transform(Number)
    .pipe(z.number().int().max(MAX_WAIT_SECONDS, `must be a whole number of seconds from 0 to ${MAX_WAIT_SECONDS}`))
    .default(0)
    .describe(`0-${MAX_WAIT_SECONDS} seconds to hold the request while the mailbox is empty`),
});

export const signalSchema = z.object({
  id: z.string(),
  from: z.string().describe("the sender's username"),
  type: z.enum(SIGNAL_TYPES),
  payload: z.string(),
  sessionId: z.string().nullable(),
  createdAt: z.string().describe('ISO-8601 UTC'),
});
export type SignalJson = z.infer<typeof signalSchema>;

export const pollResponse = z.object({
  signals: z.array(signalSchema),
  cursor: z.string().describe('pass back as `after` on the next poll (or to /signaling/ack) to acknowledge these signals'),
});

export const ackBody = z.strictObject({ upTo: z.string().min(1).max(64).describe('a cursor from a poll') });
