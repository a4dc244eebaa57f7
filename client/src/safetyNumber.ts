// Safety numbers (docs/protocol.md "Safety numbers"): Signal's NumericFingerprint (version 0, 5200
// iterations of SHA-512) with the OpenPGP fingerprint's bytes as the key and the username as the stable
// identifier. No new construction: only the inputs are ours. WebCrypto (crypto.subtle) does the hashing,
// in browsers, React Native with a WebCrypto polyfill, and Node 20+.

/** Signal's NumericFingerprintGenerator: the iteration count of its version-0 fingerprints. */
export const SAFETY_NUMBER_ITERATIONS = 5200;
/** The 2-byte version Signal hashes first (0). */
const FINGERPRINT_VERSION = new Uint8Array([0, 0]);
/** The prefix of the scannable (QR) form. */
export const SCANNABLE_PREFIX = 'signalbox-safety:1';

export interface Party {
  /** Lower-case username. */
  username: string;
  /** Upper-case hex OpenPGP fingerprint (40 or 64 digits). */
  fingerprint: string;
}

/** Computed digits by (username, fingerprint): 5200 digests take a while on a phone, and the inputs rarely change. */
const memo = new Map<string, string>();
const MEMO_MAX = 256;

/** One party's 30 digits: SHA-512 iterated over (version ‖ key ‖ identifier), then (hash ‖ key), six 5-digit chunks. */
export async function partyDigits(party: Party, iterations = SAFETY_NUMBER_ITERATIONS): Promise<string> {
  const memoKey = `${iterations}:${party.username}:${party.fingerprint}`;
  const known = memo.get(memoKey);
  if (known !== undefined) return known;
  const digits = await computeDigits(party, iterations);
  memo.set(memoKey, digits);
  if (memo.size > MEMO_MAX) memo.delete(memo.keys().next().value as string);
  return digits;
}

async function computeDigits(party: Party, iterations: number): Promise<string> {
  const key = hexBytes(party.fingerprint);
  const id = new TextEncoder().encode(party.username);
  let hash: Uint8Array = concat(FINGERPRINT_VERSION, key, id);
  for (let i = 0; i < iterations; i++) hash = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-512', concat(hash, key)));
  let digits = '';
  for (let offset = 0; offset < 30; offset += 5) {
    // 40 bits big-endian (Signal's byteArray5ToLong), mod 100000: exact in a double (< 2^53).
    let chunk = 0;
    for (let i = 0; i < 5; i++) chunk = chunk * 256 + hash[offset + i]!;
    digits += String(chunk % 100000).padStart(5, '0');
  }
  return digits;
}

/** The 60 digits, both parties' 30 in ascending order (so both sides show the same), in 12 groups of 5. */
export async function safetyNumber(a: Party, b: Party): Promise<string> {
  const [da, db] = await Promise.all([partyDigits(a), partyDigits(b)]);
  const all = da <= db ? da + db : db + da;
  return all.match(/\d{5}/g)!.join(' ');
}

/** The QR-friendly form: versioned, both parties' usernames and fingerprints, ordered by username. */
export function scannableCode(a: Party, b: Party): string {
  const [first, second] = a.username <= b.username ? [a, b] : [b, a];
  return `${SCANNABLE_PREFIX}:${first.username}:${first.fingerprint}:${second.username}:${second.fingerprint}`;
}

/**
 * Whether `input` (as a user typed or scanned it) confirms `peer`'s key in the pair (me, peer): the 60
 * digits (spaces and other separators ignored), the peer's fingerprint (hex, spaces and colons
 * ignored, any case), or the scannable form.
 */
export async function confirms(input: string, me: Party, peer: Party): Promise<boolean> {
  const text = input.trim();
  if (text.toLowerCase().startsWith(`${SCANNABLE_PREFIX}:`)) return text.toUpperCase() === scannableCode(me, peer).toUpperCase();
  const hex = text.replace(/[\s:]/g, '').toUpperCase();
  if (/^[0-9A-F]{40}$|^[0-9A-F]{64}$/.test(hex) && hex === peer.fingerprint) return true;
  const digits = text.replace(/\D/g, '');
  return digits.length === 60 && digits === (await safetyNumber(me, peer)).replace(/ /g, '');
}

function hexBytes(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
