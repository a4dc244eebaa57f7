import { describe, expect, it } from '@jest/globals';
import { decodeJwt, SignJWT } from 'jose';
import { TEST_SECRETS } from '../helpers/app.js';
import { useTestApp, withUser } from '../helpers/perTest.js';

const t = useTestApp();
const alice = withUser(t);

/** A token with alice's real claims, signed with the server's real secret, under the given header. */
async function tokenWithHeader(header: { alg: 'HS256'; typ?: string }): Promise<string> {
  const claims = decodeJwt(alice.accessToken);
  return new SignJWT({ sid: claims.sid })
    .setProtectedHeader(header)
    .setIssuer(claims.iss!)
    .setAudience(claims.aud!)
    .setSubject(claims.sub!)
    .setIssuedAt(claims.iat)
    .setExpirationTime(claims.exp!)
    .sign(TEST_SECRETS.jwtSecret);
}

const me = (token: string) => t.http.get('/users/me').set('Authorization', `Bearer ${token}`);

describe('access token typ header (RFC 8725 §3.11)', () => {
  it('accepts a token made the same way with typ JWT (the test forges correctly)', async () => {
    expect((await me(await tokenWithHeader({ alg: 'HS256', typ: 'JWT' }))).status).toBe(200);
  });

  it('refuses a correctly signed token whose typ is another type with 401', async () => {
    const res = await me(await tokenWithHeader({ alg: 'HS256', typ: 'refresh+jwt' }));
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
  });

  it('refuses a correctly signed token with no typ with 401', async () => {
    expect((await me(await tokenWithHeader({ alg: 'HS256' }))).status).toBe(401);
  });

  it('refuses another typ even after the same claims were accepted under typ JWT (the memo is per token)', async () => {
    expect((await me(await tokenWithHeader({ alg: 'HS256', typ: 'JWT' }))).status).toBe(200);
    expect((await me(await tokenWithHeader({ alg: 'HS256', typ: 'at+jwt' }))).status).toBe(401);
  });
});
