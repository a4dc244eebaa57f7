import { z } from 'zod';
import { presenceSchema, type Presence } from '../presence/presence.schema.js';
import type { PgpKeyRecord, UserRecord, UserSearchHit } from '../store/types.js';

/** An uploaded OpenPGP public key as every viewer sees it. */
export const pgpSchema = z.object({
  fingerprint: z.string().describe('40 (v4) or 64 (v6) upper-case hex digits'),
  algorithm: z.string().describe('the primary key algorithm, e.g. ed25519 or rsa4096'),
  createdAt: z.string().describe('ISO-8601 UTC: when the key was made'),
  expiresAt: z.string().nullable().describe('ISO-8601 UTC, or null when the key does not expire'),
  publicKey: z.string().describe('ASCII-armored, re-armored by the server from the parsed key'),
});
export type Pgp = z.infer<typeof pgpSchema>;

/** The one place a stored key becomes JSON. */
export function presentPgp(key: PgpKeyRecord | null): Pgp | null {
  if (!key) return null;
  return {
    fingerprint: key.fingerprint,
    algorithm: key.algorithm,
    createdAt: key.createdAt.toISOString(),
    expiresAt: key.expiresAt ? key.expiresAt.toISOString() : null,
    publicKey: key.publicKey,
  };
}

/** Anyone's profile as another signed-in user sees it (GET /users/{username}). */
export const publicUserSchema = z.object({
  username: z.string(),
  createdAt: z.string().describe('ISO-8601 UTC'),
  pgp: pgpSchema.nullable(),
  presence: presenceSchema.optional().describe('only for oneself and accepted connections; absent otherwise'),
});
export type PublicUser = z.infer<typeof publicUserSchema>;

/** No e-mail, birthday or id; `presence` only when the caller was found entitled to it. */
export function presentPublicUser(user: UserRecord, presence?: Presence): PublicUser {
  return {
    username: user.username,
    createdAt: user.createdAt.toISOString(),
    pgp: presentPgp(user.pgp),
    ...(presence ? { presence: { online: presence.online, lastSeen: presence.lastSeen } } : {}),
  };
}

export const searchResultSchema = z.object({
  username: z.string(),
  fingerprint: z.string().nullable().describe("the user's OpenPGP key fingerprint, or null"),
});
export type SearchResult = z.infer<typeof searchResultSchema>;

/** A search hit: the name and the key fingerprint, nothing else. */
export function presentSearchResult(hit: UserSearchHit): SearchResult {
  return { username: hit.username, fingerprint: hit.fingerprint };
}
