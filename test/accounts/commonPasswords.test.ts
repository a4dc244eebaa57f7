import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { useSmtpServer } from '../helpers/perTest.js';
import { codeIn } from '../helpers/smtp.js';

let t: TestApp;
afterEach(() => t.close());

const TOO_COMMON = { field: 'password', message: expect.stringMatching(/too common/) };

describe('POST /auth/register and common passwords', () => {
  beforeEach(() => {
    t = makeTestApp();
  });
  const register = (password: string) => t.http.post('/auth/register').send({ username: 'alice', email: 'alice@example.org', password });

  it.each(['password', '12345678', 'qwertyuiop', 'iloveyou'])('refuses %s with 400 validation_failed naming the field', async (password) => {
    const res = await register(password);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details.fields).toEqual([TOO_COMMON]);
  });

  it('compares case-insensitively', async () => {
    const res = await register('PassWord');
    expect(res.body.error.details.fields).toEqual([TOO_COMMON]);
  });

  it('accepts a password that is not on the list', async () => {
    expect((await register('correct horse battery')).status).toBe(201);
  });
});

describe('POST /auth/change-password and common passwords', () => {
  beforeEach(() => {
    t = makeTestApp();
  });

  it('refuses a common newPassword and keeps the old password', async () => {
    const alice = await registerUser(t, { username: 'alice', password: 'correct horse battery' });
    const res = await t.http.post('/auth/change-password').set(bearer(alice)).send({ currentPassword: alice.password, newPassword: 'Password1' });
    expect(res.status).toBe(400);
    expect(res.body.error.details.fields).toEqual([{ field: 'newPassword', message: expect.stringMatching(/too common/) }]);
    expect((await t.http.post('/auth/login').send({ username: 'alice', password: alice.password })).status).toBe(200);
  });
});

describe('POST /auth/reset-password and common passwords', () => {
  const smtp = useSmtpServer();
  beforeEach(() => {
    t = makeTestApp({ env: { SMTP_URL: smtp.url } });
  });

  it('refuses a common newPassword, and the code still works for a better one', async () => {
    await registerUser(t, { email: 'alice@example.org' });
    await t.http.post('/auth/forgot-password').send({ email: 'alice@example.org' });
    const code = codeIn((await smtp.waitFor(1))[0]!);
    const bad = await t.http.post('/auth/reset-password').send({ email: 'alice@example.org', otp: code, newPassword: 'qwerty123' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.fields).toEqual([{ field: 'newPassword', message: expect.stringMatching(/too common/) }]);
    const good = await t.http.post('/auth/reset-password').send({ email: 'alice@example.org', otp: code, newPassword: 'a brand new secret' });
    expect(good.status).toBe(204);
  });
});

describe('POST /auth/login and common passwords', () => {
  beforeEach(() => {
    t = makeTestApp();
  });

  it('still signs in an account whose password became common after it was set', async () => {
    // Passwords set before the check existed must keep working: only new passwords are checked.
    const hash = await t.hasher.hash('password');
    const alice = await registerUser(t, { username: 'alice' });
    await t.store.users.setPasswordHash(alice.id, hash);
    expect((await t.http.post('/auth/login').send({ username: 'alice', password: 'password' })).status).toBe(200);
  });
});
