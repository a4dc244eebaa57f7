import { beforeAll, describe, expect, it } from '@jest/globals';
import { decrypt, readMessage } from 'openpgp';
import { generateDeviceKey, readPrivate, readPublicKey, seal, type PrivateKey, type PublicKey } from '../../client/src/crypto.js';
import { CLOCK_SKEW_MS, DEFAULT_SIGNAL_TTL_MS, NonceLog, openEnvelope, sealEnvelope, type EnvelopeAddress, type OpenContext } from '../../client/src/envelope.js';
import { SignalboxError } from '../../client/src/errors.js';
import { MemoryStorage } from '../../client/src/storage.js';

// The envelope module on its own (client/src/envelope.ts, docs/protocol.md "The envelope"): real
// OpenPGP keys, real sealing; the receiver's context is what a server's signal would say.

interface Party {
  priv: PrivateKey;
  pub: PublicKey;
}
let alice: Party;
let bob: Party;
let mallory: Party;

async function party(name: string): Promise<Party> {
  const made = await generateDeviceKey(name);
  return { priv: await readPrivate(made.privateKey), pub: await readPublicKey(made.publicKey) };
}

beforeAll(async () => {
  [alice, bob, mallory] = await Promise.all([party('alice'), party('bob'), party('mallory')]);
});

const address: EnvelopeAddress = { from: 'alice', fromDevice: 'dev-a1', to: 'bob', toDevice: null, type: 'custom', sessionId: 's-1' };
/** What Bob's device dev-b1 receives when the server tells the truth. */
const honest = (id = 'sig-1'): OpenContext => ({ id, from: 'alice', fromDevice: 'dev-a1', type: 'custom', sessionId: 's-1', me: 'bob', myDevice: 'dev-b1' });

const log = () => new NonceLog(new MemoryStorage(), () => 'nonces.bob');

async function sealed(overrides: Partial<EnvelopeAddress> = {}, now = Date.now()) {
  return sealEnvelope({ ...address, ...overrides }, 'hello', bob.pub, alice.priv, now);
}

async function openCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'opened';
  } catch (err) {
    if (err instanceof SignalboxError) return err.code;
    throw err;
  }
}

describe('sealEnvelope and openEnvelope', () => {
  it('round-trips the body with the envelope the sender signed', async () => {
    const { armored, envelope } = await sealed();
    expect(armored).toMatch(/^-----BEGIN PGP MESSAGE-----/);
    const opened = await openEnvelope(armored, bob.priv, alice.pub, honest(), log());
    expect(opened).toEqual(envelope);
    expect(opened.body).toBe('hello');
    expect(opened.nonce).toMatch(/^[0-9a-f]{32}$/);
  });

  it('signs the JSON fields in the order docs/protocol.md gives', async () => {
    const { armored, envelope } = await sealed({}, 1_800_000_000_123);
    const { data } = await decrypt({ message: await readMessage({ armoredMessage: armored }), decryptionKeys: bob.priv, format: 'utf8' });
    expect(data).toBe(
      `{"v":1,"from":"alice","fromDevice":"dev-a1","to":"bob","toDevice":null,"type":"custom","sessionId":"s-1","ts":1800000000123,"nonce":"${envelope.nonce}","body":"hello"}`,
    );
  });

  it('refuses a signal the server re-typed, moved to another session, or passed off as another sender or device', async () => {
    const cases: Array<Partial<OpenContext>> = [
      { type: 'offer' },
      { sessionId: 's-2' },
      { sessionId: null },
      { fromDevice: 'dev-a2' },
      { fromDevice: null },
      { from: 'carol' },
    ];
    for (const lie of cases) {
      const { armored } = await sealed();
      expect([lie, await openCode(openEnvelope(armored, bob.priv, alice.pub, { ...honest(), ...lie }, log()))]).toEqual([lie, 'bad_envelope']);
    }
  });

  it('refuses an envelope addressed to another account or to another device of this one', async () => {
    const toCarol = await sealed({ to: 'carol' });
    expect(await openCode(openEnvelope(toCarol.armored, bob.priv, alice.pub, honest(), log()))).toBe('bad_envelope');
    const toPhone = await sealed({ toDevice: 'dev-b2' });
    expect(await openCode(openEnvelope(toPhone.armored, bob.priv, alice.pub, honest(), log()))).toBe('bad_envelope');
    const toThisDevice = await sealed({ toDevice: 'dev-b1' });
    expect(await openCode(openEnvelope(toThisDevice.armored, bob.priv, alice.pub, honest(), log()))).toBe('opened');
  });

  it('refuses an envelope older than SIGNAL_TTL plus a minute, or more than a minute in the future', async () => {
    const now = Date.now();
    const at = async (ts: number) => openCode(openEnvelope((await sealed({}, ts)).armored, bob.priv, alice.pub, honest(), log(), { now }));
    expect(await at(now - DEFAULT_SIGNAL_TTL_MS - CLOCK_SKEW_MS - 1)).toBe('bad_envelope');
    expect(await at(now - DEFAULT_SIGNAL_TTL_MS - CLOCK_SKEW_MS + 1000)).toBe('opened');
    expect(await at(now + CLOCK_SKEW_MS + 1)).toBe('bad_envelope');
    expect(await at(now + CLOCK_SKEW_MS - 1000)).toBe('opened');
    // The server's own SIGNAL_TTL, when the app says it is shorter.
    expect(await openCode(openEnvelope((await sealed({}, now - 200_000)).armored, bob.priv, alice.pub, honest(), log(), { now, signalTtlMs: 60_000 }))).toBe(
      'bad_envelope',
    );
  });

  it('refuses the same envelope under a new id (a replay), even after a restart, and lets the same id through again', async () => {
    const storage = new MemoryStorage();
    const { armored } = await sealed();
    expect(await openCode(openEnvelope(armored, bob.priv, alice.pub, honest('sig-1'), new NonceLog(storage, () => 'n')))).toBe('opened');
    // The mailbox delivers an unacknowledged signal again under its own id: not a replay.
    expect(await openCode(openEnvelope(armored, bob.priv, alice.pub, honest('sig-1'), new NonceLog(storage, () => 'n')))).toBe('opened');
    // A new NonceLog over the same storage: what a restarted app has.
    expect(await openCode(openEnvelope(armored, bob.priv, alice.pub, honest('sig-2'), new NonceLog(storage, () => 'n')))).toBe('bad_envelope');
  });

  it('keeps nonces only for the acceptance window, and at most max of them', async () => {
    const storage = new MemoryStorage();
    const nonces = new NonceLog(
      storage,
      () => 'n',
      () => 1000,
      4,
    );
    const now = 10_000_000;
    await nonces.check('a'.repeat(32), 'old', now - 1000 - CLOCK_SKEW_MS - 1, now);
    await nonces.check('b'.repeat(32), 'new', now, now);
    expect((JSON.parse(storage.getItem('n')!) as unknown[]).length).toBe(1);
    // At max (4) a tenth is shed at once, at least down to max * 0.9 - 1 = 2 kept before the new one.
    for (const c of 'cde') await nonces.check(c.repeat(32), c, now, now);
    expect((JSON.parse(storage.getItem('n')!) as Array<[string]>).map((e) => e[0][0])).toEqual(['b', 'c', 'd', 'e']);
    await nonces.check('f'.repeat(32), 'f', now, now);
    expect((JSON.parse(storage.getItem('n')!) as Array<[string]>).map((e) => e[0][0])).toEqual(['d', 'e', 'f']);
  });

  it('shares one log between instances over one storage (browser tabs): neither overwrites what the other added', async () => {
    const storage = new MemoryStorage();
    const tab1 = new NonceLog(storage, () => 'n');
    const tab2 = new NonceLog(storage, () => 'n');
    const now = Date.now();
    await tab1.check('a'.repeat(32), 'sig-a', now, now);
    await tab2.check('b'.repeat(32), 'sig-b', now, now); // tab2 read tab1's entry before appending
    await tab1.check('c'.repeat(32), 'sig-c', now, now); // tab1's cached text is stale: it reads again
    await expect(tab2.check('a'.repeat(32), 'sig-x', now, now)).rejects.toMatchObject({ code: 'bad_envelope' });
    await expect(tab1.check('b'.repeat(32), 'sig-y', now, now)).rejects.toMatchObject({ code: 'bad_envelope' });
    expect((JSON.parse(storage.getItem('n')!) as Array<[string]>).map((e) => e[0][0])).toEqual(['a', 'b', 'c']);
  });

  it('refuses a signed payload that is not an envelope, and one of another version', async () => {
    const plain = await seal('just text', bob.pub, alice.priv);
    expect(await openCode(openEnvelope(plain, bob.priv, alice.pub, honest(), log()))).toBe('bad_envelope');
    const v2 = await seal(JSON.stringify({ v: 2, ...address, ts: Date.now(), nonce: 'a'.repeat(32), body: 'x' }), bob.pub, alice.priv);
    expect(await openCode(openEnvelope(v2, bob.priv, alice.pub, honest(), log()))).toBe('bad_envelope');
  });

  it("refuses an envelope signed by any key but the sender's (bad_signature)", async () => {
    const forged = await sealEnvelope(address, 'hello', bob.pub, mallory.priv);
    expect(await openCode(openEnvelope(forged.armored, bob.priv, alice.pub, honest(), log()))).toBe('bad_signature');
  });
});
