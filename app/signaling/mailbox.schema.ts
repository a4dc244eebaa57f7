import { z } from 'zod';
import { EVENT_TYPES } from '../core/serverEvents.js';
import type { SignalType } from '../store/types.js';
import { usernameInput } from '../users/username.js';

/** What a client may send; the dotted server event types (core/serverEvents.ts) are not among them. */
export const SIGNAL_TYPES = ['offer', 'answer', 'ice', 'bye', 'custom'] as const satisfies readonly SignalType[];
export const MAX_WAIT_SECONDS = 30;

/** The body of POST /signaling/send; `payload`'s byte limit (SIGNAL_MAX_BYTES) is checked by the service. */
export const sendBody = z.strictObject({
  to: usernameInput.describe('the recipient, an accepted connection, or your own username (then your other devices); a leading @ is ignored'),
  toDevice: z
    .string()
    .min(1)
    .max(64, 'must be at most 64 characters')
    .optional()
    .describe('only this device (a `deviceId`) of `to`; absent: every device of `to` (never the sending one)'),
  type: z.enum(SIGNAL_TYPES).describe('a signal type; the dotted server event types cannot be sent'),
  payload: z.string().min(1, 'must not be empty').describe("the client's ciphertext, 1 byte to SIGNAL_MAX_BYTES (UTF-8); never parsed"),
  sessionId: z.string().min(1).max(128, 'must be at most 128 characters').nullable().optional(),
  idempotencyKey: z
    .string()
    .min(1)
    .max(64, 'must be at most 64 characters')
    .optional()
    .describe('per sender, remembered for SIGNAL_TTL: a retry with the same key answers the first send and stores nothing'),
});

export const sendResponse = z.object({
  id: z.string(),
  expiresAt: z.string().describe('ISO-8601 UTC; SIGNAL_TTL after sending'),
  devices: z.number().int().describe('how many devices stored the signal (0 when `to` is yourself and you have no other device)'),
  reachable: z.number().int().describe('how many of those devices can get it soon: holding a poll, seen within PRESENCE_WINDOW, or with a push subscription (v1.2)'),
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

/** A signal or a server event, as a poll hands it out. */
export const signalSchema = z.object({
  id: z.string(),
  from: z.string().describe("the sender's username; for an event, the user whose action caused it"),
  fromDevice: z.string().nullable().describe('the sending device (`deviceId`); null for a server event'),
  type: z.enum([...SIGNAL_TYPES, ...EVENT_TYPES]).describe('a signal type, or a dotted server event type'),
  payload: z.string().describe("a signal's ciphertext as sent; an event's payload as JSON text"),
  sessionId: z.string().nullable(),
  createdAt: z.string().describe('ISO-8601 UTC'),
  expiresAt: z.string().describe('ISO-8601 UTC; SIGNAL_TTL after createdAt'),
});
export type SignalJson = z.infer<typeof signalSchema>;

export const pollResponse = z.object({
  signals: z.array(signalSchema),
  cursor: z.string().describe("pass back as `after` on the next poll (or to /signaling/ack) to acknowledge these entries; valid for this device's mailbox only"),
});

export const ackBody = z.strictObject({ upTo: z.string().min(1).max(64).describe('a cursor from a poll') });
