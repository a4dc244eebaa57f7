import { SignalboxError } from './errors.js';

// The device-link code (docs/protocol.md "Device linking"): what the user carries from the new device to
// one that has the key. It commits to the new device's one-time public key, so whoever relays the link
// request (the server) cannot put its own key in its place: 80 bits of SHA-256 of the key's
// fingerprint, far beyond what can be searched for a matching key within the link's 10 minutes.

/** RFC 4648 base32: upper case and digits 2-7 only, so 0/1/8 can be read back as O/I/B. */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** 10 bytes of the digest: 80 bits, 16 base32 characters, typed as 4 groups of 4. */
const CODE_BYTES = 10;
const CODE_CHARS = 16;
const GROUP = 4;
/** The QR payload: this prefix and the 16 characters, so a scanner can tell a Signalbox link code. */
export const LINK_QR_PREFIX = 'signalbox-link:1:';

/** The fingerprint's bytes (upper- or lower-case hex, 40 or 64 digits). */
function hexBytes(hex: string): Uint8Array<ArrayBuffer> {
  if (!/^([0-9a-fA-F]{2})+$/.test(hex)) throw new SignalboxError('validation_failed', 'A fingerprint is hex.');
  return Uint8Array.from(hex.match(/../g)!, (pair) => parseInt(pair, 16));
}

function base32(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31]!;
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31]!;
  return out;
}

/** The 16 code characters for a one-time key's fingerprint: base32(SHA-256(fingerprint bytes)[0..10]). */
export async function linkDigest(fingerprint: string): Promise<string> {
  const digest = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', hexBytes(fingerprint)));
  return base32(digest.subarray(0, CODE_BYTES));
}

/** The code as shown to people: `ABCD-EFGH-IJKL-MNOP`. */
export const formatCode = (digest: string): string => digest.match(new RegExp(`.{1,${GROUP}}`, 'g'))!.join('-');

/**
 * The 16 characters of a typed or scanned code: the QR prefix, dashes, spaces and case are ignored,
 * and 0, 1 and 8 (not in the alphabet) read as O, I and B. `validation_failed` when it is not a code.
 */
export function parseCode(input: string): string {
  if (typeof input !== 'string') throw new SignalboxError('validation_failed', 'The link code must be a string.');
  let text = input.trim();
  if (text.toLowerCase().startsWith(LINK_QR_PREFIX)) text = text.slice(LINK_QR_PREFIX.length);
  const chars = text.replace(/[\s-]/g, '').toUpperCase().replace(/0/g, 'O').replace(/1/g, 'I').replace(/8/g, 'B');
  // eslint-disable-next-line @typescript-eslint/no-misused-spread -- each character is looked up in an ASCII alphabet: however a non-ASCII one splits, it fails
  if (chars.length !== CODE_CHARS || [...chars].some((c) => !ALPHABET.includes(c))) {
    throw new SignalboxError('validation_failed', `A link code is ${CODE_CHARS} letters and digits 2-7, e.g. ABCD-EFGH-IJKL-MNOP.`);
  }
  return chars;
}
