import { z } from 'zod';
import { connectionRequestedPayload } from '../core/serverEvents.js';
import { pgpSchema, presentPgp } from '../users/users.presenter.js';
import { presenceSchema } from '../presence/presence.schema.js';
import type { ConnectionEntry, RequestEntry } from './connections.service.js';

/** A connection request as both its sender and its recipient see it. */
export const requestSchema = z.object({
  id: z.string(),
  from: z.string().describe('the sender username'),
  to: z.string().describe('the recipient username'),
  message: z.string().nullable(),
  createdAt: z.string().describe('ISO-8601 UTC'),
  expiresAt: z.string().describe('ISO-8601 UTC; CONNECTION_REQUEST_TTL after createdAt'),
});
export type RequestJson = z.infer<typeof requestSchema>;

/** An accepted connection as one of its two members sees it. */
export const connectionSchema = z.object({
  username: z.string().describe('the other member'),
  since: z.string().describe('ISO-8601 UTC; when the request was accepted'),
  presence: presenceSchema,
  pgp: pgpSchema.nullable().describe("the other member's OpenPGP public key, or null when they have none"),
});
export type ConnectionJson = z.infer<typeof connectionSchema>;

/**
 * A pending request; the same JSON for sender and recipient, and the same as its `connection.requested`
 * event's payload (built in one place, core/serverEvents.ts).
 */
export function presentRequest({ record, from, to }: RequestEntry): RequestJson {
  return connectionRequestedPayload(record, from, to);
}

/** An accepted connection seen by one member; `peerUsername` and `presence` are the other member's. */
export function presentConnection({ record, peerUsername, peerPgp, presence }: ConnectionEntry): ConnectionJson {
  return {
    username: peerUsername,
    since: record.acceptedAt!.toISOString(),
    presence,
    pgp: presentPgp(peerPgp),
  };
}
