import { describe, expect, it } from '@jest/globals';
import { createMessage, encrypt, enums, sign, generateKey, readPrivateKey } from 'openpgp';
import { fixture, ED25519 } from '../helpers/pgpFixtures.js';
import { bearer, registerUser, signIn, type TestUser } from '../helpers/factories.js';
import { useTestApp, withUser } from '../helpers/perTest.js';
import { poll } from '../helpers/signaling.js';

// docs/api.md, /users/me/key-backup: one opaque, passphrase-encrypted OpenPGP message per account.

/** A message encrypted to a passphrase, as the SDK's keys.saveBackup makes it (argon2 S2K, AEAD). */
const passphraseMessage = async (text = 'private key') =>
  encrypt({
    message: await createMessage({ text }),
    passwords: 'correct horse battery staple',
    config: { s2kType: enums.s2k.argon2, aeadProtect: true },
    format: 'armored',
  });

const put = (t: ReturnType<typeof useTestApp>, u: TestUser, body: unknown) => t.http.put('/users/me/key-backup').set(bearer(u)).send(body as object);
const get = (t: ReturnType<typeof useTestApp>, u: TestUser) => t.http.get('/users/me/key-backup').set(bearer(u));

describe('PUT, GET and DELETE /users/me/key-backup', () => {
  const t = useTestApp();
  const ana = withUser(t);

  it('stores one backup per account and answers it as uploaded, with when it was written', async () => {
    const backup = await passphraseMessage();
    expect((await put(t, ana, { backup })).status).toBe(204);
    const res = await get(t, ana);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({ backup, updatedAt: '2026-06-01T12:00:00.000Z' });
  });

  it('replaces the backup with a newer one', async () => {
    await put(t, ana, { backup: await passphraseMessage('old') });
    t.clock.advance(5);
    const newer = await passphraseMessage('new');
    expect((await put(t, ana, { backup: newer })).status).toBe(204);
    expect((await get(t, ana)).body).toEqual({ backup: newer, updatedAt: '2026-06-01T12:00:05.000Z' });
  });

  it('answers 404 not_found when there is none, and after DELETE', async () => {
    const none = await get(t, ana);
    expect(none.status).toBe(404);
    expect(none.body.error.code).toBe('not_found');
    await put(t, ana, { backup: await passphraseMessage() });
    expect((await t.http.delete('/users/me/key-backup').set(bearer(ana))).status).toBe(204);
    expect((await get(t, ana)).status).toBe(404);
    expect((await t.http.delete('/users/me/key-backup').set(bearer(ana))).status).toBe(204);
  });

  it('keeps each account to its own backup', async () => {
    await put(t, ana, { backup: await passphraseMessage() });
    expect((await get(t, await registerUser(t))).status).toBe(404);
  });

  it.each([
    ['a public key', () => fixture(ED25519.file)],
    ['plain text', () => 'not a message'],
    ['a broken armor', () => '-----BEGIN PGP MESSAGE-----\n\nAAAA\n-----END PGP MESSAGE-----\n'],
    ['a message that is not encrypted', async () => createMessage({ text: 'my private key in the clear' }).then((m) => m.armor())],
    [
      'a signed but unencrypted message',
      async () => {
        const { privateKey } = await generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'x' }], format: 'armored' });
        return sign({ message: await createMessage({ text: 'x' }), signingKeys: await readPrivateKey({ armoredKey: privateKey }), format: 'armored' });
      },
    ],
  ])('refuses %s with 400 validation_failed naming backup, storing nothing', async (_what, make) => {
    const res = await put(t, ana, { backup: await make() });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details.fields).toEqual([expect.objectContaining({ field: 'backup' })]);
    expect((await get(t, ana)).status).toBe(404);
  });

  it('refuses a backup that is not a string, and extra fields', async () => {
    expect((await put(t, ana, { backup: 42 })).body.error.code).toBe('validation_failed');
    expect((await put(t, ana, { backup: await passphraseMessage(), extra: 1 })).body.error.code).toBe('validation_failed');
  });

  it('requires a signed-in device', async () => {
    expect((await t.http.get('/users/me/key-backup')).status).toBe(401);
    expect((await t.http.put('/users/me/key-backup').send({ backup: await passphraseMessage() })).status).toBe(401);
  });

  it('tells the account\'s other devices key-backup.changed ({}) on write and deletion, not the writing device', async () => {
    const phone = await signIn(t, ana);
    await put(t, ana, { backup: await passphraseMessage() });
    await t.http.delete('/users/me/key-backup').set(bearer(ana));
    const other = await poll(t, phone);
    const events = other.body.signals.filter((s: { type: string }) => s.type === 'key-backup.changed');
    expect(events).toHaveLength(2);
    expect(events[0]).toEqual(expect.objectContaining({ from: ana.username, fromDevice: null, payload: '{}' }));
    const own = await poll(t, ana);
    expect(own.body.signals.filter((s: { type: string }) => s.type === 'key-backup.changed')).toEqual([]);
  });

  it('is gone with the account', async () => {
    await put(t, ana, { backup: await passphraseMessage() });
    expect((await t.http.delete('/users/me').set(bearer(ana)).send({ password: ana.password })).status).toBe(204);
    expect(await t.store.keyBackups.get(ana.id)).toBeNull();
  });
});
