import { describe, expect, it } from '@jest/globals';
import { makeTestApp } from '../helpers/app.js';
import { registerUser } from '../helpers/factories.js';
import { useTestApp } from '../helpers/perTest.js';

const t = useTestApp();

const valid = { username: 'Alice_1', email: 'Alice@Example.org', password: 'correct horse battery' };

describe('POST /auth/register', () => {
  it('creates the account and answers with a token pair', async () => {
    const res = await t.http.post('/auth/register').send({ ...valid, birthday: '1990-04-01' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      user: {
        id: expect.any(String),
        username: 'alice_1',
        email: 'Alice@Example.org',
        birthday: '1990-04-01',
        createdAt: '2026-06-01T12:00:00.000Z',
        pgp: null,
        twoFactor: false,
      },
      accessToken: expect.any(String),
      refreshToken: expect.any(String),
      tokenType: 'Bearer',
      expiresIn: 900,
      deviceId: expect.any(String),
    });
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('accepts a leading @ and stores the username in lower case', async () => {
    const res = await t.http.post('/auth/register').send({ ...valid, username: '@MixedCase' });
    expect(res.status).toBe(201);
    expect(res.body.user.username).toBe('mixedcase');
  });

  it('refuses a username taken in any case with 409 username_taken', async () => {
    await registerUser(t, { username: 'bob_smith' });
    const res = await t.http.post('/auth/register').send({ ...valid, username: 'BOB_Smith' });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('username_taken');
  });

  it('refuses an e-mail address registered in any case with 409 email_taken', async () => {
    await registerUser(t, { email: 'carol@example.org' });
    const res = await t.http.post('/auth/register').send({ ...valid, email: ' CAROL@example.ORG ' });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('email_taken');
  });

  it.each([
    ['too short', 'ab'],
    ['too long', 'a'.repeat(33)],
    ['a dash', 'has-dash'],
    ['a space', 'has space'],
    ['non-ASCII letters', 'zoë_user'],
    ['only an @', '@'],
  ])('refuses a username with %s', async (_why, username) => {
    const res = await t.http.post('/auth/register').send({ ...valid, username });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details.fields).toEqual([{ field: 'username', message: expect.any(String) }]);
  });

  it.each([
    ['shorter than 8 characters', 'short7!'],
    ['longer than 256 characters', 'x'.repeat(257)],
  ])('refuses a password %s', async (_why, password) => {
    const res = await t.http.post('/auth/register').send({ ...valid, password });
    expect(res.status).toBe(400);
    expect(res.body.error.details.fields[0].field).toBe('password');
  });

  it('refuses a password equal to the username, in any case', async () => {
    const res = await t.http.post('/auth/register').send({ ...valid, username: 'longusername', password: 'LongUserName' });
    expect(res.status).toBe(400);
    expect(res.body.error.details.fields).toEqual([{ field: 'password', message: 'must not be the username' }]);
  });

  it.each(['not-an-email', 'a@b', '@example.org', `${'x'.repeat(250)}@example.org`])('refuses the e-mail %j', async (email) => {
    const res = await t.http.post('/auth/register').send({ ...valid, email });
    expect(res.status).toBe(400);
    expect(res.body.error.details.fields[0].field).toBe('email');
  });

  it.each([
    ['not a date', '01/04/1990'],
    ['impossible', '1990-02-30'],
    ['in the future', '2030-01-01'],
    ['today', '2026-06-01'],
    ['younger than MIN_AGE', '2013-06-02'],
  ])('refuses a birthday that is %s', async (_why, birthday) => {
    const res = await t.http.post('/auth/register').send({ ...valid, birthday });
    expect(res.status).toBe(400);
    expect(res.body.error.details.fields[0].field).toBe('birthday');
  });

  it('accepts a user who turns MIN_AGE today', async () => {
    const res = await t.http.post('/auth/register').send({ ...valid, birthday: '2013-06-01' });
    expect(res.status).toBe(201);
  });

  it('honours a configured MIN_AGE', async () => {
    const strict = makeTestApp({ env: { MIN_AGE: '18' } });
    try {
      const res = await strict.http.post('/auth/register').send({ ...valid, birthday: '2010-01-01' });
      expect(res.status).toBe(400);
      expect(res.body.error.details.fields[0].message).toMatch(/18 years/);
    } finally {
      await strict.close();
    }
  });

  it('reports every bad field at once', async () => {
    const res = await t.http.post('/auth/register').send({ username: 'x', email: 'nope', password: 'short' });
    expect(res.status).toBe(400);
    expect(res.body.error.details.fields.map((f: { field: string }) => f.field).sort()).toEqual(['email', 'password', 'username']);
  });
});
