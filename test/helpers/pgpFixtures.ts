import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'pgp');

/** An armored fixture made by GnuPG (see test/fixtures/pgp/README.md). */
export const fixture = (name: string) => readFileSync(join(DIR, name), 'utf8');

/** Alice: an ed25519 primary key with a cv25519 encryption subkey, GnuPG's usual shape. */
export const ED25519 = { file: 'ed25519.pub.asc', fingerprint: '5D890BF62F00FF614707006447CEA4A933CA0FB5' };
/** Bob: an RSA 4096 primary key with an RSA 4096 encryption subkey. */
export const RSA4096 = { file: 'rsa4096.pub.asc', fingerprint: '89A0633F0DEF12194DE9BACC900BCBFE4D6C1A94' };
/** Carol: ECDSA on NIST P-256 with an ECDH P-256 encryption subkey. */
export const NISTP256 = { file: 'nistp256.pub.asc', fingerprint: '4BDBEA665E4FF767808ECDE72BAB53900A8A47AE' };

/** The base64 lines of an armored block: the key material itself, without headers or checksum. */
export function armorBodyLines(armored: string): string[] {
  const lines = armored.trim().split('\n');
  return lines.slice(lines.indexOf('') + 1, -1).filter((l) => l !== '' && !l.startsWith('='));
}

/** Re-armors binary packets as a public key block (no checksum: RFC 9580 makes it optional). */
export function armorPublic(packets: Buffer): string {
  const b64 = packets
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n');
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
