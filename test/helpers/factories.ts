import { expect } from '@jest/globals';
import type { TestApp } from './app.js';
import { totpAt } from './totp.js';

let counter = 0;

export interface TestUser {
  id: string;
  username: string;
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
}

/** What a test may choose about a user it registers; the rest is made up fresh. */
export type RegisterOverrides = Partial<{ username: string; email: string; password: string; birthday: string }>;

/** Registers a fresh user through the API and returns its credentials and tokens. */
export async function registerUser(t: TestApp, overrides: RegisterOverrides = {}): Promise<TestUser> {
  counter++;
  const body = {
    username: overrides.username ?? `user_${counter}_${Math.random().toString(36).slice(2, 8)}`,
    email: overrides.email ?? `person${counter}.${Math.random().toString(36).slice(2, 8)}@example.org`,
    password: overrides.password ?? 'correct horse battery',
    ...(overrides.birthday ? { birthday: overrides.birthday } : {}),
  };
  const res = await t.http.post('/auth/register').send(body);
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  return {
    id: res.body.user.id,
    username: res.body.user.username,
    email: body.email,
    password: body.password,
    accessToken: res.body.accessToken,
    refreshToken: res.body.refreshToken,
  };
}

/** Signs `user` in once more with their password: a new session (another device of theirs) and its tokens. */
export async function signIn(t: TestApp, user: TestUser): Promise<TestUser> {
  const res = await t.http.post('/auth/login').send({ username: user.username, password: user.password });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { ...user, accessToken: res.body.accessToken, refreshToken: res.body.refreshToken };
}

/** PUT /auth/pgp-key by `user` with `publicKey`, answered as is. */
export const putPgpKey = (t: TestApp, user: TestUser, publicKey: string) => t.http.put('/auth/pgp-key').set(bearer(user)).send({ publicKey });

export const bearer = (u: { accessToken: string }) => ({ Authorization: `Bearer ${u.accessToken}` });

/**
 * `user` turns two-factor on as a client does (setup, then enable with the password and the current code),
 * and the clock moves one 30 s step on, so the next code differs from the one enable used.
 */
export async function turnOnTwoFactor(t: TestApp, user: { accessToken: string }, password: string): Promise<{ secret: string; recoveryCodes: string[] }> {
  const { secret } = (await t.http.post('/auth/2fa/setup').set(bearer(user)).send({ password })).body;
  const res = await t.http
    .post('/auth/2fa/enable')
    .set(bearer(user))
    .send({ password, code: totpAt(secret, t.clock.now()) });
  expect(res.status).toBe(200);
  t.clock.advance(30);
  return { secret, recoveryCodes: res.body.recoveryCodes };
}
