import { describe, expect, it } from '@jest/globals';
import * as openpgp from 'openpgp';
import { makeTestApp } from '../helpers/app.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { ED25519, fixture } from '../helpers/pgpFixtures.js';
import { useTestApp, withUser } from '../helpers/perTest.js';
import { eventsIn, poll, signInDevice } from '../helpers/signaling.js';

const t = useTestApp();
const alice = withUser(t, { username: 'alice', password: 'correct horse battery' });

const put = (backup: unknown, user = alice) => t.http.put('/users/me/key-backup').set(bearer(user)).send({ backup });
const get = (user = alice) => t.http.get('/users/me/key-backup').set(bearer(user));
const remove = (user = alice) => t.http.delete('/users/me/key-backup').set(bearer(user));
const securityTypes = async () => ((await t.http.get('/users/me/security-events').set(bearer(alice))).body.events as Array<{ type: string }>).map((e) => e.type);

/** What the SDK uploads: a private key encrypted with a passphrase (here any text stands in for the key). */
const passphraseMessage = async (text = 'an armored private key would be here', config?: Partial<openpgp.Config>) =>
  openpgp.encrypt({ message: await openpgp.createMessage({ text }), passwords: ['a long passphrase'], format: 'armored', ...(config ? { config } : {}) });

describe('PUT /users/me/key-backup', () => {
  it('stores a passphrase-encrypted message that GET answers as it was, with updatedAt', async () => {
    const backup = await passphraseMessage();
    const res = await put(backup);
    expect(res.status).toBe(204);
    const read = await get();
    expect(read.status).toBe(200);
    expect(read.body).toEqual({ backup, updatedAt: new Date(t.clock.now()).toISOString() });
    expect(read.headers['cache-control']).toBe('no-store');
  });

  it('accepts an RFC 9580 message (argon2 S2K, AEAD) and one encrypted to a public key', async () => {
    const modern = await passphraseMessage('x', { s2kType: openpgp.enums.s2k.argon2, aeadProtect: true });
    expect((await put(modern)).status).toBe(204);
    const encryptionKeys = await openpgp.readKey({ armoredKey: fixture(ED25519.file) });
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- readKey is typed as the abstract Key, but every key it makes is a PublicKey (a PrivateKey extends it)
    const toKey = await openpgp.encrypt({ message: await openpgp.createMessage({ text: 'x' }), encryptionKeys, format: 'armored' });
    expect((await put(toKey)).status).toBe(204);
  });

  it('replaces the earlier backup: one per account', async () => {
    await put(await passphraseMessage('first'));
    t.clock.advance(60);
    const second = await passphraseMessage('second');
    expect((await put(second)).status).toBe(204);
    expect((await get()).body).toEqual({ backup: second, updatedAt: new Date(t.clock.now()).toISOString() });
  });

  const refused: Array<[string, () => Promise<unknown>]> = [
    ['a public key', async () => fixture(ED25519.file)],
    ['a private key', async () => (await openpgp.generateKey({ userIDs: [{ name: 'x' }], type: 'curve25519', format: 'armored' })).privateKey],
    ['an unencrypted message', async () => (await openpgp.createMessage({ text: 'my key in clear' })).armor()],
    [
      'a signed, unencrypted message',
      async () => {
        const { privateKey } = await openpgp.generateKey({ userIDs: [{ name: 'x' }], type: 'curve25519', format: 'object' });
        return openpgp.sign({ message: await openpgp.createMessage({ text: 'hi' }), signingKeys: privateKey, format: 'armored' });
      },
    ],
    ['a message with its last line of data cut off', async () => withoutLastDataLine(await passphraseMessage())],
    ['a message whose armor checksum is wrong', async () => withBadChecksum(await passphraseMessage())],
    ['a message with text after the armor', async () => `${await passphraseMessage()}\nand then some`],
    ['a message under a key armor header', async () => (await passphraseMessage()).replaceAll('PGP MESSAGE', 'PGP PUBLIC KEY BLOCK')],
    ['an armor with no packets in it', async () => '-----BEGIN PGP MESSAGE-----\n\n-----END PGP MESSAGE-----\n'],
    ['garbage', async () => 'hello'],
    ['an empty string', async () => ''],
    ['a number', async () => 42],
  ];

  it.each(refused)('refuses %s with 400 validation_failed and keeps the earlier backup', async (_label, make) => {
    const earlier = await passphraseMessage();
    await put(earlier);
    const res = await put(await make());
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details.fields[0].field).toBe('backup');
    expect((await get()).body.backup).toBe(earlier);
  });

  it('refuses a backup over 64 KiB with 400 validation_failed (when the body limit lets it through)', async () => {
    const roomy = makeTestApp({ env: { MAX_BODY_BYTES: '200000' } });
    try {
      const bob = await registerUser(roomy, { username: 'bob' });
      const big = await passphraseMessage('k'.repeat(70_000), { preferredCompressionAlgorithm: openpgp.enums.compression.uncompressed });
      expect(big.length).toBeGreaterThan(64 * 1024);
      const res = await roomy.http.put('/users/me/key-backup').set(bearer(bob)).send({ backup: big });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
    } finally {
      await roomy.close();
    }
  });

  it('tells the other devices with key-backup.changed (payload {}), not the one that wrote it', async () => {
    const phone = await signInDevice(t, alice, 'phone');
    expect((await put(await passphraseMessage())).status).toBe(204);
    expect(eventsIn(await poll(t, phone))).toEqual([{ type: 'key-backup.changed', from: 'alice', fromDevice: null, payload: {} }]);
    expect(eventsIn(await poll(t, alice))).toEqual([]);
  });

  it('writes key-backup.changed to the security log', async () => {
    await put(await passphraseMessage());
    expect(await securityTypes()).toEqual(['key-backup.changed']);
  });

  it('counts writes and deletions together per user: past RATE_KEY_BACKUP_USER, 429 and nothing changes', async () => {
    const limited = makeTestApp({ env: { RATE_KEY_BACKUP_USER: '3/3600' } });
    try {
      const bob = await registerUser(limited, { username: 'bob' });
      const send = async (backup?: string) =>
        backup === undefined ? limited.http.delete('/users/me/key-backup').set(bearer(bob)) : limited.http.put('/users/me/key-backup').set(bearer(bob)).send({ backup });
      const kept = await passphraseMessage('kept');
      expect((await send(await passphraseMessage('one'))).status).toBe(204);
      expect((await send()).status).toBe(204);
      expect((await send(kept)).status).toBe(204);
      const refused = await send(await passphraseMessage('four'));
      expect(refused.status).toBe(429);
      expect(refused.body.error.code).toBe('rate_limited');
      expect((await send()).status).toBe(429);
      expect((await limited.http.get('/users/me/key-backup').set(bearer(bob))).body.backup).toBe(kept);
    } finally {
      await limited.close();
    }
  });

  it('needs a signed-in user', async () => {
    expect((await t.http.put('/users/me/key-backup').send({ backup: await passphraseMessage() })).status).toBe(401);
  });
});

describe('GET /users/me/key-backup', () => {
  it('answers 404 not_found when there is none', async () => {
    const res = await get();
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });

  it("never answers another account's backup", async () => {
    await put(await passphraseMessage());
    const bob = await registerUser(t, { username: 'bob' });
    expect((await get(bob)).status).toBe(404);
  });
});

describe('DELETE /users/me/key-backup', () => {
  it('deletes the backup, tells the other devices and the security log', async () => {
    await put(await passphraseMessage());
    const phone = await signInDevice(t, alice, 'phone');
    expect((await remove()).status).toBe(204);
    expect((await get()).status).toBe(404);
    expect(eventsIn(await poll(t, phone)).map((e) => e.type)).toEqual(['key-backup.changed']);
    expect(await securityTypes()).toEqual(['key-backup.changed', 'login', 'key-backup.changed']);
  });

  it('answers 204 when there is none, and tells nobody', async () => {
    const phone = await signInDevice(t, alice, 'phone');
    expect((await remove()).status).toBe(204);
    expect(eventsIn(await poll(t, phone))).toEqual([]);
    expect(await securityTypes()).toEqual(['login']);
  });
});

/** The same armor without its last line of base64 data (the packets end too early); the checksum line, if any, goes too. */
function withoutLastDataLine(armored: string): string {
  const lines = armored.split('\n').filter((l) => !/^=[A-Za-z0-9+/]{4}$/.test(l));
  const end = lines.indexOf('-----END PGP MESSAGE-----');
  lines.splice(end - 1, 1);
  return lines.join('\n');
}

/** The same armor with its CRC-24 line changed. */
function withBadChecksum(armored: string): string {
  const lines = armored.split('\n');
  const i = lines.findIndex((l) => /^=[A-Za-z0-9+/]{4}$/.test(l));
  if (i >= 0) {
    lines[i] = lines[i] === '=AAAA' ? '=BBBB' : '=AAAA';
    return lines.join('\n');
  }
  // openpgp.js may leave the optional checksum out: add a wrong one before the end line.
  const end = lines.indexOf('-----END PGP MESSAGE-----');
  lines.splice(end, 0, '=AAAA');
  return lines.join('\n');
}
