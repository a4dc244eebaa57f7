/**
 * `npm run bench:minimal-key`: what a client pays per encryption to a key padded with 200 corrupted copies
 * of its self-signature, as uploaded (what the server used to store and serve) and as the server now
 * stores it (app/accounts/pgpMinimise.ts). Each round reads the served armored key and encrypts one short
 * message to it, as the SDK does before a send; 15 rounds each, median, min and max (COPIES=200 ROUNDS=15).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMessage, encrypt, readKey, SignaturePacket } from 'openpgp';
import { minimiseKey } from '../app/accounts/pgpMinimise.js';
import { knob, machineLine, median, runBench } from './measure.js';

const COPIES = knob('COPIES', 200, 20);
const ROUNDS = knob('ROUNDS', 15, 3);
// The fixture's own validity period; any date inside it works.
const AT = new Date('2026-06-01T12:00:00Z');
const FIXTURE = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'test', 'fixtures', 'pgp', 'ed25519.pub.asc');

function corrupted(signature: SignaturePacket): SignaturePacket {
  const body = signature.write();
  body[body.length - 1]! ^= 0x01;
  const copy = new SignaturePacket();
  copy.read(body);
  return copy;
}

async function measure(label: string, armored: string): Promise<void> {
  const ms: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const key = (await readKey({ armoredKey: armored })).toPublic();
    const start = performance.now();
    await encrypt({ message: await createMessage({ text: 'hello' }), encryptionKeys: key, date: AT });
    ms.push(performance.now() - start);
  }
  const f = (n: number) => n.toFixed(1);
  console.log(`${label}: ${armored.length} bytes, per encryption median ${f(median(ms))} ms (min ${f(Math.min(...ms))}, max ${f(Math.max(...ms))})`);
}

async function main(): Promise<void> {
  console.log(machineLine());
  const key = await readKey({ armoredKey: readFileSync(FIXTURE, 'utf8') });
  const [user] = key.users;
  user!.selfCertifications.push(...Array.from({ length: COPIES }, () => corrupted(user!.selfCertifications[0]!)));
  const padded = key.armor();
  const minimal = (await minimiseKey(await readKey({ armoredKey: padded }), AT)).armor();
  await measure(`as uploaded (${COPIES} corrupted self-signature copies)`, padded);
  await measure('as stored now (minimised)', minimal);
}

runBench(main);
