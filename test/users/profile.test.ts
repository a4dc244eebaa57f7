import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { connect, sendRequest } from '../helpers/connections.js';
import { bearer, putPgpKey, registerUser, type TestUser } from '../helpers/factories.js';
import { useTestApp, withUser } from '../helpers/perTest.js';
import { ED25519, fixture } from '../helpers/pgpFixtures.js';

const t = useTestApp();
const viewer = withUser(t, { username: 'viewer' });

const profile = (path: string) => t.http.get(`/users/${path}`).set(bearer(viewer));

describe('GET /users/{username}', () => {
  it('answers the public profile: username, createdAt and a null pgp', async () => {
    await registerUser(t, { username: 'Stranger_1', email: 'stranger@example.org', birthday: '1990-04-01' });
    const res = await profile('stranger_1');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ username: 'stranger_1', createdAt: '2026-06-01T12:00:00.000Z', pgp: null });
  });

  it('accepts a leading @', async () => {
    await registerUser(t, { username: 'stranger_1' });
    expect((await profile('@stranger_1')).body.username).toBe('stranger_1');
  });

  it('accepts a percent-encoded leading @', async () => {
    await registerUser(t, { username: 'stranger_1' });
    expect((await profile('%40stranger_1')).body.username).toBe('stranger_1');
  });

  it('matches the username case-insensitively', async () => {
    await registerUser(t, { username: 'stranger_1' });
    expect((await profile('STRANGER_1')).body.username).toBe('stranger_1');
  });

  it('carries the uploaded OpenPGP key', async () => {
    const keyed = await registerUser(t, { username: 'keyed' });
    const uploaded = await putPgpKey(t, keyed, fixture(ED25519.file));
    expect((await profile('keyed')).body.pgp).toEqual(uploaded.body.pgp);
  });

  it('leaves presence out for a user who is not a connection', async () => {
    await registerUser(t, { username: 'stranger_1' });
    expect((await profile('stranger_1')).body).not.toHaveProperty('presence');
  });

  it('leaves presence out for someone with only a pending request', async () => {
    const asker = await registerUser(t, { username: 'asker' });
    await sendRequest(t, asker, viewer);
    expect((await profile('asker')).body).not.toHaveProperty('presence');
  });

  it('shows presence to an accepted connection', async () => {
    const friend = await registerUser(t, { username: 'friend' });
    await connect(t, viewer, friend);
    // The friend's accept was an authenticated request: that makes them seen now.
    expect((await profile('friend')).body.presence).toEqual({ online: true, lastSeen: '2026-06-01T12:00:00.000Z' });
  });

  it('shows presence on your own profile, online while you make requests', async () => {
    expect((await profile('viewer')).body.presence).toEqual({ online: true, lastSeen: '2026-06-01T12:00:00.000Z' });
  });

  it('never carries an e-mail address, birthday or internal id', async () => {
    const other = await registerUser(t, { username: 'private_person', email: 'private.person@example.org', birthday: '1990-04-01' });
    const text = (await profile('private_person')).text;
    for (const secret of [other.email, '1990-04-01', other.id, '"id"']) expect(text).not.toContain(secret);
  });

  it('answers 404 not_found for an unknown username', async () => {
    const res = await profile('nobody_here');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });

  it('answers 404 not_found for a deleted account', async () => {
    const gone = await registerUser(t, { username: 'gone_soon' });
    await t.http.delete('/users/me').set(bearer(gone)).send({ password: gone.password });
    expect((await profile('gone_soon')).status).toBe(404);
  });

  it.each([
    ['too short', 'ab'],
    ['a dash', 'has-dash'],
    ['too long', 'a'.repeat(33)],
  ])('refuses a username that is %s with 400 validation_failed', async (_why, name) => {
    const res = await profile(name);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
  });

  it('refuses a malformed percent-escape with 400 validation_failed, not a 500', async () => {
    const res = await profile('%E0%A4%A');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
  });

  it('still answers /users/me with the own account, not a profile lookup', async () => {
    const res = await profile('me');
    expect(res.body.user.username).toBe('viewer');
  });

  it('reaches a user named "search" through the @ form', async () => {
    await registerUser(t, { username: 'search' });
    expect((await profile('@search')).body.username).toBe('search');
  });

  it('needs an access token', async () => {
    expect((await t.http.get('/users/viewer')).status).toBe(401);
  });
});

describe('GET /users/{username} rate limit', () => {
  let limited: TestApp;
  let user: TestUser;
  beforeEach(async () => {
    limited = makeTestApp({ env: { RATE_SEARCH_USER: '3/60' } });
    user = await registerUser(limited, { username: 'guesser' });
  });
  afterEach(() => limited.close());

  const lookUp = (name: string) => limited.http.get(`/users/${name}`).set(bearer(user));

  it('answers 429 rate_limited with Retry-After once a user has made RATE_SEARCH_USER lookups, found or not', async () => {
    expect((await lookUp('guesser')).status).toBe(200);
    expect((await lookUp('nobody_1')).status).toBe(404);
    expect((await lookUp('nobody_2')).status).toBe(404);
    const res = await lookUp('nobody_3');
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe('rate_limited');
    expect(res.headers['retry-after']).toBe('60');
  });

  it('shares the budget with search', async () => {
    for (let i = 0; i < 3; i++) expect((await limited.http.get('/users/search?q=al').set(bearer(user))).status).toBe(200);
    expect((await lookUp('guesser')).status).toBe(429);
  });
});
