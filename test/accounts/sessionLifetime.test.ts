import { describe, expect, it } from '@jest/globals';
import { bearer } from '../helpers/factories.js';
import { useTestApp, withUser } from '../helpers/perTest.js';

// SESSION_MAX_AGE: a session ends that long after sign-in however often it refreshes.
// Two hours here, with 15-minute access tokens refreshed every 10 minutes.
const MAX_AGE = 7200;

const t = useTestApp({ env: { SESSION_MAX_AGE: String(MAX_AGE) } });
const alice = withUser(t, { username: 'alice', password: 'correct horse battery' });

const me = (u: { accessToken: string }) => t.http.get('/users/me').set(bearer(u));
const refresh = (refreshToken: string) => t.http.post('/auth/refresh').send({ refreshToken });

/** Refreshes every 10 minutes until `seconds` after sign-in; returns the newest token pair. */
async function keepRefreshing(seconds: number): Promise<{ accessToken: string; refreshToken: string }> {
  let pair = { accessToken: alice.accessToken, refreshToken: alice.refreshToken };
  for (let elapsed = 600; elapsed <= seconds; elapsed += 600) {
    t.clock.advance(600);
    const res = await refresh(pair.refreshToken);
    expect(res.status).toBe(200);
    pair = res.body;
  }
  return pair;
}

describe('SESSION_MAX_AGE', () => {
  it('keeps a refreshing session working until its maximum age', async () => {
    const pair = await keepRefreshing(MAX_AGE - 600);
    t.clock.advance(599);
    expect((await me(pair)).status).toBe(200);
  });

  it('refuses a fresh access token once the session reaches its maximum age', async () => {
    const pair = await keepRefreshing(MAX_AGE - 600);
    t.clock.advance(600);
    const res = await me(pair);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
  });

  it('refuses to refresh a session at its maximum age, and ends it', async () => {
    const pair = await keepRefreshing(MAX_AGE - 600);
    t.clock.advance(600);
    expect((await refresh(pair.refreshToken)).status).toBe(401);
    expect(await t.store.sessions.findById(JSON.parse(Buffer.from(pair.accessToken.split('.')[1]!, 'base64url').toString()).sid)).toBeNull();
  });

  it('gives a new sign-in a full lifetime of its own', async () => {
    t.clock.advance(MAX_AGE);
    const again = await t.http.post('/auth/login').send({ username: 'alice', password: 'correct horse battery' });
    expect(again.status).toBe(200);
    t.clock.advance(600);
    expect((await refresh(again.body.refreshToken)).status).toBe(200);
  });
});
