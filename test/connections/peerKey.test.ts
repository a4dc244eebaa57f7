import { describe, expect, it } from '@jest/globals';
import { connect } from '../helpers/connections.js';
import { bearer, putPgpKey } from '../helpers/factories.js';
import { useTestApp, withUser } from '../helpers/perTest.js';
import { ED25519, fixture } from '../helpers/pgpFixtures.js';

const t = useTestApp();
const alice = withUser(t);
const bob = withUser(t);

describe('connection.pgp', () => {
  it("carries the other member's public key, so a client can encrypt to each connection at once", async () => {
    expect((await putPgpKey(t, alice, fixture(ED25519.file))).status).toBe(200);
    await connect(t, alice, bob);
    const res = await t.http.get('/connections/').set(bearer(bob));
    expect(res.body.connections).toEqual([
      expect.objectContaining({
        username: alice.username,
        pgp: expect.objectContaining({ fingerprint: ED25519.fingerprint, publicKey: expect.stringContaining('BEGIN PGP PUBLIC KEY BLOCK') }),
      }),
    ]);
  });

  it('is null for a member without a key', async () => {
    await connect(t, alice, bob);
    const res = await t.http.get('/connections/').set(bearer(alice));
    expect(res.body.connections[0].pgp).toBeNull();
  });

  it('is in the answer that accepts a request', async () => {
    await putPgpKey(t, alice, fixture(ED25519.file));
    await t.http.post('/connections/request').set(bearer(alice)).send({ username: bob.username });
    const res = await t.http.post('/connections/respond').set(bearer(bob)).send({ username: alice.username, action: 'accept' });
    expect(res.body.connection.pgp.fingerprint).toBe(ED25519.fingerprint);
  });
});

describe('GET /connections', () => {
  it('answers the same as /connections/ without the trailing slash', async () => {
    await connect(t, alice, bob);
    const bare = await t.http.get('/connections').set(bearer(alice));
    expect(bare.status).toBe(200);
    expect(bare.body).toEqual((await t.http.get('/connections/').set(bearer(alice))).body);
  });
});
