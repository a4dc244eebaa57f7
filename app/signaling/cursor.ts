import { timingSafeEqual } from 'node:crypto';
import { validationFailed } from '../core/errors.js';
import type { FieldCipher } from '../lib/fieldCipher.js';

// 16 base64url characters of HMAC (96 bits): unguessable, and short enough for a query string.
const MAC_LENGTH = 16;
/** Devices whose last cursor is remembered; past it the memo starts over. */
const LAST_CURSORS_MAX = 50_000;
const CURSOR = /^(\d{1,15})\.([A-Za-z0-9_-]{16})$/;

const badCursor = (field: string) => validationFailed([{ field, message: 'is not a cursor this server gave you' }]);

/**
 * Cursors are `<seq>.<mac>`: the position in one device's mailbox, bound to that device (its session
 * id) by a keyed MAC, so a cursor of another device, even one of the same user, or a made-up one is
 * refused instead of acknowledging entries in a mailbox it was not handed out for. Cursors from before
 * v1.1 were bound to the user and are refused the same way; the client then polls without `after`.
 */
export class Cursors {
  /**
   * The last cursor made for each device: an empty poll answers the same cursor as the one before, and
   * its MAC was a measurable share of the empty poll (bench/README.md). Bounded; forgetting only costs an HMAC.
   */
  private readonly last = new Map<string, { seq: number; cursor: string }>();

  constructor(private readonly cipher: FieldCipher) {}

  encode(deviceId: string, seq: number): string {
    const known = this.last.get(deviceId);
    if (known && known.seq === seq) return known.cursor;
    const cursor = `${seq}.${this.mac(deviceId, seq)}`;
    if (this.last.size >= LAST_CURSORS_MAX) this.last.clear();
    this.last.set(deviceId, { seq, cursor });
    return cursor;
  }

  /** The sequence number in `cursor`, or 400 validation_failed naming `field`. */
  decode(deviceId: string, cursor: string, field: string): number {
    const match = CURSOR.exec(cursor);
    if (!match) throw badCursor(field);
    const seq = Number(match[1]);
    const given = Buffer.from(match[2]!);
    const expected = Buffer.from(this.mac(deviceId, seq));
    if (!timingSafeEqual(given, expected)) throw badCursor(field);
    return seq;
  }

  // Its own context, not v1.0's `signal-cursor` over `<userId>:<seq>`: a user id can never pass for a device.
  private mac(deviceId: string, seq: number): string {
    return this.cipher.blindIndex(`${deviceId}:${seq}`, 'device-mailbox-cursor').slice(0, MAC_LENGTH);
  }
}
