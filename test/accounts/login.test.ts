import { describe, expect, it } from '@jest/globals';
import { PasswordHasher } from '../../app/accounts/passwordHasher.js';
import { makeTestApp } from '../helpers/app.js';
import { CountingHasher } from '../helpers/countingHasher.js';
import { bearer } from '../helpers/factories.js';
import { useTestApp, withUser } from '../helpers/perTest.js';

let hasher: CountingHasher;
const t = useTestApp(() => {
  hasher = new CountingHasher();
  return { hasher };
});
const alice = withUser(t, { username: 'Alice', email: 'alice@example.org', password: 'correct horse battery' });

const login = (username: string, password: string) => t.http.post('/auth/login').send({ username, password });

describe('POST /auth/login', () => {
  it.each([
    ['the username', 'alice'],
    ['the username in another case', 'ALICE'],
    ['@username', '@Alice'],
    ['the e-mail address', 'alice@example.org'],
    ['the e-mail address in another case', 'Alice@Example.ORG'],
  ])('signs in with %s', async (_label, identifier) => {
    const res = await login(identifier, 'correct horse battery');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ user: { id: alice.id, username: 'alice', email: 'alice@example.org' }, tokenType: 'Bearer', expiresIn: 900 });
    expect(res.headers['cache-control']).toBe('no-store');
    const me = await t.http.get('/users/me').set(bearer(res.body));
    expect(me.status).toBe(200);
  });

  it('starts a new session each time, leaving the others working', async () => {
    const second = await login('alice', 'correct horse battery');
    expect(second.body.refreshToken).not.toBe(alice.refreshToken);
    expect((await t.http.get('/users/me').set(bearer(alice))).status).toBe(200);
    expect((await t.http.get('/users/me').set(bearer(second.body))).status).toBe(200);
  });

  it('answers a wrong password with 401 invalid_credentials', async () => {
    const res = await login('alice', 'wrong password!');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: { code: 'invalid_credentials', message: expect.any(String) } });
  });

  it.each([
    ['an unknown username', 'nobody_here'],
    ['an unknown e-mail address', 'nobody@example.org'],
    ['a name no account can have', 'not a username!'],
  ])('answers %s exactly like a wrong password', async (_label, identifier) => {
    const wrongPassword = await login('alice', 'wrong password!');
    const unknown = await login(identifier, 'wrong password!');
    expect(unknown.status).toBe(wrongPassword.status);
    expect(unknown.body).toEqual(wrongPassword.body);
  });

  it('verifies a real argon2 hash for an unknown account, as for a known one', async () => {
    hasher.verifications = 0;
    await login('alice', 'wrong password!');
    expect(hasher.verifications).toBe(1);
    await login('nobody_here', 'wrong password!');
    await login('nobody@example.org', 'wrong password!');
    expect(hasher.verifications).toBe(3);
  });

  it('upgrades a hash made with older argon2 parameters at the next sign-in', async () => {
    const before = (await t.store.users.findById(alice.id))!.passwordHash;
    const stronger = makeTestApp({ hasher: new PasswordHasher({ memoryCost: 8192, timeCost: 2, parallelism: 1 }) });
    try {
      // The same stored account served by a hasher with raised parameters, as after an operator raises the cost.
      const user = (await t.store.users.findById(alice.id))!;
      await stronger.store.users.create(user);
      const res = await stronger.http.post('/auth/login').send({ username: 'alice', password: 'correct horse battery' });
      expect(res.status).toBe(200);
      const after = (await stronger.store.users.findById(alice.id))!.passwordHash;
      expect(before).toContain('m=4096,p=1,t=1');
      expect(after).toContain('m=8192,p=1,t=2');
    } finally {
      await stronger.close();
    }
  });
});
