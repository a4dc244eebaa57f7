import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { bearer, registerUser, type TestUser } from '../helpers/factories.js';
import type { Scope } from '../helpers/perTest.js';
import {
  armorBodyLines,
  armorPublic,
  ED25519,
  fixture,
  NISTP256,
  oversizedBlock,
  RSA4096,
  secretUnderPublicArmor,
  tamperedSelfSignature,
} from '../helpers/pgpFixtures.js';

const t = {} as TestApp;
const alice = {} as TestUser;

/**
 * Fills `t` and `alice` with a fresh app and user before each test, or once for a describe (`all`) whose tests
 * each leave them as found: keys the rules refuse change nothing, and a test that needs a key first puts it.
 */
function appWithAlice(scope: Scope): void {
  const [before, after] = scope === 'each' ? [beforeEach, afterEach] : [beforeAll, afterAll];
  before(async () => {
    Object.assign(t, makeTestApp());
    Object.assign(alice, await registerUser(t));
  });
  after(() => t.close());
}

const put = (user: TestUser, body: unknown) =>
  t.http
    .put('/auth/pgp-key')
    .set(bearer(user))
    .send(body as object);
const me = async (user: TestUser) => (await t.http.get('/users/me').set(bearer(user))).body.user;

/** Every key the rules refuse, with the words the message must use to say which rule failed. */
const REFUSED: Array<[name: string, key: () => string, rule: RegExp]> = [
  ['a secret key', () => fixture('secret.sec.asc'), /secret-key material/],
  ['secret packets under a public-key armor header', secretUnderPublicArmor, /secret-key material/],
  ['two keys in one block', () => fixture('two-keys.pub.asc'), /2 keys; upload exactly one/],
  ['an expired key', () => fixture('expired.pub.asc'), /expired on 2024-12-31/],
  ['a revoked key', () => fixture('revoked.pub.asc'), /revoked/],
  ['a key whose self-signature does not verify', tamperedSelfSignature, /self-signature/],
  ['garbage', () => 'this is not a key at all', /not an ASCII-armored OpenPGP public key/],
  ['an empty string', () => '', /not an ASCII-armored OpenPGP public key/],
  ['an armored message instead of a key', () => fixture(ED25519.file).replaceAll('PUBLIC KEY BLOCK', 'MESSAGE'), /not an ASCII-armored/],
  ['a block cut off inside a packet header', () => armorPublic(Buffer.from([0xc6, 0xff, 0x00])), /not an ASCII-armored/],
  // Clients encrypt signals to the key (docs/api.md v1.1), so a key that cannot receive them is refused.
  ['a sign-only key (GnuPG ed25519 without a subkey)', () => fixture('ed25519-sign-only.pub.asc'), /no usable encryption key/],
  ['a key whose only encryption subkey has expired', () => fixture('encryption-expired.pub.asc'), /no usable encryption key/],
  // DSA signatures are checked in pure-JS arithmetic whose cost the key's numbers set (docs/security.md).
  ['a GnuPG DSA 2048 key with an ElGamal subkey', () => fixture('dsa2048.pub.asc'), /uses DSA, which is not accepted/],
];

describe('PUT /auth/pgp-key', () => {
  appWithAlice('each');
  it('stores a GnuPG ed25519 key and answers what was read from it', async () => {
    const res = await put(alice, { publicKey: fixture(ED25519.file) });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      pgp: {
        fingerprint: ED25519.fingerprint,
        algorithm: 'ed25519',
        createdAt: '2025-01-01T00:00:00.000Z',
        expiresAt: null,
        publicKey: expect.stringMatching(/^-----BEGIN PGP PUBLIC KEY BLOCK-----\n[\s\S]+-----END PGP PUBLIC KEY BLOCK-----\n?$/),
      },
    });
  });

  it('stores a GnuPG RSA 4096 key with its size in the algorithm name', async () => {
    const res = await put(alice, { publicKey: fixture(RSA4096.file) });
    expect(res.status).toBe(200);
    expect(res.body.pgp).toMatchObject({ fingerprint: RSA4096.fingerprint, algorithm: 'rsa4096', createdAt: '2025-01-01T00:00:00.000Z' });
  });

  it('stores a GnuPG ECDSA NIST P-256 key with an ECDH subkey', async () => {
    const res = await put(alice, { publicKey: fixture(NISTP256.file) });
    expect(res.status).toBe(200);
    expect(res.body.pgp).toMatchObject({ fingerprint: NISTP256.fingerprint, algorithm: 'ecdsa-nistp256' });
  });

  it('shows the stored key on the own account', async () => {
    const { body } = await put(alice, { publicKey: fixture(ED25519.file) });
    expect((await me(alice)).pgp).toEqual(body.pgp);
  });

  it('stores the key re-armored from the parsed packets, not the uploaded text', async () => {
    // A comment header is part of the upload but not of the key; re-armoring drops it.
    const withComment = fixture(ED25519.file).replace('-----\n', '-----\nComment: uploaded by a test\n');
    const res = await put(alice, { publicKey: withComment });
    expect(res.status).toBe(200);
    expect(res.body.pgp.publicKey).not.toContain('uploaded by a test');
  });

  it('stores a key that reads back as the same key', async () => {
    const first = await put(alice, { publicKey: fixture(ED25519.file) });
    const again = await put(alice, { publicKey: first.body.pgp.publicKey });
    expect(again.body.pgp).toEqual(first.body.pgp);
  });

  it('judges expiry by the server clock: the expired fixture is accepted while it was still valid', async () => {
    // The fixture expired on 2024-12-31; with the injected clock at 2024-06-01 it is a good key.
    t.clock.advance(-(Date.parse('2026-06-01T12:00:00Z') - Date.parse('2024-06-01T12:00:00Z')) / 1000);
    const bob = await registerUser(t);
    const res = await put(bob, { publicKey: fixture('expired.pub.asc') });
    expect(res.status).toBe(200);
    expect(res.body.pgp.expiresAt).toBe('2024-12-31T00:00:00.000Z');
  });

  it('replaces an earlier key', async () => {
    await put(alice, { publicKey: fixture(ED25519.file) });
    await put(alice, { publicKey: fixture(RSA4096.file) });
    expect((await me(alice)).pgp.fingerprint).toBe(RSA4096.fingerprint);
  });

  it('never echoes, logs or stores secret-key material', async () => {
    const secret = fixture('secret.sec.asc');
    const res = await put(alice, { publicKey: secretUnderPublicArmor() });
    const seen = res.text + JSON.stringify(t.logs) + JSON.stringify(await t.store.users.findById(alice.id));
    for (const line of armorBodyLines(secret)) expect(seen).not.toContain(line);
  });

  it('refuses a block over 64 KiB with invalid_pgp_key when the body limit lets it through', async () => {
    const big = makeTestApp({ env: { MAX_BODY_BYTES: String(256 * 1024) } });
    try {
      const bob = await registerUser(big);
      const res = await big.http.put('/auth/pgp-key').set(bearer(bob)).send({ publicKey: oversizedBlock() });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'invalid_pgp_key', message: expect.stringMatching(/larger than 64 KiB/) });
    } finally {
      await big.close();
    }
  });

  it('answers an oversized block with 413 under the default 64 KiB body limit', async () => {
    const res = await put(alice, { publicKey: oversizedBlock() });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
  });

  it.each([
    ['a missing publicKey', {}],
    ['a publicKey that is not a string', { publicKey: 42 }],
    ['an unknown field', { publicKey: fixture(ED25519.file), privateKey: 'x' }],
  ])('answers %s with 400 validation_failed', async (_why, body) => {
    const res = await put(alice, body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
  });

  it('needs an access token', async () => {
    const res = await t.http.put('/auth/pgp-key').send({ publicKey: fixture(ED25519.file) });
    expect(res.status).toBe(401);
  });
});

describe('DELETE /auth/pgp-key', () => {
  appWithAlice('each');
  it('removes the key and answers 204', async () => {
    await put(alice, { publicKey: fixture(ED25519.file) });
    const res = await t.http.delete('/auth/pgp-key').set(bearer(alice));
    expect(res.status).toBe(204);
    expect((await me(alice)).pgp).toBeNull();
  });

  it('answers 204 when there is no key to remove', async () => {
    const res = await t.http.delete('/auth/pgp-key').set(bearer(alice));
    expect(res.status).toBe(204);
  });

  it('needs an access token', async () => {
    expect((await t.http.delete('/auth/pgp-key')).status).toBe(401);
  });
});

const registration = (username: string, pgpPublicKey: unknown) => ({
  username,
  email: `${username}@example.org`,
  password: 'correct horse battery',
  pgpPublicKey,
});

describe('POST /auth/register with pgpPublicKey', () => {
  appWithAlice('each');

  it('stores a GnuPG ed25519 key with the new account', async () => {
    const res = await t.http.post('/auth/register').send(registration('keyed_ed', fixture(ED25519.file)));
    expect(res.status).toBe(201);
    expect(res.body.user.pgp).toMatchObject({ fingerprint: ED25519.fingerprint, algorithm: 'ed25519', expiresAt: null });
  });

  it('stores a GnuPG RSA 4096 key with the new account', async () => {
    const res = await t.http.post('/auth/register').send(registration('keyed_rsa', fixture(RSA4096.file)));
    expect(res.status).toBe(201);
    expect(res.body.user.pgp).toMatchObject({ fingerprint: RSA4096.fingerprint, algorithm: 'rsa4096' });
  });

  it('accepts a null pgpPublicKey as no key', async () => {
    const res = await t.http.post('/auth/register').send(registration('keyless', null));
    expect(res.status).toBe(201);
    expect(res.body.user.pgp).toBeNull();
  });

  it('refuses a block over 64 KiB and creates no account when the body limit lets it through', async () => {
    const big = makeTestApp({ env: { MAX_BODY_BYTES: String(256 * 1024) } });
    try {
      const res = await big.http.post('/auth/register').send(registration('too_big', oversizedBlock()));
      expect(res.body.error).toMatchObject({ code: 'invalid_pgp_key', message: expect.stringMatching(/larger than 64 KiB/) });
      expect(await big.store.users.findByUsername('too_big')).toBeNull();
    } finally {
      await big.close();
    }
  });
});

// One app for these: every key here is refused, which changes nothing (what these tests assert).
describe('keys the rules refuse', () => {
  appWithAlice('all');

  describe('PUT /auth/pgp-key', () => {
    it.each(REFUSED)('refuses %s with 400 invalid_pgp_key naming the rule', async (_name, key, rule) => {
      const res = await put(alice, { publicKey: key() });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_pgp_key');
      expect(res.body.error.message).toMatch(rule);
    });

    it.each(REFUSED)('keeps the earlier key when refusing %s', async (_name, key) => {
      await put(alice, { publicKey: fixture(ED25519.file) });
      await put(alice, { publicKey: key() });
      expect((await me(alice)).pgp.fingerprint).toBe(ED25519.fingerprint);
    });
  });

  describe('POST /auth/register with pgpPublicKey', () => {
    it.each(REFUSED)('refuses %s with 400 invalid_pgp_key and creates no account', async (_name, key, rule) => {
      const res = await t.http.post('/auth/register').send(registration('refused_key', key()));
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'invalid_pgp_key', message: expect.stringMatching(rule) });
      expect(await t.store.users.findByUsername('refused_key')).toBeNull();
    });
  });
});
