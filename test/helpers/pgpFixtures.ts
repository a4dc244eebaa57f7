import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'pgp');

/** An armored fixture made by GnuPG (see test/fixtures/pgp/README.md). */
export const fixture = (name: string) => readFileSync(join(DIR, name), 'utf8');

export const ED25519 = { file: 'ed25519.pub.asc', fingerprint: 'C9FC3CE0F7808E19E07ECFA5508456A0AB4B443A' };
export const RSA4096 = { file: 'rsa4096.pub.asc', fingerprint: '6FF9DF1D392F68F3EE521B544C8957A8FA352D89' };

/** The base64 lines of an armored block: the key material itself, without headers or checksum. */
export function armorBodyLines(armored: string): string[] {
  const lines = armored.trim().split('\n');
  return lines.slice(lines.indexOf('') + 1, -1).filter((l) => l !== '' && !l.startsWith('='));
}

/** Re-armors binary packets as a public key block (no checksum: RFC 9580 makes it optional). */
export function armorPublic(packets: Buffer): string {
  const b64 = packets.toString('base64').match(/.{1,64}/g)!.join('\n');
  return `-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n${b64}\n-----END PGP PUBLIC KEY BLOCK-----\n`;
}

/** The ed25519 fixture with one letter of its user ID changed, so its only self-signature no longer verifies. */
export function tamperedSelfSignature(): string {
  const packets = Buffer.from(armorBodyLines(fixture(ED25519.file)).join(''), 'base64');
  const at = packets.indexOf('Alice Fixture');
  if (at < 0) throw new Error('fixture has no Alice user ID');
  packets[at] = 'M'.charCodeAt(0);
  return armorPublic(packets);
}

/** The secret-key fixture relabelled as a public key block, so only parsing can tell what it is. */
export function secretUnderPublicArmor(): string {
  return fixture('secret.sec.asc').replaceAll('PRIVATE KEY BLOCK', 'PUBLIC KEY BLOCK');
}

/** The ed25519 fixture padded past 64 KiB with an armor comment header: a real key, only too big. */
export function oversizedBlock(): string {
  return fixture(ED25519.file).replace('-----\n', `-----\nComment: ${'x'.repeat(64 * 1024)}\n`);
}
