import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { bearer, putPgpKey, registerUser, type TestUser } from '../helpers/factories.js';
import { useTestApp, withUser } from '../helpers/perTest.js';
import { ED25519, fixture } from '../helpers/pgpFixtures.js';

const t = useTestApp();
const me = withUser(t, { username: 'searcher' });

const search = (query: string, user: TestUser = me) => t.http.get(`/users/search?${query}`).set(bearer(user));
const names = (res: { body: { results: Array<{ username: string }> } }) => res.body.results.map((r) => r.username);
const registerAll = async (...usernames: string[]) => {
  for (const username of usernames) await registerUser(t, { username });
};

describe('GET /users/search', () => {
  it('finds users whose username starts with the prefix', async () => {
    await registerAll('alice', 'alfred', 'bob');
    const res = await search('q=al');
    expect(res.status).toBe(200);
    expect(names(res).sort()).toEqual(['alfred', 'alice']);
  });

  it('matches case-insensitively', async () => {
    await registerAll('Alice');
    expect(names(await search('q=ALI'))).toEqual(['alice']);
  });

  it('ignores a leading @', async () => {
    await registerAll('alice');
    expect(names(await search('q=%40ali'))).toEqual(['alice']);
  });

  it('sorts results by username', async () => {
    await registerAll('alice', 'al_9', 'albert', 'al1');
    expect(names(await search('q=al'))).toEqual(['al1', 'al_9', 'albert', 'alice']);
  });

  it('leaves out the caller', async () => {
    await registerAll('searchlight');
    expect(names(await search('q=search'))).toEqual(['searchlight']);
  });

  it('treats _ literally, not as a wildcard', async () => {
    await registerAll('ab_cd', 'abxcd');
    expect(names(await search('q=ab_'))).toEqual(['ab_cd']);
  });

  it('answers an empty list when nobody matches', async () => {
    const res = await search('q=zzz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ results: [] });
  });

  it('answers each result as username and fingerprint only', async () => {
    const keyed = await registerUser(t, { username: 'keyed' });
    await putPgpKey(t, keyed, fixture(ED25519.file));
    await registerAll('keyless');
    expect((await search('q=key')).body).toEqual({
      results: [
        { username: 'keyed', fingerprint: ED25519.fingerprint },
        { username: 'keyless', fingerprint: null },
      ],
    });
  });

  it('never carries an e-mail address, birthday or internal id', async () => {
    const other = await registerUser(t, { username: 'private_person', email: 'private.person@example.org', birthday: '1990-04-01' });
    const text = (await search('q=private')).text;
    for (const secret of [other.email, 'private.person', '1990-04-01', other.id, 'email', 'birthday', '"id"']) {
      expect(text).not.toContain(secret);
    }
  });

  describe('limit', () => {
    /** 55 users named page_00..page_54: more than the largest limit. */
    const registerMany = async () => {
      for (let i = 0; i < 55; i++) await t.store.users.create(storedUser(`page_${String(i).padStart(2, '0')}`));
    };

    it('answers 20 results by default', async () => {
      await registerMany();
      expect(names(await search('q=page_'))).toHaveLength(20);
    });

    it('answers at most limit results, the first ones in order', async () => {
      await registerMany();
      expect(names(await search('q=page_&limit=3'))).toEqual(['page_00', 'page_01', 'page_02']);
    });

    it('accepts 50', async () => {
      await registerMany();
      expect(names(await search('q=page_&limit=50'))).toHaveLength(50);
    });

    it('accepts 1', async () => {
      await registerMany();
      expect(names(await search('q=page_&limit=1'))).toEqual(['page_00']);
    });

    it.each([
      ['0', '0'],
      ['51', '51'],
      ['a non-number', 'ten'],
      ['a negative number', '-1'],
      ['a fraction', '2.5'],
      ['empty', ''],
      ['huge', '99999999999999999999'],
    ])('refuses a limit that is %s with 400 validation_failed', async (_why, limit) => {
      const res = await search(`q=al&limit=${encodeURIComponent(limit)}`);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
      expect(res.body.error.details.fields).toEqual([{ field: 'query.limit', message: expect.any(String) }]);
    });
  });

  it.each([
    ['missing', ''],
    ['empty', 'q='],
    ['only an @', 'q=%40'],
    ['a dash', 'q=al-'],
    ['a space', 'q=al%20'],
    ['a % wildcard', 'q=al%25'],
    ['a regex metacharacter', 'q=al.*'],
    ['non-ASCII letters', 'q=zo%C3%AB'],
    ['longer than a username can be', `q=${'a'.repeat(33)}`],
    ['given twice', 'q=al&q=bo'],
  ])('refuses a q that is %s with 400 validation_failed', async (_why, query) => {
    const res = await search(query);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
  });

  it('refuses an unknown query parameter with 400 validation_failed', async () => {
    const res = await search('q=al&email=x');
    expect(res.status).toBe(400);
    expect(res.body.error.details.fields).toEqual([{ field: 'query.email', message: 'is not a known field' }]);
  });

  it('needs an access token', async () => {
    expect((await t.http.get('/users/search?q=al')).status).toBe(401);
  });
});

describe('GET /users/search rate limit', () => {
  let limited: TestApp;
  beforeEach(() => {
    limited = makeTestApp({ env: { RATE_SEARCH_USER: '3/60' } });
  });
  afterEach(() => limited.close());

  it('answers 429 rate_limited with Retry-After once a user has searched RATE_SEARCH_USER times', async () => {
    const user = await registerUser(limited);
    for (let i = 0; i < 3; i++) expect((await limited.http.get('/users/search?q=al').set(bearer(user))).status).toBe(200);
    const res = await limited.http.get('/users/search?q=al').set(bearer(user));
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe('rate_limited');
    expect(res.headers['retry-after']).toBe('60');
  });

  it('counts per user: another user can still search', async () => {
    const busy = await registerUser(limited);
    const other = await registerUser(limited);
    for (let i = 0; i < 4; i++) await limited.http.get('/users/search?q=al').set(bearer(busy));
    expect((await limited.http.get('/users/search?q=al').set(bearer(other))).status).toBe(200);
  });

  it('lets the user search again once the window has passed', async () => {
    const user = await registerUser(limited);
    for (let i = 0; i < 4; i++) await limited.http.get('/users/search?q=al').set(bearer(user));
    limited.clock.advance(60);
    expect((await limited.http.get('/users/search?q=al').set(bearer(user))).status).toBe(200);
  });
});

let seq = 0;
/** A user stored directly (no argon2): the limit tests need many users, and search reads only names. */
function storedUser(username: string) {
  seq++;
  return {
    id: `stored-${seq}-${username}`,
    username,
    emailIndex: `index-${seq}-${username}`,
    emailEnc: 'unused',
    birthdayEnc: null,
    passwordHash: 'unused',
    createdAt: new Date(Date.parse('2026-06-01T12:00:00Z')),
    pgp: null,
    disabledAt: null,
  };
}
