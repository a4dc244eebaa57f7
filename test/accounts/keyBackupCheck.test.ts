import { describe, expect, it } from '@jest/globals';
import { isArmoredEncryptedMessage } from '../../app/accounts/keyBackupCheck.js';

// The framing rules of the key-backup check on hand-made packets (RFC 9580 §4.2): what openpgp.js
// writes is covered through HTTP in keyBackup.test.ts; these are the shapes a hostile client could send.

/** `bytes` in a PGP MESSAGE armor, 64 base64 characters a line, no checksum (it is optional). */
const armor = (bytes: number[]) =>
  `-----BEGIN PGP MESSAGE-----\n\n${(
    Buffer.from(bytes)
      .toString('base64')
      .match(/.{1,64}/g) ?? []
  ).join('\n')}\n-----END PGP MESSAGE-----\n`;
/** A packet in the OpenPGP (new) format with a one-octet length. */
const packet = (tag: number, body: number[]) => [0xc0 | tag, body.length, ...body];
const SKESK = packet(3, [4, 9, 3, 8]);
const PKESK = packet(1, [3, 1, 2, 3, 4, 5, 6, 7, 8, 18]);
const SEIPD = packet(18, [1, 0xaa, 0xbb, 0xcc]);

describe('isArmoredEncryptedMessage', () => {
  it.each([
    ['a passphrase session key, then SEIPD', [...SKESK, ...SEIPD]],
    ['a public-key session key, then SEIPD', [...PKESK, ...SEIPD]],
    ['several session keys, then SEIPD', [...PKESK, ...SKESK, ...SKESK, ...SEIPD]],
    ['SEIPD in partial-length chunks ending with a definite length', [...SKESK, 0xd2, 0xe1, 1, 2, 0x01, 9]],
    ['legacy-format packets: a session key and symmetrically encrypted data', [0x8c, 2, 4, 9, 0xa4, 2, 7, 7]],
    ['legacy encrypted data of indeterminate length, to the end', [...SKESK, 0xa7, 1, 2, 3, 4]],
  ])('accepts %s', (_label, bytes) => {
    expect(isArmoredEncryptedMessage(armor(bytes))).toBe(true);
  });

  it.each([
    ['encrypted data without a session key', [...SEIPD]],
    ['session keys only', [...SKESK, ...PKESK]],
    ['a packet after the encrypted data', [...SKESK, ...SEIPD, ...SKESK]],
    ['a literal data packet instead of encrypted data', [...SKESK, ...packet(11, [0x62, 0, 0, 0, 0, 0, 0x41])]],
    ['a public key packet', [...packet(6, [4, 0, 0, 0, 0, 22])]],
    ['a length past the end of the data', [...SKESK, 0xd2, 50, 1, 2]],
    ['a partial length on a session-key packet', [0xc3, 0xe1, 4, 9, 0x01, 3, ...SEIPD]],
    ['partial chunks that never end', [...SKESK, 0xd2, 0xe0, 1, 0xe0, 2]],
    ['a first octet without the packet bit', [0x43, 1, 0]],
    ['a five-octet length cut short', [...SKESK, 0xd2, 0xff, 0, 0]],
  ])('refuses %s', (_label, bytes) => {
    expect(isArmoredEncryptedMessage(armor(bytes))).toBe(false);
  });

  it('accepts armor headers and CRLF line ends, and refuses a malformed header', () => {
    const body = armor([...SKESK, ...SEIPD]);
    expect(isArmoredEncryptedMessage(body.replace('-----\n\n', '-----\nComment: a backup\n\n').replaceAll('\n', '\r\n'))).toBe(true);
    expect(isArmoredEncryptedMessage(body.replace('-----\n\n', '-----\nnot a header\n\n'))).toBe(false);
  });

  it('refuses base64 that is not (a stray character, padding in the middle)', () => {
    const body = armor([...SKESK, ...SEIPD]);
    const lines = body.split('\n');
    expect(isArmoredEncryptedMessage(lines.map((l, i) => (i === 2 ? `${l.slice(0, 3)}*${l.slice(4)}` : l)).join('\n'))).toBe(false);
    expect(isArmoredEncryptedMessage(lines.map((l, i) => (i === 2 ? `${l}==\nAAAA` : l)).join('\n'))).toBe(false);
  });
});
