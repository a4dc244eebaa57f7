import { describe, expect, it } from '@jest/globals';
import { readPrivate, readPublicKey } from '../../client/src/crypto.js';
import { sealEnvelope, type EnvelopeAddress } from '../../client/src/envelope.js';
import { MemoryStorage, type ReceivedSignal, type Signalbox, type SignalboxError } from '../../client/src/index.js';
import { bearerOf, collect, useSdkHarness } from './harness.js';

// The envelope on the wire (docs/protocol.md "The envelope"): what a server can do with a signal it
// holds (send it again under a new id, change its type or session, deliver it to another device,
// hold it back) never reaches the app. The server's part is played by raw POST /signaling/send in the
// sender's session, which puts exactly the chosen payload, type and sessionId in the mailbox.

const h = useSdkHarness();

const pair = () => h.pair();

async function rawSend(storage: MemoryStorage, body: Record<string, unknown>): Promise<string> {
  const res = await h.t.http.post('/signaling/send').set(bearerOf(storage)).send(body);
  expect(res.status).toBe(202);
  return res.body.id as string;
}

/** The payload of signal `id` as it sits in `storage`'s mailbox (polled, not acknowledged). */
async function mailboxPayload(storage: MemoryStorage, id: string): Promise<string> {
  const res = await h.t.http.get('/signaling/poll').set(bearerOf(storage));
  return (res.body.signals as Array<{ id: string; payload: string }>).find((s) => s.id === id)!.payload;
}

/** Starts `sb`; what its 'signal' and 'error' handlers got, and a promise of the signal whose payload is `marker`. */
function watch(sb: Signalbox, marker: string) {
  const signals: ReceivedSignal[] = [];
  const errors: SignalboxError[] = [];
  sb.on('error', (e) => void errors.push(e));
  const done = collect<ReceivedSignal>(1, (push) =>
    sb.on('signal', (s) => {
      signals.push(s);
      if (s.payload === marker) push(s);
    }),
  );
  sb.start();
  return { signals, errors, done };
}

const droppedIds = (errors: SignalboxError[]) => errors.filter((e) => e.code === 'bad_envelope').map((e) => (e.details?.signal as { id: string }).id);

describe('signals a server re-sends or re-labels', () => {
  it('hands a signal out once: the same payload under a new id is a replay, also after a restart', async () => {
    const { alice, bob, aliceStorage, bobStorage } = await pair();
    const { id } = await alice.send(bob.user!.username, 'custom', 'pay 10 euros', { sessionId: 's-1' });
    const payload = await mailboxPayload(bobStorage, id);
    const replayId = await rawSend(aliceStorage, { to: bob.user!.username, type: 'custom', sessionId: 's-1', payload });
    await alice.send(bob.user!.username, 'custom', 'end');
    const first = watch(bob, 'end');
    await first.done;
    expect(first.signals.map((s) => s.payload)).toEqual(['pay 10 euros', 'end']);
    expect(droppedIds(first.errors)).toEqual([replayId]);
    await bob.stop();

    // A restarted app over the same storage: the nonce is remembered there.
    const again = await rawSend(aliceStorage, { to: bob.user!.username, type: 'custom', sessionId: 's-1', payload });
    await alice.send(bob.user!.username, 'custom', 'end 2');
    const restarted = h.client({ storage: bobStorage });
    await restarted.restore();
    const second = watch(restarted, 'end 2');
    await second.done;
    expect(second.signals.map((s) => s.payload)).toEqual(['end 2']);
    expect(droppedIds(second.errors)).toEqual([again]);
  });

  it('drops a signal whose type or sessionId the server changed', async () => {
    const { alice, bob, aliceStorage, bobStorage } = await pair();
    const { id } = await alice.send(bob.user!.username, 'custom', 'just a note', { sessionId: 's-1' });
    const payload = await mailboxPayload(bobStorage, id);
    // The genuine one is taken out of the mailbox first, so only the re-labelled copies remain.
    await h.t.http
      .post('/signaling/ack')
      .set(bearerOf(bobStorage))
      .send({ upTo: (await h.t.http.get('/signaling/poll').set(bearerOf(bobStorage))).body.cursor });
    const retyped = await rawSend(aliceStorage, { to: bob.user!.username, type: 'offer', sessionId: 's-1', payload });
    const moved = await rawSend(aliceStorage, { to: bob.user!.username, type: 'custom', sessionId: 's-2', payload });
    const unsessioned = await rawSend(aliceStorage, { to: bob.user!.username, type: 'custom', payload });
    await alice.send(bob.user!.username, 'custom', 'end');
    const { signals, errors, done } = watch(bob, 'end');
    await done;
    expect(signals.map((s) => s.payload)).toEqual(['end']);
    expect(droppedIds(errors)).toEqual([retyped, moved, unsessioned]);
  });

  it('drops a signal delivered to another device of the account than the one it was sealed for', async () => {
    const { alice, bob, aliceStorage } = await pair();
    const phoneStorage = new MemoryStorage();
    const phone = h.client({ storage: phoneStorage });
    await phone.login({ username: bob.user!.username, password: 'correct horse battery' });
    await phone.keys.import(await bob.keys.export());
    // Sealed for the phone only; the server hands the same payload to the laptop (bob) as well.
    const { id } = await alice.send(bob.user!.username, 'custom', 'phone only', { toDevice: phone.deviceId! });
    const payload = await mailboxPayload(phoneStorage, id);
    const misdelivered = await h.t.http
      .post('/signaling/send')
      .set(bearerOf(aliceStorage))
      .send({ to: bob.user!.username, toDevice: bob.deviceId, type: 'custom', payload });
    expect(misdelivered.status).toBe(202);
    await alice.send(bob.user!.username, 'custom', 'end', { toDevice: bob.deviceId! });
    const { signals, errors, done } = watch(bob, 'end');
    await done;
    expect(signals.map((s) => s.payload)).toEqual(['end']);
    expect(droppedIds(errors)).toEqual([misdelivered.body.id]);
  });
});

describe('envelopes a server could not have made but could hold back or redirect', () => {
  /** An envelope Alice's device really signed (her private key from her storage), with the given address or time. */
  async function signedByAlice(alice: Signalbox, aliceStorage: MemoryStorage, bob: Signalbox, address: Partial<EnvelopeAddress>, ts?: number) {
    const signer = await readPrivate(aliceStorage.getItem(`signalbox.privateKey.${alice.user!.username}`)!);
    const to = await readPublicKey(bob.user!.pgp!.publicKey);
    const full: EnvelopeAddress = {
      from: alice.user!.username,
      fromDevice: alice.deviceId!,
      to: bob.user!.username,
      toDevice: null,
      type: 'custom',
      sessionId: null,
      ...address,
    };
    return (await sealEnvelope(full, 'crafted', to, signer, ts)).armored;
  }

  it('drops one addressed to another account, and one older than SIGNAL_TTL plus a minute or dated ahead', async () => {
    const { alice, bob, aliceStorage } = await pair();
    const toCarol = await rawSend(aliceStorage, { to: bob.user!.username, type: 'custom', payload: await signedByAlice(alice, aliceStorage, bob, { to: 'carol' }) });
    const stale = await rawSend(aliceStorage, {
      to: bob.user!.username,
      type: 'custom',
      payload: await signedByAlice(alice, aliceStorage, bob, {}, Date.now() - 6 * 60_000 - 1000),
    });
    const ahead = await rawSend(aliceStorage, {
      to: bob.user!.username,
      type: 'custom',
      payload: await signedByAlice(alice, aliceStorage, bob, {}, Date.now() + 2 * 60_000),
    });
    const fine = await rawSend(aliceStorage, {
      to: bob.user!.username,
      type: 'custom',
      payload: await signedByAlice(alice, aliceStorage, bob, {}, Date.now() - 5 * 60_000),
    });
    await alice.send(bob.user!.username, 'custom', 'end');
    const { signals, errors, done } = watch(bob, 'end');
    await done;
    expect(signals.map((s) => [s.id, s.payload])).toEqual([
      [fine, 'crafted'],
      [expect.any(String), 'end'],
    ]);
    expect(droppedIds(errors)).toEqual([toCarol, stale, ahead]);
  });
});
