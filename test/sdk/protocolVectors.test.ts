import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { peekPlaintext, readPrivate, readPublicKey, unseal } from '../../client/src/crypto.js';
import { CALL_KINDS, END_REASON_LIST, signalTypeOf, type CallMessage } from '../../client/src/calls/protocol.js';
import { PROTOCOL_VERSION } from '../../client/src/protocolVersion.js';
import { callMessageOf, linkCodeOf, openBackup, openVector, parsedCode, safetyNumberOf } from '../../scripts/protocol-vectors/check.js';
import {
  BACKUP_PASSPHRASE,
  LINK_CODE,
  NOW,
  WRONG_PASSPHRASE,
  callSteps,
  envelopeCases,
  safetyNumberCases,
  type CallStep,
  type EnvelopeCase,
  type KeyName,
  type VectorKeys,
} from '../../scripts/protocol-vectors/spec.js';
import { VECTOR_FILES } from '../../scripts/gen-protocol-vectors.js';

// The committed test vectors (docs/protocol-vectors/) run through the SDK's own receive path, call
// decoder, safety numbers, link codes and key backup, and must give the outcome each states; and they
// must still be what the generator's spec (scripts/protocol-vectors/spec.ts) says, so what a native
// client developer checks against is what the SDK is tested against. `npm run vectors` rewrites them.

const dir = join(process.cwd(), 'docs', 'protocol-vectors');
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- T names the shape each vector file is expected to have, at each call
const load = <T>(file: string): T & { protocolVersion: string } => JSON.parse(readFileSync(join(dir, file), 'utf8')) as T & { protocolVersion: string };
const keys = load<{ keys: VectorKeys }>('keys.json').keys;
const envelopes = load<{ now: number; cases: EnvelopeCase[] }>('envelopes.json');
const calls = load<{ steps: CallStep[] }>('calls.json');
const withoutPayload = <T extends { signal: { payload?: string } }>(v: T) => ({ ...v, signal: { ...v.signal, payload: undefined } });

describe('protocol version', () => {
  it.each(VECTOR_FILES)("%s carries the SDK's protocol version (else run npm run vectors)", (file) => {
    expect(load<object>(file).protocolVersion).toBe(PROTOCOL_VERSION);
  });

  it('docs/protocol.md states it at the top', () => {
    const head = readFileSync(join(process.cwd(), 'docs', 'protocol.md'), 'utf8')
      .split('\n')
      .slice(0, 5)
      .join('\n');
    expect(head).toContain(`Protocol version ${PROTOCOL_VERSION}`);
  });
});

describe("docs/protocol.md's call messages are the SDK's", () => {
  const doc = readFileSync(join(process.cwd(), 'docs', 'protocol.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## 7. Calls'), doc.indexOf('### 7.1'));

  it('the table lists each kind the SDK decodes, with the signal type it travels as', () => {
    const rows = [...section.matchAll(/^\| `([a-z-]+)` \| `([a-z]+)` \|/gm)].map((m) => [m[1], m[2]]);
    expect(rows).toEqual(CALL_KINDS.map((kind) => [kind, signalTypeOf({ kind } as CallMessage)]));
  });

  it("the reasons are exactly the SDK's", () => {
    const line = section.slice(section.indexOf('`reason` is one of:'), section.indexOf('**The names'));
    expect([...line.matchAll(/`([a-z-]+)` \(/g)].map((m) => m[1])).toEqual([...END_REASON_LIST]);
  });
});

describe('the committed vectors are the spec (no drift)', () => {
  it('envelope cases: same cases, outer signals, plaintexts, sealing and outcomes', () => {
    expect(envelopes.now).toBe(NOW);
    expect(envelopes.cases.map((c) => withoutPayload(c))).toEqual(envelopeCases().map((c) => withoutPayload(c)));
  });

  it('call steps', () => {
    expect(calls.steps.map((s) => withoutPayload(s))).toEqual(callSteps().map((s) => withoutPayload(s)));
  });

  it('safety numbers, link code and key backup inputs', () => {
    const safety = load<{ cases: Array<{ name: string; a: unknown; b: unknown }> }>('safety-numbers.json').cases;
    expect(safety.map(({ name, a, b }) => ({ name, a, b }))).toEqual(safetyNumberCases(keys).map(({ name, a, b }) => ({ name, a, b })));
    const { protocolVersion: _v, description: _d, ...link } = load<{ description: string }>('link-code.json');
    expect(link).toEqual(LINK_CODE);
    const backup = load<{ passphrase: string; wrongPassphrase: string; fingerprint: string }>('key-backup.json');
    expect([backup.passphrase, backup.wrongPassphrase, backup.fingerprint]).toEqual([BACKUP_PASSPHRASE, WRONG_PASSPHRASE, keys.alice.fingerprint]);
  });

  it('each payload is its plaintext, sealed as stated: encrypted to that key, signed by that key', async () => {
    for (const v of [...envelopes.cases, ...calls.steps]) {
      const payload = v.signal.payload!;
      const { form, encryptedTo, signedBy } = v.sealing;
      if (form === 'plain') {
        expect(payload).toBe(v.plaintext);
        continue;
      }
      const recipient = await readPrivate(keys[encryptedTo as KeyName].privateKey);
      expect(await peekPlaintext(payload, recipient)).toBe(v.plaintext);
      if (signedBy) expect(await unseal(payload, recipient, await readPublicKey(keys[signedBy].publicKey))).toBe(v.plaintext);
      else await expect(unseal(payload, recipient, await readPublicKey(keys.alice.publicKey))).rejects.toMatchObject({ code: 'unsigned' });
    }
  });
});

describe('envelopes through the SDK receive path', () => {
  it.each(envelopes.cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const opened = await openVector(keys, { ...c, now: envelopes.now });
    expect(opened.outcome).toBe(c.expect);
    if (c.expect === 'accept') expect(JSON.stringify(opened.envelope)).toBe(c.plaintext);
    if (c.fields) expect(opened.fields).toEqual(c.fields);
  });
});

describe('a whole call through the SDK receive path and call decoder', () => {
  it.each(calls.steps.map((s) => [s.step, s] as const))('%s', async (_step, s) => {
    const sender: KeyName = s.send.from === 'alice' ? 'alice' : 'bob';
    const opened = await openVector(keys, { receiver: s.receiver, sender: { pinnedKey: sender, servedKey: sender }, seenNonces: [], signal: s.signal, now: s.now });
    expect(opened.outcome).toBe('accept');
    const message = callMessageOf(opened.envelope!);
    expect({ p: s.message.p, ...message }).toEqual(s.message);
    expect(opened.envelope).toMatchObject({ to: s.send.to, toDevice: s.send.toDevice, type: s.send.type, sessionId: s.send.sessionId });
  });
});

describe('safety numbers, link code, key backup', () => {
  it('safety numbers are the stated ones, the same from both sides', async () => {
    for (const c of load<{ cases: Array<{ a: { username: string; fingerprint: string }; b: { username: string; fingerprint: string }; safetyNumber: string }> }>(
      'safety-numbers.json',
    ).cases) {
      expect(await safetyNumberOf(c.a, c.b)).toBe(c.safetyNumber);
      expect(await safetyNumberOf(c.b, c.a)).toBe(c.safetyNumber);
    }
  });

  it('the link code, and the inputs read as it or refused', async () => {
    const link = load<typeof LINK_CODE>('link-code.json');
    expect(await linkCodeOf(link.fingerprint)).toBe(link.code);
    for (const input of link.sameCode) expect(parsedCode(input)).toBe(link.code);
    for (const input of link.notACode) expect(parsedCode(input)).toBeNull();
  });

  it("the key backup opens with its passphrase to alice's key, and not with another", async () => {
    const b = load<{ backup: string; passphrase: string; wrongPassphrase: string; username: string; fingerprint: string }>('key-backup.json');
    expect(await openBackup(b.backup, b.passphrase)).toEqual({ username: b.username, fingerprint: b.fingerprint });
    expect(await openBackup(b.backup, b.wrongPassphrase)).toEqual({ error: 'bad_passphrase' });
  });
});
