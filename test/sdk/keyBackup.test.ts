import { describe, expect, it } from '@jest/globals';
import { readMessage } from 'openpgp';
import { MemoryStorage, SignalboxError } from '../../client/src/index.js';
import { bearerOf, FetchProbe, useSdkHarness } from './harness.js';

// client/README.md "A second device", docs/protocol.md "Key backup": keys.saveBackup / keys.loadBackup.

const h = useSdkHarness();
const PASSWORD = 'correct horse battery';
const PASSPHRASE = 'purple elephant staple orbit';

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => null,
    (e: unknown) => e as SignalboxError,
  );

/** A second device of the account: its own empty storage, signed in, no key yet. */
async function newDevice(username: string) {
  const storage = new MemoryStorage();
  const sb = h.client({ storage });
  await sb.login({ username, password: PASSWORD });
  return { sb, storage };
}

describe('keys.saveBackup() and keys.loadBackup()', () => {
  it('round-trips: a new device gets the account key from the backup and can then send and be read', async () => {
    const ana = await h.user('ana');
    const bob = await h.user('bob');
    await h.connect(ana, bob);
    const { fingerprint } = await ana.keys.saveBackup(PASSPHRASE);
    expect(fingerprint).toBe(ana.user!.pgp!.fingerprint);

    const phone = await newDevice(ana.user!.username);
    expect((await failure(phone.sb.keys.ensure()))?.code).toBe('key_elsewhere'); // before: the v1.1 dead end
    expect(await phone.sb.keys.loadBackup(PASSPHRASE)).toEqual({ fingerprint });
    expect(phone.storage.getItem(`signalbox.privateKey.${ana.user!.username}`)).toMatch(/^-----BEGIN PGP PRIVATE KEY BLOCK-----/);
    expect(await phone.sb.keys.ensure()).toEqual({ fingerprint }); // nothing left to do

    // The key works: bob's signal to ana is read on the phone, and the phone's signal verifies at bob's.
    const got = new Promise<string>((resolve) => phone.sb.on('signal', (s) => resolve(s.payload)));
    phone.sb.start();
    await bob.send(ana.user!.username, 'custom', 'hello phone');
    expect(await got).toBe('hello phone');
    const atBob = new Promise<string>((resolve) => bob.on('signal', (s) => resolve(s.payload)));
    bob.start();
    await phone.sb.send(bob.user!.username, 'custom', 'from the phone');
    expect(await atBob).toBe('from the phone');
  });

  it('uploads only an argon2 (64 MiB, 3 passes, 4 lanes), passphrase-encrypted OpenPGP message: no key material the server can read', async () => {
    const probe = new FetchProbe();
    const bodies: string[] = [];
    const recordingFetch: typeof probe.fetch = async (url, init) => {
      if (init?.method === 'PUT' && url.endsWith('/users/me/key-backup')) bodies.push(init.body ?? '');
      return probe.fetch(url, init);
    };
    // Left at the SDK's default argon2 (the harness's clients use FAST_ARGON2): what an app's backup gets.
    const sb = await h.user('ana', { fetch: recordingFetch, keyBackupArgon2: undefined });
    await sb.keys.saveBackup(PASSPHRASE);
    expect(bodies).toHaveLength(1);
    const { backup } = JSON.parse(bodies[0]!) as { backup: string };
    expect(backup).toMatch(/^-----BEGIN PGP MESSAGE-----/);
    expect(backup).not.toContain('PRIVATE KEY');
    const message = await readMessage({ armoredMessage: backup });
    const skesk = message.packets[0] as unknown as { s2k: { type: string; t: number; p: number; encodedM: number } };
    expect(skesk.s2k).toMatchObject({ type: 'argon2', t: 3, p: 4, encodedM: 16 }); // docs/protocol.md "Key backup"
    expect(message.getEncryptionKeyIDs()).toEqual([]); // to a passphrase only, no public key
  });

  it('rejects a wrong passphrase with bad_passphrase and stores nothing', async () => {
    const ana = await h.user('ana');
    await ana.keys.saveBackup(PASSPHRASE);
    const phone = await newDevice(ana.user!.username);
    const error = await failure(phone.sb.keys.loadBackup('purple elephant staple orbiT'));
    expect(error).toBeInstanceOf(SignalboxError);
    expect(error?.code).toBe('bad_passphrase');
    expect(phone.storage.getItem(`signalbox.privateKey.${ana.user!.username}`)).toBeNull();
  });

  it('says no_backup when the account has none', async () => {
    const ana = await h.user('ana');
    const phone = await newDevice(ana.user!.username);
    const error = await failure(phone.sb.keys.loadBackup(PASSPHRASE));
    expect(error?.code).toBe('no_backup');
    expect(error?.message).toMatch(/saveBackup/);
  });

  it('refuses a backup of a key the account no longer publishes (key_mismatch)', async () => {
    const ana = await h.user('ana');
    await ana.keys.saveBackup(PASSPHRASE);
    await ana.keys.forget();
    await ana.keys.ensure({ replace: true }); // a new account key; the backup holds the old one
    const phone = await newDevice(ana.user!.username);
    expect((await failure(phone.sb.keys.loadBackup(PASSPHRASE)))?.code).toBe('key_mismatch');
    expect(phone.storage.getItem(`signalbox.privateKey.${ana.user!.username}`)).toBeNull();
  });

  it('the server refuses a backup that is not an encrypted OpenPGP message (400 validation_failed)', async () => {
    const storage = new MemoryStorage();
    const ana = await h.user('ana', { storage });
    const res = await h.t.http
      .put('/users/me/key-backup')
      .set(bearerOf(storage))
      .send({ backup: await ana.keys.export() });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
  });
});
