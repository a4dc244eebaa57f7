import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { decrypt, readMessage } from 'openpgp';
import { generateDeviceKey, readPrivate, readPublicKey } from '../../client/src/crypto.js';
import { sealEnvelope } from '../../client/src/envelope.js';
import { partyDigits, safetyNumber } from '../../client/src/safetyNumber.js';
import { MemoryStorage, SignalboxError, type ReceivedSignal, type ServerEvent, type Signalbox } from '../../client/src/index.js';
import { bearerOf, collect, useSdkHarness } from './harness.js';

// Pinning with consent (docs/protocol.md "Pinning and consent") against a real server that lies: the
// test swaps the key the server serves for a peer straight in its store, with no pgp.changed event,
// as a malicious or compromised server would.

const h = useSdkHarness();

const pair = () => h.pair();

/** Mallory's key pair, made for Bob's name, and the server swapping it in as Bob's published key. */
async function swapInMallory(bob: Signalbox) {
  const made = await generateDeviceKey(bob.user!.username);
  await h.t.store.users.setPgpKey(bob.user!.id, {
    fingerprint: made.fingerprint,
    algorithm: 'ed25519',
    createdAt: new Date(),
    expiresAt: null,
    publicKey: made.publicKey,
  });
  return { ...made, priv: await readPrivate(made.privateKey) };
}

/** Raw POST /signaling/send in `storage`'s session: what the server could put in a mailbox. */
async function rawSend(storage: MemoryStorage, body: Record<string, unknown>): Promise<string> {
  const res = await h.t.http.post('/signaling/send').set(bearerOf(storage)).send(body);
  expect(res.status).toBe(202);
  return res.body.id as string;
}

/** The signals and 'error's `sb` hands out once started, and a promise of the first good signal. */
function watch(sb: Signalbox) {
  const signals: ReceivedSignal[] = [];
  const errors: SignalboxError[] = [];
  const events: ServerEvent[] = [];
  sb.on('error', (e) => void errors.push(e));
  sb.on('event', (e) => void events.push(e));
  const good = collect<ReceivedSignal>(1, (push) =>
    sb.on('signal', (s) => {
      signals.push(s);
      push(s);
    }),
  );
  sb.start();
  return { signals, errors, events, good };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (err) {
    if (err instanceof SignalboxError) return err.code;
    throw err;
  }
}

describe('a server that swaps a peer key', () => {
  it('cannot make the SDK encrypt to the new key until the app accepts the change', async () => {
    const { alice, bob } = await pair();
    const events: ServerEvent[] = [];
    alice.on('event', (e) => void events.push(e));
    const pinned = (await alice.peers.trust(bob.user!.username)).fingerprint; // first use: Bob's real key
    expect(pinned).toBe(bob.user!.pgp!.fingerprint);
    const mallory = await swapInMallory(bob);
    const sendsBefore = h.t.received.filter((r) => r.url === '/signaling/send').length;

    // Even with the old key in its 60 s cache, a fresh look (trust) and every send after it refuse.
    expect(await alice.peers.trust(bob.user!.username)).toEqual(
      expect.objectContaining({ state: 'changed', fingerprint: mallory.fingerprint, pinnedFingerprint: pinned }),
    );
    const refused = await alice.send(bob.user!.username, 'custom', 'for bob only').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SignalboxError);
    expect(refused).toMatchObject({ code: 'key_changed', details: { username: bob.user!.username, fingerprint: mallory.fingerprint, pinnedFingerprint: pinned } });
    expect(h.t.received.filter((r) => r.url === '/signaling/send').length).toBe(sendsBefore);
    // The app is told once, on 'event'; that told it, and trusted nothing.
    expect(events.filter((e) => e.type === 'pgp.changed').map((e) => e.payload)).toEqual([
      { username: bob.user!.username, fingerprint: mallory.fingerprint, previousFingerprint: pinned },
    ]);
    expect(await codeOf(alice.send(bob.user!.username, 'custom', 'again'))).toBe('key_changed');

    // The app consents: from then on it encrypts to the key it accepted (here Mallory's, who can read it).
    expect(await alice.peers.acceptChange(bob.user!.username)).toMatchObject({
      state: 'unverified',
      fingerprint: mallory.fingerprint,
      pinnedFingerprint: mallory.fingerprint,
    });
    expect((await alice.send(bob.user!.username, 'custom', 'after consent')).devices).toBe(1);
  });

  it("drops signals signed by the swapped-in key (key_changed) and still takes the peer's own, until the app accepts", async () => {
    const { alice, bob, bobStorage } = await pair();
    await alice.peers.trust(bob.user!.username); // pinned
    const mallory = await swapInMallory(bob);
    const aliceKey = await readPublicKey(alice.user!.pgp!.publicKey);
    const forged = await sealEnvelope(
      { from: bob.user!.username, fromDevice: bob.deviceId!, to: alice.user!.username, toDevice: null, type: 'custom', sessionId: null },
      'I am bob (really mallory)',
      aliceKey,
      mallory.priv,
    );
    const forgedId = await rawSend(bobStorage, { to: alice.user!.username, type: 'custom', payload: forged.armored });
    // Bob's real device still signs with the pinned key: that reaches Alice. (Bob's SDK sends to
    // Alice's key, which the server did not touch.)
    await bob.send(alice.user!.username, 'custom', 'really bob');
    const { signals, errors, good } = watch(alice);
    await good;
    expect(signals.map((s) => s.payload)).toEqual(['really bob']);
    expect(errors.map((e) => [e.code, (e.details?.signal as { id: string }).id])).toEqual([['key_changed', forgedId]]);

    // Once the app accepts the change, what the new key signs is taken.
    await alice.peers.acceptChange(bob.user!.username);
    const next = collect<ReceivedSignal>(1, (push) => alice.on('signal', push));
    const forged2 = await sealEnvelope(
      { from: bob.user!.username, fromDevice: bob.deviceId!, to: alice.user!.username, toDevice: null, type: 'custom', sessionId: null },
      'signed by the accepted key',
      aliceKey,
      mallory.priv,
    );
    await rawSend(bobStorage, { to: alice.user!.username, type: 'custom', payload: forged2.armored });
    expect((await next).map((s) => s.payload)).toEqual(['signed by the accepted key']);
  });

  it('encrypts to the accepted key once accepted: the new key holder reads it', async () => {
    const { alice, bob, bobStorage } = await pair();
    await alice.peers.trust(bob.user!.username);
    const mallory = await swapInMallory(bob);
    expect(await codeOf(alice.send(bob.user!.username, 'custom', 'x'))).toBe('key_changed');
    await alice.peers.acceptChange(bob.user!.username);
    const { id } = await alice.send(bob.user!.username, 'custom', 'readable by the accepted key');
    const res = await h.t.http.get('/signaling/poll').set(bearerOf(bobStorage));
    const payload = (res.body.signals as Array<{ id: string; payload: string }>).find((s) => s.id === id)!.payload;
    const { data } = await decrypt({ message: await readMessage({ armoredMessage: payload }), decryptionKeys: mallory.priv, format: 'utf8' });
    expect(JSON.parse(data as string)).toMatchObject({ body: 'readable by the accepted key', to: bob.user!.username });
  });
});

describe('a real key change (the peer replaced their key)', () => {
  it('drops what the new key signs until acceptChange, then delivers; pins persist in storage', async () => {
    const { alice, bob, aliceStorage } = await pair();
    await bob.send(alice.user!.username, 'custom', 'with my first key');
    const first = watch(alice);
    expect((await first.good).map((s) => s.payload)).toEqual(['with my first key']);
    await alice.stop();
    await bob.keys.forget();
    const { fingerprint: after } = await bob.keys.ensure({ replace: true });
    const { id: changedId } = await bob.send(alice.user!.username, 'custom', 'with my new key');

    // A restarted app (same storage) still holds the old pin: the new key's signal is dropped.
    const restarted = h.client({ storage: aliceStorage });
    await restarted.restore();
    const seen = watch(restarted);
    const dropped = collect<SignalboxError>(1, (push) => restarted.on('error', (e) => e.code === 'key_changed' && push(e)));
    expect((await dropped)[0]!.details).toMatchObject({ signal: { id: changedId } });
    await restarted.stop();
    expect(seen.signals).toEqual([]);
    // The server's pgp.changed arrived on 'event' (informing only).
    expect(seen.events.some((e) => e.type === 'pgp.changed' && (e.payload as { fingerprint: string }).fingerprint === after)).toBe(true);
    expect((await restarted.peers.trust(bob.user!.username)).state).toBe('changed');

    await restarted.peers.acceptChange(bob.user!.username);
    expect(await restarted.peers.trust(bob.user!.username)).toMatchObject({ state: 'unverified', fingerprint: after });
    await bob.send(alice.user!.username, 'custom', 'after you accepted');
    const delivered = collect<ReceivedSignal>(1, (push) => restarted.on('signal', push));
    restarted.start();
    expect((await delivered).map((s) => s.payload)).toEqual(['after you accepted']);
  });
});

describe('safety numbers', () => {
  it('are 60 digits in 12 groups of 5, the same on both sides; verify takes them and marks the pin verified', async () => {
    const { alice, bob, aliceStorage } = await pair();
    const fromAlice = await alice.peers.safetyNumber(bob.user!.username);
    const fromBob = await bob.peers.safetyNumber(alice.user!.username);
    expect(fromAlice).toMatch(/^\d{5}( \d{5}){11}$/);
    expect(fromAlice).toBe(fromBob);
    expect((await alice.peers.trust(bob.user!.username)).state).toBe('unverified');
    expect(await alice.peers.verify(bob.user!.username, fromBob)).toMatchObject({ state: 'verified', safetyNumber: fromAlice });
    // Kept with the pin: another instance over the same storage sees it.
    const again = h.client({ storage: aliceStorage });
    await again.restore();
    expect((await again.peers.trust(bob.user!.username)).state).toBe('verified');
  });

  it('rejects a mismatch with verification_failed and changes nothing', async () => {
    const { alice, bob } = await pair();
    const right = await alice.peers.safetyNumber(bob.user!.username);
    const wrong = right.replace(/^(\d)/, (d) => String((Number(d) + 1) % 10));
    const failure = await alice.peers.verify(bob.user!.username, wrong).catch((e: unknown) => e);
    expect(failure).toMatchObject({ code: 'verification_failed' });
    expect(await codeOf(alice.peers.verify(bob.user!.username, alice.user!.pgp!.fingerprint))).toBe('verification_failed');
    expect((await alice.peers.trust(bob.user!.username)).state).toBe('unverified');
  });

  it('verify also takes the peer fingerprint or the scannable form, and accepts a changed key that way', async () => {
    const { alice, bob } = await pair();
    const { scannable } = await alice.peers.trust(bob.user!.username);
    expect(scannable).toBe(
      alice.user!.username < bob.user!.username
        ? `signalbox-safety:1:${alice.user!.username}:${alice.user!.pgp!.fingerprint}:${bob.user!.username}:${bob.user!.pgp!.fingerprint}`
        : `signalbox-safety:1:${bob.user!.username}:${bob.user!.pgp!.fingerprint}:${alice.user!.username}:${alice.user!.pgp!.fingerprint}`,
    );
    expect((await alice.peers.verify(bob.user!.username, scannable)).state).toBe('verified');
    await bob.keys.forget();
    const { fingerprint: after } = await bob.keys.ensure({ replace: true });
    expect((await alice.peers.trust(bob.user!.username)).state).toBe('changed');
    expect(await codeOf(alice.send(bob.user!.username, 'custom', 'x'))).toBe('key_changed');
    const spaced = after.match(/.{4}/g)!.join(' ').toLowerCase();
    expect(await alice.peers.verify(bob.user!.username, spaced)).toMatchObject({ state: 'verified', fingerprint: after });
    expect((await alice.send(bob.user!.username, 'custom', 'x')).devices).toBe(1);
  });

  it("follow Signal's NumericFingerprint (version 0, 5200 SHA-512 iterations), checked with node:crypto", async () => {
    const party = { username: 'alice', fingerprint: '0123456789ABCDEF0123456789ABCDEF01234567' };
    const key = Buffer.from(party.fingerprint, 'hex');
    let hash = Buffer.concat([Buffer.from([0, 0]), key, Buffer.from('alice', 'utf8')]);
    for (let i = 0; i < 5200; i++) hash = createHash('sha512').update(hash).update(key).digest();
    let expected = '';
    for (let at = 0; at < 30; at += 5) expected += String(hash.readUIntBE(at, 5) % 100000).padStart(5, '0');
    expect(await partyDigits(party)).toBe(expected);
    // The worked example of docs/protocol.md "Safety numbers".
    const bob = { username: 'bob', fingerprint: 'FEDCBA9876543210FEDCBA9876543210FEDCBA98' };
    const [a, b] = [await partyDigits(party), await partyDigits(bob)];
    expect(await safetyNumber(party, bob)).toBe((a <= b ? a + b : b + a).match(/\d{5}/g)!.join(' '));
    expect(await safetyNumber(bob, party)).toBe(await safetyNumber(party, bob));
    expect(await safetyNumber(party, bob)).toBe('18343 52395 07169 56835 79680 49658 31834 49803 82615 31679 12475 65494');
  });
});
