/**
 * What the key-backup shape check (app/accounts/keyBackupCheck.ts) costs on a normal backup near the
 * 64 KiB limit and on hostile bodies of the same size built to make a parser work: the most partial-length
 * chunks, thousands of tiny session-key packets, thousands of four-character lines. In process, one core.
 *
 *   npm run bench:backup        (ROUNDS=500 by default)
 */
import * as openpgp from 'openpgp';
import { isArmoredEncryptedMessage } from '../app/accounts/keyBackupCheck.js';
import { knob, machineLine, runBench } from './measure.js';

const ROUNDS = knob('ROUNDS', 500, 20);
/** Binary size whose armor is just under 64 KiB. */
const BINARY = 47 * 1024;

const armor = (bytes: number[], perLine = 64) =>
  `-----BEGIN PGP MESSAGE-----\n\n${(
    Buffer.from(bytes)
      .toString('base64')
      .match(new RegExp(`.{1,${perLine}}`, 'g')) ?? []
  ).join('\n')}\n-----END PGP MESSAGE-----\n`;

/** A session-key packet, then SEIPD in one-byte partial chunks, `size` bytes in all: valid framing, the most of it. */
function partialChunks(size: number): number[] {
  const bytes = [0xc3, 4, 4, 9, 3, 8, 0xd2];
  while (bytes.length < size - 2) bytes.push(0xe0, 0);
  bytes.push(1, 0);
  return bytes;
}

async function main(): Promise<void> {
  const normal = await openpgp.encrypt({
    message: await openpgp.createMessage({ binary: new Uint8Array(BINARY - 200).fill(7) }),
    passwords: ['a passphrase'],
    format: 'armored',
    config: { preferredCompressionAlgorithm: openpgp.enums.compression.uncompressed },
  });
  // Thousands of empty session-key packets and no encrypted data.
  const manyPackets: number[] = [];
  while (manyPackets.length < BINARY) manyPackets.push(0xc3, 0);
  const cases: Array<[string, string]> = [
    ['normal: passphrase-encrypted message (openpgp.js)', normal],
    ['hostile: one-byte partial-length chunks', armor(partialChunks(BINARY))],
    ['hostile: thousands of session-key packets', armor(manyPackets)],
    // Five characters a line (four and the break) for three bytes: the most lines under 64 KiB.
    ['hostile: the chunks again, four characters a line', armor(partialChunks(38 * 1024), 4)],
  ];
  console.log(machineLine());
  console.log(`| Case | Armored size | Accepted | Mean per check (${ROUNDS} rounds) |`);
  console.log('|---|---|---|---|');
  for (const [label, text] of cases) {
    for (let i = 0; i < 50; i++) isArmoredEncryptedMessage(text); // warm-up
    let accepted = false;
    const start = process.hrtime.bigint();
    for (let i = 0; i < ROUNDS; i++) accepted = isArmoredEncryptedMessage(text);
    const micros = Number(process.hrtime.bigint() - start) / ROUNDS / 1000;
    console.log(`| ${label} | ${(text.length / 1024).toFixed(1)} KiB | ${accepted} | ${micros.toFixed(0)} µs |`);
  }
}

runBench(main);
