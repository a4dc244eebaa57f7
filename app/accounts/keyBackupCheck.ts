/**
 * The one check a key backup gets (docs/api.md, PUT /users/me/key-backup): an ASCII-armored OpenPGP
 * *encrypted* message (RFC 9580 §6 armor, §4.2 packet framing), read strictly and in one linear pass,
 * so a hostile body costs what a normal one does: no decompression, no decryption, no library parse.
 * The server never reads what is inside; the check only refuses what cannot be a backup: a key
 * (public or secret), a signature, an unencrypted message (which would hand the server a private key
 * in clear), or anything else.
 */

/** The first line, after nothing but blank space. */
const ARMOR_BEGIN = /^\s*-----BEGIN PGP MESSAGE-----[ \t]*\r?\n/;
/** The last line, followed by nothing but blank space. */
const ARMOR_END = /\r?\n-----END PGP MESSAGE-----\s*$/;
const BLANK_LINE = /(?:^|\r?\n)[ \t]*\r?\n/;
const HEADER = /^[A-Za-z][A-Za-z0-9-]{0,63}: [^\r\n]{0,1024}$/;
/** Armor headers allowed before the blank line (Version, Comment, ...): a handful is plenty. */
const MAX_HEADERS = 16;
const MAX_HEADER_CHARS = 1100;
/** The optional CRC-24 line that ends the data. */
const CHECKSUM_LINE = /\r?\n=([A-Za-z0-9+/]{4})[ \t]*$/;
/** Base64 characters and line breaks, `=` padding only at the very end. */
const BASE64_BLOCK = /^[A-Za-z0-9+/][A-Za-z0-9+/\r\n]*={0,2}$/;

/** Public-key (1) and symmetric-key (3) encrypted session keys: who or which passphrase can open it. */
const SESSION_KEY_TAGS = new Set([1, 3]);
/** Symmetrically encrypted data (9, legacy), SEIPD (18), AEAD encrypted data (20): the sealed content. */
const ENCRYPTED_DATA_TAGS = new Set([9, 18, 20]);

/** True when `text` is an armored OpenPGP message: session-key packets, then one encrypted-data packet. */
export function isArmoredEncryptedMessage(text: string): boolean {
  const bytes = dearmor(text);
  return bytes !== null && isEncryptedMessage(bytes);
}

/**
 * The binary of a `PGP MESSAGE` armor, its CRC-24 checked when present; null for anything else. The
 * data lines are checked as one block by a few whole-string scans and decoded in one call (Node's
 * base64 decoder skips the line breaks), never split or rebuilt line by line, so thousands of short
 * lines cost about what a few long ones do (bench/keyBackupCheck.ts).
 */
function dearmor(text: string): Buffer | null {
  const begin = ARMOR_BEGIN.exec(text);
  const end = ARMOR_END.exec(text);
  if (!begin || !end || end.index < begin[0].length) return null;
  const inner = text.slice(begin[0].length, end.index);
  // Armor headers, then the blank line that ends them (required even when there are none).
  const blank = BLANK_LINE.exec(inner);
  if (!blank || blank.index > MAX_HEADERS * MAX_HEADER_CHARS) return null;
  const headers = inner.slice(0, blank.index);
  if (headers !== '' && (headers.split('\n').length > MAX_HEADERS || !headers.split(/\r?\n/).every((l) => HEADER.test(l)))) return null;
  let body = inner.slice(blank.index + blank[0].length);
  let checksum: string | null = null;
  const crc = CHECKSUM_LINE.exec(body);
  if (crc) {
    checksum = crc[1]!;
    body = body.slice(0, crc.index);
  }
  // Lines of base64 characters, `=` only at the very end, no blank line, CR only before LF.
  if (!BASE64_BLOCK.test(body) || /\n\r?\n|\r(?!\n)/.test(body)) return null;
  const bytes = Buffer.from(body, 'base64');
  if (checksum !== null && crc24(bytes) !== Buffer.from(checksum, 'base64').readUIntBE(0, 3)) return null;
  return bytes;
}

/** RFC 9580 §6.1.1 CRC-24, a byte at a time from a table (the bit-by-bit loop took ~2.5 ms for 48 KiB). */
const CRC24_TABLE = Array.from({ length: 256 }, (_, byte) => {
  let crc = byte << 16;
  for (let k = 0; k < 8; k++) {
    crc <<= 1;
    if (crc & 0x1000000) crc ^= 0x1864cfb;
  }
  return crc & 0xffffff;
});

function crc24(bytes: Uint8Array): number {
  let crc = 0xb704ce;
  for (const byte of bytes) crc = ((crc << 8) & 0xffffff) ^ CRC24_TABLE[((crc >> 16) ^ byte) & 0xff]!;
  return crc;
}

/** Walks the packet framing: one or more session-key packets, then exactly one encrypted-data packet that ends the data. */
function isEncryptedMessage(bytes: Buffer): boolean {
  let offset = 0;
  let sessionKeys = 0;
  while (offset < bytes.length) {
    const packet = readPacket(bytes, offset);
    if (packet === null) return false;
    if (SESSION_KEY_TAGS.has(packet.tag)) {
      sessionKeys++;
      offset = packet.end;
      continue;
    }
    // The encrypted data must come after the session keys and be the last packet.
    return ENCRYPTED_DATA_TAGS.has(packet.tag) && sessionKeys > 0 && packet.end === bytes.length;
  }
  return false;
}

/** One packet's tag and where it ends (after any partial-length chunks); null when the framing is broken. */
function readPacket(bytes: Buffer, start: number): { tag: number; end: number } | null {
  const first = bytes[start]!;
  if ((first & 0x80) === 0) return null;
  let offset = start + 1;
  if ((first & 0x40) === 0) {
    // Legacy format: the tag in bits 5-2, the length type in bits 1-0.
    const tag = (first >> 2) & 0x0f;
    const lengthType = first & 0x03;
    if (lengthType === 3) return { tag, end: bytes.length }; // indeterminate: to the end of the data
    const size = [1, 2, 4][lengthType]!;
    if (offset + size > bytes.length) return null;
    const length = bytes.readUIntBE(offset, size);
    return offset + size + length <= bytes.length ? { tag, end: offset + size + length } : null;
  }
  const tag = first & 0x3f;
  // OpenPGP format: chunks of partial length (only for data packets), then one definite length.
  for (;;) {
    if (offset >= bytes.length) return null;
    const o1 = bytes[offset]!;
    let length: number;
    let partial = false;
    if (o1 < 192) {
      length = o1;
      offset += 1;
    } else if (o1 < 224) {
      if (offset + 2 > bytes.length) return null;
      length = ((o1 - 192) << 8) + bytes[offset + 1]! + 192;
      offset += 2;
    } else if (o1 === 255) {
      if (offset + 5 > bytes.length) return null;
      length = bytes.readUInt32BE(offset + 1);
      offset += 5;
    } else {
      if (!ENCRYPTED_DATA_TAGS.has(tag)) return null;
      length = 1 << (o1 & 0x1f);
      partial = true;
      offset += 1;
    }
    if (offset + length > bytes.length) return null;
    offset += length;
    if (!partial) return { tag, end: offset };
  }
}
