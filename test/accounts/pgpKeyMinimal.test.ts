import { describe, expect, it } from '@jest/globals';
import { config, enums, generateKey, readKey, SignaturePacket, type Key } from 'openpgp';
import { bearer, registerUser } from '../helpers/factories.js';
import { useTestApp, withUser } from '../helpers/perTest.js';
import { ED25519, fixture } from '../helpers/pgpFixtures.js';

// A key is stored and served minimised: one valid self-signature per user ID and subkey binding, and
// nothing that cannot be verified. Before, a key padded with 200 corrupted copies of its self-signature
// was stored as uploaded, and every peer's client paid for trying them at each encryption.

const t = useTestApp();
const alice = withUser(t);

/** A copy of `signature` whose last signature byte is changed: it parses, its hash prefix matches, it does not verify. */
function corrupted(signature: SignaturePacket): SignaturePacket {
  const body = signature.write();
  body[body.length - 1]! ^= 0x01;
  const copy = new SignaturePacket();
  copy.read(body);
  return copy;
}

/** The ed25519 fixture with corrupted copies after its user ID self-signature and after its subkey binding. */
async function paddedKey(copies: number, bindingCopies = copies / 2): Promise<string> {
  const key = await readKey({ armoredKey: fixture(ED25519.file) });
  const [user] = key.users;
  const [subkey] = key.subkeys;
  user!.selfCertifications.push(...Array.from({ length: copies }, () => corrupted(user!.selfCertifications[0]!)));
  subkey!.bindingSignatures.push(...Array.from({ length: bindingCopies }, () => corrupted(subkey!.bindingSignatures[0]!)));
  return key.armor();
}

/** How many signature packets of each kind the served key holds. */
function signatureCounts(key: Key) {
  return {
    userIDs: key.users.length,
    selfCertifications: key.users.map((u) => u.selfCertifications.length),
    otherCertifications: key.users.map((u) => u.otherCertifications.length),
    subkeys: key.subkeys.length,
    bindingSignatures: key.subkeys.map((s) => s.bindingSignatures.length),
  };
}

const put = (armored: string) => t.http.put('/auth/pgp-key').set(bearer(alice)).send({ publicKey: armored });

describe('PUT /auth/pgp-key stores a minimised key', () => {
  it('keeps one valid self-signature per user ID and subkey binding, out of 200 and 100 corrupted copies', async () => {
    const padded = await paddedKey(200);
    expect(signatureCounts(await readKey({ armoredKey: padded })).selfCertifications).toEqual([201]);
    const res = await put(padded);
    expect(res.status).toBe(200);
    const stored = await readKey({ armoredKey: res.body.pgp.publicKey });
    expect(signatureCounts(stored)).toEqual({ userIDs: 1, selfCertifications: [1], otherCertifications: [0], subkeys: 1, bindingSignatures: [1] });
    expect(stored.getFingerprint().toUpperCase()).toBe(ED25519.fingerprint);
    // What is kept is the signature that verifies: the served key is valid and can be encrypted to.
    const at = new Date(t.clock.now());
    await expect(stored.verifyPrimaryKey(at)).resolves.toBeUndefined();
    await expect(stored.getEncryptionKey(undefined, at)).resolves.toBeDefined();
    expect(res.body.pgp.publicKey.length).toBeLessThan(padded.length / 50);
  });

  it('serves other users the minimised key too', async () => {
    await put(await paddedKey(50));
    const bob = await registerUser(t);
    const profile = await t.http.get(`/users/${alice.username}`).set(bearer(bob));
    const served = await readKey({ armoredKey: profile.body.pgp.publicKey });
    expect(signatureCounts(served).selfCertifications).toEqual([1]);
    expect(signatureCounts(served).bindingSignatures).toEqual([1]);
  });

  it('drops third-party certifications, which nothing here can verify', async () => {
    const key = await readKey({ armoredKey: fixture(ED25519.file) });
    // Made and used before the server's (fixed) clock, so the certification is valid at its time.
    const date = new Date(t.clock.now() - 86_400_000);
    const { privateKey: certifier } = await generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: 'Certifier' }], date, format: 'object' });
    const certified = await key.users[0]!.certify([certifier], new Date(t.clock.now() - 1000), config);
    key.users[0]!.otherCertifications.push(...certified.otherCertifications);
    expect(key.users[0]!.otherCertifications[0]?.signatureType).toBe(enums.signature.certGeneric);
    const res = await put(key.armor());
    expect(res.status).toBe(200);
    expect(signatureCounts(await readKey({ armoredKey: res.body.pgp.publicKey })).otherCertifications).toEqual([0]);
  });
});
