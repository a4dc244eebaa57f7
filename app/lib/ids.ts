import { createHash, randomBytes } from 'node:crypto';

/** An opaque, unguessable 128-bit identifier (22 URL-safe characters). */
export const newId = (): string => randomBytes(16).toString('base64url');

/** A 256-bit secret for bearer use (refresh tokens). */
export const newSecret = (): string => randomBytes(32).toString('base64url');

/**
 * SHA-256 of a high-entropy secret. A fast hash is right here: the input is 256 random bits, so a
 * stolen hash cannot be brute-forced, unlike a password.
 */
export const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('base64url');
