import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import Database from '../../app/store/sqlite/driver.js';
import { describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import { bearer, registerUser, type TestUser } from '../helpers/factories.js';
import { useTestApp, withUser } from '../helpers/perTest.js';

const t = useTestApp();
const alice = withUser(t, { username: 'alice', password: 'correct horse battery' });

const me = (u: { accessToken: string }) => t.http.get('/users/me').set(bearer(u));
const refresh = (refreshToken: string) => t.http.post('/auth/refresh').send({ refreshToken });
const login = (password = 'correct horse battery') => t.http.post('/auth/login').send({ username: 'alice', password });

describe('POST /auth/refresh', () => {
  it('swaps the refresh token for a new pair in the same session', async () => {
    const res = await refresh(alice.refreshToken);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ user: { id: alice.id }, tokenType: 'Bearer', expiresIn: 900 });
    expect(res.body.refreshToken).not.toBe(alice.refreshToken);
    expect(res.headers['cache-control']).toBe('no-store');
    expect((await me(res.body)).status).toBe(200);
  });

  it('issues 256-bit refresh tokens and stores only their hash', async () => {
    expect(Buffer.from(alice.refreshToken, 'base64url')).toHaveLength(32);
    const db = new Database(join(t.dir, 'signalbox.db'), { readonly: true });
    try {
      const rows = db.prepare('SELECT * FROM refresh_tokens').all();
      expect(rows).toHaveLength(1);
      expect(JSON.stringify(rows)).not.toContain(alice.refreshToken);
    } finally {
      db.close();
    }
  });

  it('refuses the old refresh token once it was rotated', async () => {
    await refresh(alice.refreshToken);
    const again = await refresh(alice.refreshToken);
    expect(again.status).toBe(401);
    expect(again.body.error.code).toBe('unauthorized');
  });

  it('ends the whole session when a rotated token is presented again', async () => {
    const rotated = await refresh(alice.refreshToken);
    await refresh(alice.refreshToken); // the thief, or the victim, replays the old token
    expect((await refresh(rotated.body.refreshToken)).status).toBe(401);
    expect((await me(rotated.body)).status).toBe(401);
    expect((await me(alice)).status).toBe(401);
  });

  it('leaves the other sessions of the user alone when one session is ended for reuse', async () => {
    const other = (await login()).body;
    await refresh(alice.refreshToken);
    await refresh(alice.refreshToken);
    expect((await me(other)).status).toBe(200);
    expect((await refresh(other.refreshToken)).status).toBe(200);
  });

  it('refuses an unknown refresh token', async () => {
    expect((await refresh('a'.repeat(43))).status).toBe(401);
  });

  it('refuses a refresh token after REFRESH_TOKEN_TTL', async () => {
    t.clock.advance(2_592_000);
    expect((await refresh(alice.refreshToken)).status).toBe(401);
  });

  it('extends the session by REFRESH_TOKEN_TTL from each rotation', async () => {
    t.clock.advance(2_000_000);
    const rotated = await refresh(alice.refreshToken);
    t.clock.advance(2_000_000);
    expect((await refresh(rotated.body.refreshToken)).status).toBe(200);
  });
});

describe('access tokens', () => {
  const sign = (secret: Buffer, claims: Record<string, unknown>, alg = 'HS256') => new SignJWT(claims).setProtectedHeader({ alg }).sign(secret);
  const validClaims = () => {
    const payload = JSON.parse(Buffer.from(alice.accessToken.split('.')[1]!, 'base64url').toString());
    return payload as Record<string, unknown>;
  };

  it('carries issuer, audience, subject, session id and expiry', () => {
    expect(validClaims()).toEqual({
      iss: 'signalbox',
      aud: 'signalbox',
      sub: alice.id,
      sid: expect.any(String),
      iat: expect.any(Number),
      exp: (validClaims().iat as number) + 900,
    });
  });

  it('stops working after ACCESS_TOKEN_TTL even when it was accepted just before', async () => {
    expect((await me(alice)).status).toBe(200);
    t.clock.advance(899);
    expect((await me(alice)).status).toBe(200);
    t.clock.advance(1);
    expect((await me(alice)).status).toBe(401);
  });

  it('refuses a token that differs in one character from one accepted before', async () => {
    expect((await me(alice)).status).toBe(200);
    // The first character of the signature: all six of its bits count (the last one's may be padding).
    const at = alice.accessToken.lastIndexOf('.') + 1;
    const swapped = alice.accessToken[at] === 'A' ? 'B' : 'A';
    const altered = alice.accessToken.slice(0, at) + swapped + alice.accessToken.slice(at + 1);
    expect((await me({ accessToken: altered })).status).toBe(401);
  });

  it('stops working after ACCESS_TOKEN_TTL', async () => {
    t.clock.advance(901);
    const res = await me(alice);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
  });

  it.each([
    ['no Authorization header', undefined],
    ['another scheme', 'Basic YWxpY2U6cHc='],
    ['a malformed token', 'Bearer not.a.jwt'],
    ['an empty bearer', 'Bearer '],
  ])('refuses %s with 401 unauthorized', async (_label, header) => {
    const req = t.http.get('/users/me');
    const res = await (header === undefined ? req : req.set('Authorization', header));
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
  });

  it('refuses a token whose payload was altered', async () => {
    const [h, , s] = alice.accessToken.split('.');
    const forged = Buffer.from(JSON.stringify({ ...validClaims(), sub: 'someone-else' })).toString('base64url');
    expect((await me({ accessToken: `${h}.${forged}.${s}` })).status).toBe(401);
  });

  it('refuses a token signed with another secret', async () => {
    const token = await sign(Buffer.alloc(32, 1), validClaims());
    expect((await me({ accessToken: token })).status).toBe(401);
  });

  it('refuses the "none" algorithm', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const body = Buffer.from(JSON.stringify(validClaims())).toString('base64url');
    expect((await me({ accessToken: `${header}.${body}.` })).status).toBe(401);
  });

  it('refuses HS512 even with the right secret (algorithm pinned)', async () => {
    const token = await sign(t.config.jwtSecret, validClaims(), 'HS512');
    expect((await me({ accessToken: token })).status).toBe(401);
  });

  it.each([
    ['issuer', { iss: 'someone' }],
    ['audience', { aud: 'another-app' }],
  ])('refuses a correctly signed token of another %s', async (_label, change) => {
    const token = await sign(t.config.jwtSecret, { ...validClaims(), ...change });
    expect((await me({ accessToken: token })).status).toBe(401);
  });

  it('refuses a correctly signed token without a session id', async () => {
    const { sid: _sid, ...claims } = validClaims();
    const token = await sign(t.config.jwtSecret, claims);
    expect((await me({ accessToken: token })).status).toBe(401);
  });

  it('refuses a correctly signed token naming a session of another user', async () => {
    const bob = await registerUser(t);
    const token = await sign(t.config.jwtSecret, { ...validClaims(), sub: bob.id });
    expect((await me({ accessToken: token })).status).toBe(401);
  });

  it('is an HMAC-SHA256 over the JWT signing input with JWT_SECRET', () => {
    const [h, p, s] = alice.accessToken.split('.');
    const mac = createHmac('sha256', t.config.jwtSecret).update(`${h}.${p}`).digest('base64url');
    expect(s).toBe(mac);
  });
});

describe('POST /auth/logout', () => {
  it('ends the session: its access token stops working at once', async () => {
    const res = await t.http.post('/auth/logout').set(bearer(alice)).send({});
    expect(res.status).toBe(204);
    expect((await me(alice)).status).toBe(401);
  });

  it('ends the session: its refresh token stops working too', async () => {
    await t.http.post('/auth/logout').set(bearer(alice)).send({});
    expect((await refresh(alice.refreshToken)).status).toBe(401);
  });

  it('accepts a request with no body', async () => {
    expect((await t.http.post('/auth/logout').set(bearer(alice))).status).toBe(204);
  });

  it('leaves the other sessions of the user working', async () => {
    const other = (await login()).body;
    await t.http.post('/auth/logout').set(bearer(alice)).send({});
    expect((await me(other)).status).toBe(200);
  });

  it('needs a valid access token', async () => {
    expect((await t.http.post('/auth/logout').send({})).status).toBe(401);
  });
});

describe('POST /auth/change-password', () => {
  const change = (u: TestUser, body: Record<string, unknown>) => t.http.post('/auth/change-password').set(bearer(u)).send(body);

  it('changes the password: the new one signs in, the old one does not', async () => {
    const res = await change(alice, { currentPassword: 'correct horse battery', newPassword: 'a brand new secret' });
    expect(res.status).toBe(204);
    expect((await login('a brand new secret')).status).toBe(200);
    expect((await login('correct horse battery')).status).toBe(401);
  });

  it('ends every other session at once and keeps the current one', async () => {
    const other = (await login()).body;
    await change(alice, { currentPassword: 'correct horse battery', newPassword: 'a brand new secret' });
    expect((await me(other)).status).toBe(401);
    expect((await refresh(other.refreshToken)).status).toBe(401);
    expect((await me(alice)).status).toBe(200);
  });

  it('refuses a wrong current password with 403 invalid_password (not 401: the token is fine) and keeps the old password', async () => {
    const res = await change(alice, { currentPassword: 'not my password', newPassword: 'a brand new secret' });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('invalid_password');
    expect((await me(alice)).status).toBe(200);
    expect((await login()).status).toBe(200);
  });

  it.each([
    ['shorter than 8 characters', 'short'],
    ['longer than 256 characters', 'x'.repeat(257)],
    ['equal to the username', 'ALICE'],
  ])('refuses a new password %s with 400 validation_failed', async (_label, newPassword) => {
    const res = await change(alice, { currentPassword: 'correct horse battery', newPassword });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details.fields).toEqual([expect.objectContaining({ field: 'newPassword' })]);
    expect((await login()).status).toBe(200);
  });
});

describe('GET /users/me', () => {
  it('answers the own account with no-store', async () => {
    const res = await me(alice);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      user: { id: alice.id, username: 'alice', email: alice.email, birthday: null, createdAt: '2026-06-01T12:00:00.000Z', pgp: null, twoFactor: false },
    });
    expect(res.headers['cache-control']).toBe('no-store');
  });
});

describe('DELETE /users/me', () => {
  const del = (u: TestUser, password: string) => t.http.delete('/users/me').set(bearer(u)).send({ password });

  it('deletes the account: every session stops at once and the name and address are free again', async () => {
    const other = (await login()).body;
    const res = await del(alice, 'correct horse battery');
    expect(res.status).toBe(204);
    expect((await me(alice)).status).toBe(401);
    expect((await me(other)).status).toBe(401);
    expect((await refresh(other.refreshToken)).status).toBe(401);
    expect((await login()).status).toBe(401);
    expect(await t.store.users.findById(alice.id)).toBeNull();
    const again = await t.http.post('/auth/register').send({ username: 'alice', email: alice.email, password: 'another good password' });
    expect(again.status).toBe(201);
  });

  it('refuses a wrong password with 403 invalid_password (not 401: the token is fine) and keeps the account', async () => {
    const res = await del(alice, 'not my password');
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('invalid_password');
    expect((await me(alice)).status).toBe(200);
  });
});
