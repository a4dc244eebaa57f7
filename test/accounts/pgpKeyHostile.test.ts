import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { configurePgpChecks, PGP_CHECK_TIMEOUT_MS, resetPgpChecks } from '../../app/accounts/pgpKey.js';
import { makeTestApp } from '../helpers/app.js';
import { bearer, putPgpKey, registerUser } from '../helpers/factories.js';
import { useTestApp, withUser } from '../helpers/perTest.js';
import { ED25519, fixture, RSA4096 } from '../helpers/pgpFixtures.js';
import { ALGO, dsa, elgamal, hostileKey, OID, onCurve, pastTheQuickScan, rsa } from '../helpers/hostileKeys.js';

// docs/security.md: an OpenPGP key is checked by verifying its self-signatures, whose cost the key's own numbers set.
// Each key below is refused by the allow-list before any signature arithmetic, in milliseconds; without it
// the DSA ones cost seconds to minutes of event-loop time (see docs/security.md for the measured figures).

const t = useTestApp();
const alice = withUser(t);

const registration = (username: string, pgpPublicKey?: string) => ({
  username,
  email: `${username}@example.org`,
  password: 'correct horse battery',
  pgpPublicKey,
});

/** Hostile keys, made fresh per run, and the words of the rule that refuses each. */
const HOSTILE: Array<[name: string, key: () => string, rule: RegExp]> = [
  ['DSA with a 4096-bit p and q', () => hostileKey(dsa(4096, 4096)), /uses DSA, which is not accepted/],
  ['DSA with a 16384-bit p and q', () => hostileKey(dsa(16384, 16384)), /uses DSA, which is not accepted/],
  ['RSA with a 16384-bit modulus', () => hostileKey(rsa(16384)), /RSA modulus of 16384 bits; RSA keys must have 2048 to 4096 bits/],
  ['RSA 4096 with a 4096-bit public exponent', () => hostileKey(rsa(4096, 4096)), /RSA public exponent of 4096 bits/],
  ['RSA with a 1024-bit modulus', () => hostileKey(rsa(1024)), /RSA modulus of 1024 bits/],
  ['an RSA 2048 key with an ElGamal 16384 subkey', () => hostileKey(rsa(2048), elgamal(16384)), /uses ElGamal, which is not accepted/],
  [
    'an Ed25519 key with an oversized ECDH point',
    () => hostileKey(onCurve(ALGO.eddsaLegacy, OID.ed25519Legacy, 33), onCurve(ALGO.ecdh, OID.curve25519Legacy, 4000)),
    /point is longer than the curve allows/,
  ],
];

/** Curves off the list; openpgp.js itself cannot read these random points, so only the quick scan names the rule. */
const OFF_LIST_CURVES: typeof HOSTILE = [
  ['ECDSA on brainpoolP512r1', () => hostileKey(onCurve(ALGO.ecdsa, OID.brainpoolP512r1, 129)), /elliptic curve that is not accepted/],
  ['EdDSA legacy on a NIST curve', () => hostileKey(onCurve(ALGO.eddsaLegacy, OID.p256, 33)), /elliptic curve that is not accepted/],
];

describe('PUT /auth/pgp-key with hostile keys', () => {
  it.each([...HOSTILE, ...OFF_LIST_CURVES])('refuses %s with 400 invalid_pgp_key naming the rule', async (_name, key, rule) => {
    const res = await putPgpKey(t, alice, key());
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_pgp_key', message: expect.stringMatching(rule) });
  });

  it.each(HOSTILE)('refuses %s in the worker too, when the quick scan cannot read the block', async (_name, key, rule) => {
    const res = await putPgpKey(t, alice, pastTheQuickScan(key()));
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_pgp_key', message: expect.stringMatching(rule) });
  });

  it('still stores a good key that reaches the worker past the quick scan', async () => {
    const res = await putPgpKey(t, alice, pastTheQuickScan(fixture(ED25519.file)));
    expect(res.status).toBe(200);
    expect(res.body.pgp.fingerprint).toBe(ED25519.fingerprint);
  });
});

describe('POST /auth/register with a hostile pgpPublicKey', () => {
  it('refuses the 17 KB DSA key of the report and creates no account', async () => {
    const res = await t.http.post('/auth/register').send(registration('dsa_attacker', hostileKey(dsa(20480, 20480))));
    expect(res.body.error).toMatchObject({ code: 'invalid_pgp_key', message: expect.stringMatching(/uses DSA/) });
    expect(await t.store.users.findByUsername('dsa_attacker')).toBeNull();
  });
});

describe('the event loop during a hostile upload', () => {
  /**
   * The brief's bound. Unprotected, this key held /health for about 11 s (docs/security.md); protected,
   * /health answers in a few milliseconds, so 100 ms only fails when the loop is blocked.
   */
  const HEALTH_BUDGET_MS = 100;

  it.each([
    ['refused by the quick scan', (k: string) => k],
    ['refused in the worker', pastTheQuickScan],
  ])('answers /health within 100 ms while a 16384-bit DSA key is uploaded (%s)', async (_path, shape) => {
    const server = createServer(t.app.handler).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      // One /health first, outside the measure: the client's first connection, the route's first run and
      // the health write probe (at most every 5 s) are costs of a cold start, not of the upload.
      expect((await fetch(`${base}/health`)).status).toBe(200);
      // Cleared by the upload's finally: the cast keeps TypeScript from narrowing it to true in the loop.
      let uploading = true as boolean;
      const upload = fetch(`${base}/auth/pgp-key`, {
        method: 'PUT',
        headers: { ...bearer(alice), 'content-type': 'application/json' },
        body: JSON.stringify({ publicKey: shape(hostileKey(dsa(16384, 16384))) }),
      }).finally(() => (uploading = false));
      // /health one request after another for as long as the upload is unanswered (at least once).
      const latencies: number[] = [];
      do {
        const started = performance.now();
        const health = await fetch(`${base}/health`);
        await health.arrayBuffer();
        expect(health.status).toBe(200);
        latencies.push(performance.now() - started);
      } while (uploading);
      expect(Math.max(...latencies)).toBeLessThan(HEALTH_BUDGET_MS);
      expect((await upload).status).toBe(400);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('the key-check workers', () => {
  afterEach(() => resetPgpChecks());

  it('refuses a key whose check outlasts the time limit with invalid_pgp_key', async () => {
    // A time limit far below any real check reaches the timeout path with a good key.
    await configurePgpChecks({ timeoutMs: 1 });
    const res = await putPgpKey(t, alice, fixture(RSA4096.file));
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_pgp_key', message: expect.stringMatching(/took too long to check/) });
  });

  it('replaces a worker stopped at the time limit, so the next key is checked', async () => {
    await configurePgpChecks({ workers: 1, timeoutMs: 1 });
    expect((await putPgpKey(t, alice, fixture(RSA4096.file))).status).toBe(400);
    await configurePgpChecks({ timeoutMs: PGP_CHECK_TIMEOUT_MS });
    const res = await putPgpKey(t, alice, fixture(ED25519.file));
    expect(res.status).toBe(200);
  });

  it('answers 503 unavailable with Retry-After when the queue of checks is full', async () => {
    // One worker, one waiting check: of six at once (the first waits for the worker to start), the rest are turned away.
    await configurePgpChecks({ workers: 1, queue: 1 });
    const answers = await Promise.all(Array.from({ length: 6 }, () => putPgpKey(t, alice, fixture(ED25519.file))));
    const busy = answers.filter((r) => r.status === 503);
    expect(busy.length).toBeGreaterThan(0);
    expect(busy[0]!.body.error.code).toBe('unavailable');
    expect(Number(busy[0]!.headers['retry-after'])).toBeGreaterThan(0);
    expect(answers.filter((r) => r.status === 200).length).toBeGreaterThan(0);
  });
});

describe('key upload limits', () => {
  it('limits uploads per account (RATE_PGP_USER)', async () => {
    const limited = makeTestApp({ env: { RATE_PGP_USER: '2/3600' } });
    try {
      const bob = await registerUser(limited);
      for (let i = 0; i < 2; i++) expect((await putPgpKey(limited, bob, fixture(ED25519.file))).status).toBe(200);
      const res = await putPgpKey(limited, bob, fixture(ED25519.file));
      expect(res.status).toBe(429);
      expect(res.body.error.code).toBe('rate_limited');
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    } finally {
      await limited.close();
    }
  });

  it('counts refused uploads against the account limit', async () => {
    const limited = makeTestApp({ env: { RATE_PGP_USER: '2/3600' } });
    try {
      const bob = await registerUser(limited);
      for (let i = 0; i < 2; i++) expect((await putPgpKey(limited, bob, hostileKey(dsa(4096, 4096)))).status).toBe(400);
      expect((await putPgpKey(limited, bob, fixture(ED25519.file))).status).toBe(429);
    } finally {
      await limited.close();
    }
  });

  it('limits uploads per client IP across accounts (RATE_PGP_IP)', async () => {
    const limited = makeTestApp({ env: { RATE_PGP_IP: '2/3600' } });
    try {
      const users = [await registerUser(limited), await registerUser(limited), await registerUser(limited)];
      expect((await putPgpKey(limited, users[0]!, fixture(ED25519.file))).status).toBe(200);
      expect((await putPgpKey(limited, users[1]!, fixture(ED25519.file))).status).toBe(200);
      const res = await putPgpKey(limited, users[2]!, fixture(ED25519.file));
      expect(res.status).toBe(429);
      expect(res.body.error.code).toBe('rate_limited');
    } finally {
      await limited.close();
    }
  });

  it('counts registrations that carry a key against the per-IP limit', async () => {
    const limited = makeTestApp({ env: { RATE_PGP_IP: '2/3600' } });
    try {
      for (const name of ['keyed_one', 'keyed_two']) {
        expect((await limited.http.post('/auth/register').send(registration(name, fixture(ED25519.file)))).status).toBe(201);
      }
      const res = await limited.http.post('/auth/register').send(registration('keyed_three', fixture(ED25519.file)));
      expect(res.status).toBe(429);
      expect(await limited.store.users.findByUsername('keyed_three')).toBeNull();
    } finally {
      await limited.close();
    }
  });

  it('does not count registrations without a key against the key-upload limit', async () => {
    const limited = makeTestApp({ env: { RATE_PGP_IP: '1/3600' } });
    try {
      for (const name of ['plain_one', 'plain_two']) {
        expect((await limited.http.post('/auth/register').send(registration(name))).status).toBe(201);
      }
      expect((await limited.http.post('/auth/register').send(registration('keyed_after', fixture(ED25519.file)))).status).toBe(201);
    } finally {
      await limited.close();
    }
  });
});
