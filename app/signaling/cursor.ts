import { timingSafeEqual } from 'node:crypto';
import { validationFailed } from '../core/errors.js';
import type { FieldCipher } from '../lib/fieldCipher.js';

// 16 base64url characters of HMAC (96 bits): unguessable, and short enough for a query string.
const MAC_LENGTH = 16;
const CURSOR = /^(\d{1,15})\.([A-Za-z0-9_-]{16})$/;

const badCursor = (field: string) => validationFailed([{ field, message: 'is not a cursor this server gave you' }]);

/**
 * Cursors are `<seq>.<mac>`: the mailbox position, bound to its owner by a keyed MAC, so a cursor
 * from another user (or a made-up one) is refused instead of acknowledging someone's signals.
 */
export class Cursors {
  constructor(private readonly cipher: FieldCipher) {}

  encode(userId: string, seq: number): string {
    return `${seq}.${this.mac(userId, seq)}`;
  }

  /** The sequence number in `cursor`, or 400 validation_failed naming `field`. */
  decode(userId: string, cursor: string, field: string): number {
    const match = CURSOR.exec(cursor);
    if (!match) throw badCursor(field);
    const seq = Number(match[1]);
    const given = Buffer.from(match[2]!);
    const expected = Buffer.from(this.mac(userId, seq));
    if (!timingSafeEqual(given, expected)) throw badCursor(field);
    return seq;
  }

  private mac(userId: string, seq: number): string {
    return this.cipher.blindIndex(`${userId}:${seq}`, 'signal-cursor').slice(0, MAC_LENGTH);
  }
}
