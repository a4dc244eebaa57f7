import { z } from 'zod';

/** `{online, lastSeen}` as docs/api.md defines it. */
export const presenceSchema = z.object({
  online: z.boolean().describe('active within PRESENCE_WINDOW seconds and not signed out since'),
  lastSeen: z.string().nullable().describe('ISO-8601 UTC of the last authenticated request; null if never seen'),
});
export type Presence = z.infer<typeof presenceSchema>;
