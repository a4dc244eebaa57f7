import { describe, expect, it } from '@jest/globals';
import { createMessage, encrypt, generateKey, readKey, readPrivateKey } from 'openpgp';
import { MemoryStorage, type ReceivedSignal, type ServerEvent, type SignalboxError } from '../../client/src/index.js';
import { bearerOf, collect, useSdkHarness } from './harness.js';

const h = useSdkHarness();

const pair = () => h.pair();

/** POST /signaling/send in `storage`'s session with any payload: what a hostile or broken client could send. */
async function rawSend(storage: MemoryStorage, to: string, payload: string) {
  const res = await h.t.http.post('/signaling/send').set(bearerOf(storage)).send({ to, type: 'custom', payload });
  expect(res.status).toBe(202);
  return res.body.id as string;
}

describe('send and receive', () => {
  it('hands the decrypted payload to the peer, with who sent it from which device', async () => {
    const { alice, bob, bobStorage } = await pair();
    const sent = await alice.send(bob.user!.username, 'offer', 'v=0 an SDP', { sessionId: 'call-1' });
    expect(sent).toEqual({ id: expect.any(String), expiresAt: expect.any(String), devices: 1, reachable: 1 });
    // What the server holds is an OpenPGP message, never the text.
    const raw = await h.t.http.get('/signaling/poll').set(bearerOf(bobStorage));
    const stored = (raw.body.signals as Array<{ id: string; payload: string }>).find((s) => s.id === sent.id)!;
    expect(stored.payload).toMatch(/^-----BEGIN PGP MESSAGE-----/);
    expect(stored.payload).not.toContain('an SDP');

    const received = collect<ReceivedSignal>(1, (push) => bob.on('signal', push));
    bob.start();
    expect(await received).toEqual([
      {
        id: sent.id,
        from: alice.user!.username,
        fromDevice: alice.deviceId,
        type: 'offer',
        payload: 'v=0 an SDP',
        sessionId: 'call-1',
        createdAt: expect.any(String),
      },
    ]);
  });

  it("reaches the sender's other devices when sent to the own username, not the sending device", async () => {
    const laptopStorage = new MemoryStorage();
    const laptop = await h.user('ana', { storage: laptopStorage });
    const phone = h.client();
    await phone.login({ username: laptop.user!.username, password: 'correct horse battery' });
    await phone.keys.import(await laptop.keys.export());
    const onPhone = collect<ReceivedSignal>(1, (push) => phone.on('signal', push));
    const onLaptop: ReceivedSignal[] = [];
    laptop.on('signal', (s) => void onLaptop.push(s));
    phone.start();
    laptop.start();
    await laptop.send(laptop.user!.username, 'bye', 'answered here');
    expect((await onPhone).map((s) => [s.payload, s.fromDevice])).toEqual([['answered here', laptop.deviceId]]);
    await laptop.stop();
    expect(onLaptop).toEqual([]);
  });
});

describe('signatures', () => {
  /** Starts `bob`, returns his 'signal' and 'error' records and a promise of the next good signal. */
  function watch(bob: Awaited<ReturnType<typeof pair>>['bob']) {
    const signals: ReceivedSignal[] = [];
    const errors: SignalboxError[] = [];
    bob.on('error', (e) => void errors.push(e));
    const good = collect<ReceivedSignal>(1, (push) =>
      bob.on('signal', (s) => {
        signals.push(s);
        push(s);
      }),
    );
    bob.start();
    return { signals, errors, good };
  }

  it('drops a payload that is not encrypted and reports it on error', async () => {
    const { alice, bob, aliceStorage } = await pair();
    const id = await rawSend(aliceStorage, bob.user!.username, 'plain text, no OpenPGP');
    await alice.send(bob.user!.username, 'custom', 'the real one');
    const { signals, errors, good } = watch(bob);
    await good;
    expect(signals.map((s) => s.payload)).toEqual(['the real one']);
    expect(errors).toEqual([expect.objectContaining({ code: 'not_encrypted', details: { signal: expect.objectContaining({ id, from: alice.user!.username }) } })]);
  });

  it('drops a payload encrypted to the recipient but not signed', async () => {
    const { alice, bob, aliceStorage } = await pair();
    const unsigned = await encrypt({
      message: await createMessage({ text: 'who sent this?' }),
      encryptionKeys: (await readKey({ armoredKey: bob.user!.pgp!.publicKey })).toPublic(),
    });
    const id = await rawSend(aliceStorage, bob.user!.username, unsigned as string);
    await alice.send(bob.user!.username, 'custom', 'signed');
    const { signals, errors, good } = watch(bob);
    await good;
    expect(signals.map((s) => s.payload)).toEqual(['signed']);
    expect(errors).toEqual([expect.objectContaining({ code: 'unsigned', details: { signal: expect.objectContaining({ id }) } })]);
  });

  it("drops a payload signed with a key that is not the sender's published key (a forgery)", async () => {
    const { alice, bob, aliceStorage } = await pair();
    const mallory = await generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: alice.user!.username }], format: 'armored' });
    const forged = await encrypt({
      message: await createMessage({ text: 'I am alice, trust me' }),
      encryptionKeys: (await readKey({ armoredKey: bob.user!.pgp!.publicKey })).toPublic(),
      signingKeys: await readPrivateKey({ armoredKey: mallory.privateKey }),
    });
    const id = await rawSend(aliceStorage, bob.user!.username, forged as string);
    await alice.send(bob.user!.username, 'custom', 'really alice');
    const { signals, errors, good } = watch(bob);
    await good;
    expect(signals.map((s) => s.payload)).toEqual(['really alice']);
    expect(errors).toEqual([expect.objectContaining({ code: 'bad_signature', details: { signal: expect.objectContaining({ id }) } })]);
  });
});

describe('server events', () => {
  it('surfaces connection requests, acceptances and removals on event, with their payloads parsed', async () => {
    const alice = await h.user('alice');
    const bob = await h.user('bob');
    const requested = collect<ServerEvent>(1, (push) => bob.on('event', (e) => e.type === 'connection.requested' && push(e)));
    const accepted = collect<ServerEvent>(1, (push) => alice.on('event', (e) => e.type === 'connection.accepted' && push(e)));
    alice.start();
    bob.start();
    const { request } = (await alice.connections.request(bob.user!.username, 'hi, it is alice')) as { request: { id: string } };
    expect((await requested)[0]).toEqual({
      id: expect.any(String),
      type: 'connection.requested',
      payload: expect.objectContaining({ id: request.id, from: alice.user!.username, message: 'hi, it is alice' }),
      createdAt: expect.any(String),
    });
    await bob.connections.respond(alice.user!.username, 'accept');
    expect((await accepted)[0]!.payload).toEqual({ username: bob.user!.username });
    const removed = collect<ServerEvent>(1, (push) => bob.on('event', (e) => e.type === 'connection.removed' && push(e)));
    await alice.connections.remove(bob.user!.username);
    expect((await removed)[0]!.payload).toEqual({ username: alice.user!.username });
  });
});
