import { z } from 'zod';
import { usernameInput } from '../users/username.js';
import { connectionSchema, requestSchema } from './connections.presenter.js';

/** The longest request message, in characters (code points, so an emoji counts once). */
export const MESSAGE_MAX = 280;

const message = z
  .string()
  // eslint-disable-next-line @typescript-eslint/no-misused-spread -- MESSAGE_MAX counts code points on purpose (its comment above), not grapheme clusters
  .refine((s) => [...s].length <= MESSAGE_MAX, `must be at most ${MESSAGE_MAX} characters`)
  .nullable()
  .optional()
  .describe(`a note for the recipient, at most ${MESSAGE_MAX} characters`);

export const requestBody = z.strictObject({ username: usernameInput, message });

export const respondBody = z.strictObject({
  username: usernameInput.describe('who sent the request'),
  action: z.enum(['accept', 'reject'], { error: 'must be accept or reject' }),
});

export const usernameParams = z.strictObject({ username: usernameInput });

export const requestCreated = z.object({ request: requestSchema });
export const connectionAnswer = z.object({ connection: connectionSchema });
export const respondAnswer = z.union([connectionAnswer, z.object({ rejected: z.literal(true) })]);
export const pendingAnswer = z.object({ incoming: z.array(requestSchema), outgoing: z.array(requestSchema) });
export const connectionsAnswer = z.object({ connections: z.array(connectionSchema) });
