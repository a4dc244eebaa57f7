import { describe, expect, it } from '@jest/globals';
import { MemoryStorage, SignalboxError } from '../../client/src/index.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { FetchProbe, useSdkHarness } from './harness.js';

const h = useSdkHarness();
const PASSWORD = 'correct horse battery';

/** The account's key as the server publishes it to others. */
async function publishedFingerprint(username: string): Promise<string | null> {
  const viewer = await registerUser(h.t);
  const res = await h.t.http.get(`/users/${username}`).set(bearer(viewer));
  return res.body.pgp?.fingerprint ?? null;
}

/** A second device of `username`: a new instance with its own (empty) storage, signed in. */
async function secondDevice(username: string, storage = new MemoryStorage()) {
  const sb = h.client({ storage });
  await sb.login({ username, password: PASSWORD });
  return sb;
}

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => null,
    (e: unknown) => e as SignalboxError,
  );

describe('keys.ensure()', () => {
  it('makes a key pair, publishes the public half and keeps the private half only in storage', async () => {
    const storage = new MemoryStorage();
    const sb = h.client({ storage });
    await sb.register({ username: 'ana', email: 'ana@example.org', password: PASSWORD });
    const { fingerprint } = await sb.keys.ensure();
    expect(fingerprint).toMatch(/^[0-9A-F]{40}$/);
    expect(await publishedFingerprint('ana')).toBe(fingerprint);
    expect(sb.user!.pgp!.fingerprint).toBe(fingerprint);
    expect(storage.getItem('signalbox.privateKey.ana')).toMatch(/^-----BEGIN PGP PRIVATE KEY BLOCK-----/);
    expect(sb.user!.pgp!.publicKey).not.toContain('PRIVATE');
  });

  it('does nothing more when this device already holds the published key', async () => {
    const probe = new FetchProbe();
    const sb = await h.user('ana', { fetch: probe.fetch });
    const { fingerprint } = await sb.keys.ensure();
    expect(fingerprint).toBe(sb.user!.pgp!.fingerprint);
    expect(probe.to('/auth/pgp-key', 'PUT')).toHaveLength(1); // the first ensure() only
  });

  it('on another device without the private key: key_elsewhere, and the published key is left alone', async () => {
    const ana = await h.user('ana');
    const published = ana.user!.pgp!.fingerprint;
    const phone = await secondDevice(ana.user!.username);
    const error = await failure(phone.keys.ensure());
    expect(error).toMatchObject({ code: 'key_elsewhere', details: { publishedFingerprint: published } });
    expect(error!.message).toContain('keys.import()');
    expect(await publishedFingerprint(ana.user!.username)).toBe(published);
  });

  it('moves the key to another device by export and import (locked with a passphrase on the way)', async () => {
    const ana = await h.user('ana');
    const exported = await ana.keys.export({ passphrase: 'a long shared secret' });
    expect(exported).toMatch(/^-----BEGIN PGP PRIVATE KEY BLOCK-----/);
    const phone = await secondDevice(ana.user!.username);
    await expect(phone.keys.import(exported)).rejects.toMatchObject({ code: 'validation_failed' });
    expect(await phone.keys.import(exported, { passphrase: 'a long shared secret' })).toEqual({ fingerprint: ana.user!.pgp!.fingerprint });
    expect(await phone.keys.ensure()).toEqual({ fingerprint: ana.user!.pgp!.fingerprint });
  });

  it('replaces the published key only when asked, and the device left behind then says key_mismatch', async () => {
    const ana = await h.user('ana');
    const old = ana.user!.pgp!.fingerprint;
    const phone = await secondDevice(ana.user!.username);
    const { fingerprint } = await phone.keys.ensure({ replace: true });
    expect(fingerprint).not.toBe(old);
    expect(await publishedFingerprint(ana.user!.username)).toBe(fingerprint);
    const error = await failure(ana.keys.ensure());
    expect(error).toMatchObject({ code: 'key_mismatch', details: { deviceFingerprint: old, publishedFingerprint: fingerprint } });
    expect(await publishedFingerprint(ana.user!.username)).toBe(fingerprint);
  });

  it('keeps the key across logout, so signing in again on this device needs no import', async () => {
    const storage = new MemoryStorage();
    const ana = await h.user('ana', { storage });
    const { fingerprint } = ana.user!.pgp!;
    const username = ana.user!.username;
    await ana.logout();
    const again = await secondDevice(username, storage);
    expect(await again.keys.ensure()).toEqual({ fingerprint });
  });

  it('send without a key on this device fails with no_key', async () => {
    const sb = h.client();
    await sb.register({ username: 'ana', email: 'ana@example.org', password: PASSWORD });
    await expect(sb.send('ana', 'custom', 'hello')).rejects.toMatchObject({ code: 'no_key' });
  });
});
