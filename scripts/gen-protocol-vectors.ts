/**
 * Writes docs/protocol-vectors/ (`npm run vectors`): fixed keys, then every vector of
 * scripts/protocol-vectors/spec.ts with its OpenPGP messages sealed once. Run it again after the protocol
 * version (client/src/protocolVersion.ts) or a vector changes; test/sdk/protocolVectors.test.ts fails
 * until the committed files agree with the spec again.
 *
 * Stable: the keys in keys.json are kept (`--new-keys` makes new ones), and a message whose plaintext,
 * sealing and keys did not change is kept as committed, so a run that changes nothing leaves no diff.
 * Before writing, each vector is run through the SDK (check.ts) and must give its stated outcome.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createMessage, encrypt, readKey } from 'openpgp';
import { encryptWithPassphrase, generateDeviceKey, readPrivate, readPublicKey, seal } from '../client/src/crypto.js';
import { callMessageOf, linkCodeOf, openBackup, openVector, parsedCode, safetyNumberOf } from './protocol-vectors/check.js';
import {
  BACKUP_PASSPHRASE,
  KEY_NAMES,
  LINK_CODE,
  NOW,
  PROTOCOL_VERSION,
  SIGNAL_TTL_MS,
  CLOCK_SKEW_MS,
  WRONG_PASSPHRASE,
  callSteps,
  envelopeCases,
  safetyNumberCases,
  type KeyName,
  type Sealing,
  type VectorKeys,
} from './protocol-vectors/spec.js';

export const VECTOR_FILES = ['keys.json', 'envelopes.json', 'calls.json', 'safety-numbers.json', 'link-code.json', 'key-backup.json'] as const;

function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === 'signalbox') return dir;
    dir = dirname(dir);
  }
  throw new Error('gen-protocol-vectors: cannot find the project root');
}

function readJson(path: string): unknown {
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : null;
}

async function makeKeys(): Promise<VectorKeys> {
  const keys: Partial<VectorKeys> = {};
  for (const name of KEY_NAMES) {
    const username = name === 'alice-changed' ? 'alice' : name;
    const k = await generateDeviceKey(username);
    keys[name] = { username, fingerprint: k.fingerprint, publicKey: k.publicKey, privateKey: k.privateKey };
  }
  return keys as VectorKeys;
}

/** The payload for `plaintext` sealed as `sealing` says. */
async function sealAs(keys: VectorKeys, plaintext: string, sealing: Sealing): Promise<string> {
  if (sealing.form === 'plain') return plaintext;
  const recipient = await readPublicKey(keys[sealing.encryptedTo as KeyName].publicKey);
  if (sealing.form === 'unsigned') {
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- readKey is typed as the abstract Key, but every key it makes is a PublicKey (a PrivateKey extends it)
    return (await encrypt({ message: await createMessage({ text: plaintext }), encryptionKeys: recipient, format: 'armored' })) as string;
  }
  return seal(plaintext, recipient, await readPrivate(keys[sealing.signedBy as KeyName].privateKey));
}

type Sealed = { plaintext: string; sealing: Sealing; signal: { payload?: string } };

/** The committed payload when nothing it depends on changed, else a new one. */
async function payloadFor(keys: VectorKeys, keysKept: boolean, item: Sealed, previous: Sealed | undefined): Promise<string> {
  const same = keysKept && previous && previous.plaintext === item.plaintext && JSON.stringify(previous.sealing) === JSON.stringify(item.sealing);
  if (same && previous.signal.payload) return previous.signal.payload;
  return sealAs(keys, item.plaintext, item.sealing);
}

function fail(what: string, expected: unknown, got: unknown): never {
  throw new Error(`gen-protocol-vectors: ${what}: expected ${JSON.stringify(expected)}, the SDK gives ${JSON.stringify(got)}`);
}

export async function generate(dir: string, options: { newKeys?: boolean } = {}): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const header = { protocolVersion: PROTOCOL_VERSION };
  const previousKeys = options.newKeys ? null : (readJson(join(dir, 'keys.json')) as { keys: VectorKeys } | null);
  const keysKept = previousKeys !== null;
  const keys = previousKeys?.keys ?? (await makeKeys());
  for (const name of KEY_NAMES) await readKey({ armoredKey: keys[name].publicKey }); // a hand-edited file fails here

  const previousEnvelopes = new Map(((readJson(join(dir, 'envelopes.json')) as { cases: Array<Sealed & { name: string }> } | null)?.cases ?? []).map((c) => [c.name, c]));
  const cases = [];
  for (const c of envelopeCases()) {
    const payload = await payloadFor(keys, keysKept, c, previousEnvelopes.get(c.name));
    const vector = { ...c, signal: { ...c.signal, payload } };
    const opened = await openVector(keys, { ...vector, now: NOW });
    if (opened.outcome !== c.expect) fail(c.name, c.expect, opened.outcome);
    if (c.fields && JSON.stringify(opened.fields) !== JSON.stringify(c.fields)) fail(`${c.name} fields`, c.fields, opened.fields);
    if (c.expect === 'accept' && JSON.stringify(opened.envelope) !== c.plaintext) fail(`${c.name} envelope`, c.plaintext, opened.envelope);
    cases.push(vector);
  }

  const previousSteps = new Map(((readJson(join(dir, 'calls.json')) as { steps: Array<Sealed & { step: string }> } | null)?.steps ?? []).map((s) => [s.step, s]));
  const steps = [];
  for (const s of callSteps()) {
    const payload = await payloadFor(keys, keysKept, s, previousSteps.get(s.step));
    const vector = { ...s, signal: { ...s.signal, payload } };
    const senderKey: KeyName = s.send.from === 'alice' ? 'alice' : 'bob';
    const opened = await openVector(keys, {
      receiver: s.receiver,
      sender: { pinnedKey: senderKey, servedKey: senderKey },
      seenNonces: [],
      signal: vector.signal,
      now: s.now,
    });
    if (opened.outcome !== 'accept' || !opened.envelope) fail(s.step, 'accept', opened.outcome);
    const decoded = callMessageOf(opened.envelope);
    if (JSON.stringify(decoded && { p: s.message.p, ...decoded }) !== JSON.stringify(s.message)) fail(`${s.step} message`, s.message, decoded);
    steps.push(vector);
  }

  const safety = [];
  for (const c of safetyNumberCases(keys)) {
    const got = await safetyNumberOf(c.a, c.b);
    if (c.safetyNumber !== null && got !== c.safetyNumber) fail(c.name, c.safetyNumber, got);
    safety.push({ ...c, safetyNumber: got });
  }

  const code = await linkCodeOf(LINK_CODE.fingerprint);
  if (code !== LINK_CODE.code) fail('link code', LINK_CODE.code, code);
  for (const input of LINK_CODE.sameCode) if (parsedCode(input) !== LINK_CODE.code) fail(`link code input ${input}`, LINK_CODE.code, parsedCode(input));
  for (const input of LINK_CODE.notACode) if (parsedCode(input) !== null) fail(`link code input ${input}`, null, parsedCode(input));

  const previousBackup = keysKept ? (readJson(join(dir, 'key-backup.json')) as { backup: string } | null) : null;
  const content = { v: 1, kind: 'signalbox.key-backup', username: 'alice', fingerprint: keys.alice.fingerprint, privateKey: keys.alice.privateKey };
  const backup = previousBackup?.backup ?? (await encryptWithPassphrase(JSON.stringify(content), BACKUP_PASSPHRASE));
  const opened = await openBackup(backup, BACKUP_PASSPHRASE);
  if (!('fingerprint' in opened) || opened.fingerprint !== keys.alice.fingerprint) fail('key backup', keys.alice.fingerprint, opened);
  const wrong = await openBackup(backup, WRONG_PASSPHRASE);
  if (!('error' in wrong) || wrong.error !== 'bad_passphrase') fail('key backup, wrong passphrase', 'bad_passphrase', wrong);

  const write = (file: (typeof VECTOR_FILES)[number], body: Record<string, unknown>) =>
    writeFileSync(join(dir, file), `${JSON.stringify({ ...header, ...body }, null, 2)}\n`);
  write('keys.json', {
    description: 'Test keys for the vectors (never use them for anything else). alice-changed is a second key of alice: her key after a change.',
    keys,
  });
  write('envelopes.json', {
    description:
      'docs/protocol.md §2. Each case: the outer signal as GET /signaling/poll delivers it, the receiving device, the sender key it pinned and the one the server serves, nonces already in its log; ' +
      'the receiver opens signal.payload with its key (keys.json) at `now` and must give `expect` (accept: hand the envelope on; otherwise drop and report that code). ' +
      '`plaintext` is the signed text inside the payload; `sealing` says how the payload was made from it.',
    now: NOW,
    signalTtlMs: SIGNAL_TTL_MS,
    clockSkewMs: CLOCK_SKEW_MS,
    cases,
  });
  write('calls.json', {
    description:
      'docs/protocol.md §7: one call, alice (dev-a1) calls bob (dev-b1, dev-b2); dev-b1 answers, dev-b2 stops ringing; alice hangs up. ' +
      "Each step is one POST /signaling/send (`send`) and the signal one receiving device polls (`signal`); that device, pinning the sender's key, accepts it at `now` and reads `message` from the envelope body.",
    sessionId: steps[0]?.send.sessionId,
    steps,
  });
  write('safety-numbers.json', {
    description: 'docs/protocol.md §4: the safety number of each pair (60 digits, 12 groups of 5, the same on both sides).',
    cases: safety,
  });
  write('link-code.json', {
    description: 'docs/protocol.md §6: the code for a one-time key fingerprint; every `sameCode` input must read as `code`, every `notACode` input must be refused.',
    ...LINK_CODE,
  });
  write('key-backup.json', {
    description:
      "docs/protocol.md §5: alice's key (keys.json) backed up with `passphrase`; opening it gives `username` and `fingerprint`; `wrongPassphrase` must fail (bad_passphrase).",
    passphrase: BACKUP_PASSPHRASE,
    wrongPassphrase: WRONG_PASSPHRASE,
    username: 'alice',
    fingerprint: keys.alice.fingerprint,
    backup,
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = join(projectRoot(), 'docs', 'protocol-vectors');
  generate(dir, { newKeys: process.argv.includes('--new-keys') })
    .then(() => process.stdout.write(`wrote ${dir} (protocol ${PROTOCOL_VERSION})\n`))
    .catch((err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
}
