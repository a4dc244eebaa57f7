import { createHash, randomBytes } from 'node:crypto';

/** An opaque, unguessable 128-bit identifier (22 URL-safe characters). */
export const newId = (): string => randomBytes(16).toString('base64url');

/**
 * base64url's 64 characters in byte order, so that encoding with it keeps the order of the bytes: a
 * string comparison (SQLite's BINARY collation, PostgreSQL's "C", JavaScript's `<`) orders the ids as
 * the numbers they encode.
 */
const SORTABLE_DIGITS = '-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz';

/**
 * An identifier for a mailbox entry (a signal or a server event): 128 bits, 22 characters of the
 * base64url alphabet like `newId`'s, but the first 48 bits are the creation time in milliseconds and
 * the other 80 random, and the characters are ordered so that later ids sort after earlier ones. Each
 * send inserts its id into the body table and the copies' id index: in time order those inserts land on
 * the last page of each index instead of a random page each, so a group commit writes a few shared
 * pages, not one page per send (docs/architecture.md, "Signal mailboxes"). The time it reveals is the entry's
 * `createdAt`, which its recipients get anyway; 80 random bits keep it unguessable within a millisecond.
 */
export const newTimeOrderedId = (nowMs: number): string => {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(nowMs, 0, 6);
  let id = '';
  let pending = 0;
  let pendingBits = 0;
  for (const byte of bytes) {
    pending = (pending << 8) | byte;
    pendingBits += 8;
    while (pendingBits >= 6) {
      pendingBits -= 6;
      id += SORTABLE_DIGITS.charAt((pending >> pendingBits) & 63);
    }
    pending &= (1 << pendingBits) - 1;
  }
  // 128 bits are 21 characters and 2 bits: the last character carries them in its high bits, as base64url's does.
  return id + SORTABLE_DIGITS.charAt((pending << (6 - pendingBits)) & 63);
};

/** A 256-bit secret for bearer use (refresh tokens). */
export const newSecret = (): string => randomBytes(32).toString('base64url');

/**
 * SHA-256 of a high-entropy secret. A fast hash is right here: the input is 256 random bits, so a
 * stolen hash cannot be brute-forced, unlike a password.
 */
export const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('base64url');
