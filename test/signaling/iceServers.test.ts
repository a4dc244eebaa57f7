import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from '@jest/globals';
import type { Env } from '../../app/config/environment.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { bearer, registerUser, type TestUser } from '../helpers/factories.js';

const SECRET = 'coturn-static-auth-secret-0123';
const STUN = 'stun:stun.example.org:3478';
const TURN_UDP = 'turn:turn.example.org:3478?transport=udp';
const TURNS = 'turns:turn.example.org:5349?transport=tcp';
const WITH_SECRET: Env = { STUN_URLS: STUN, TURN_URLS: `${TURN_UDP},${TURNS}`, TURN_SECRET: SECRET, TURN_TTL: '3600' };

let t: TestApp;
// eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the setup failed before creating it
afterEach(() => t?.close());

/** An app with `env` and one signed-in user. */
async function setUp(env: Env): Promise<TestUser> {
  t = makeTestApp({ env });
  return registerUser(t);
}

const iceServers = (user: TestUser) => t.http.get('/signaling/ice-servers').set(bearer(user));
const nowSeconds = () => Math.floor(t.clock.now() / 1000);
/** The TURN entry: the one whose URLs are turn:/turns:. */
const turnEntry = (body: { iceServers: Array<{ urls: string[]; username?: string; credential?: string }> }) =>
  body.iceServers.find((s) => s.urls.some((u) => u.startsWith('turn')));

describe('GET /signaling/ice-servers', () => {
  it('requires a signed-in user', async () => {
    await setUp(WITH_SECRET);
    const res = await t.http.get('/signaling/ice-servers');
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
  });

  it('lists the STUN URLs first and the TURN URLs with a credential', async () => {
    const me = await setUp(WITH_SECRET);
    const res = await iceServers(me);
    expect(res.status).toBe(200);
    expect(res.body.iceServers).toEqual([{ urls: [STUN] }, { urls: [TURN_UDP, TURNS], username: expect.any(String), credential: expect.any(String) }]);
  });

  it('names the TURN user <expiry-unix-seconds>:<userId>, expiring TURN_TTL from now', async () => {
    const me = await setUp(WITH_SECRET);
    const res = await iceServers(me);
    expect(turnEntry(res.body)!.username).toBe(`${nowSeconds() + 3600}:${me.id}`);
  });

  it('makes the credential the base64 HMAC-SHA1 of the username keyed with TURN_SECRET (coturn use-auth-secret)', async () => {
    const me = await setUp(WITH_SECRET);
    const { username, credential } = turnEntry((await iceServers(me)).body)!;
    expect(credential).toBe(createHmac('sha1', SECRET).update(username!).digest('base64'));
  });

  it('answers ttl = TURN_TTL so clients know when to ask again', async () => {
    const me = await setUp(WITH_SECRET);
    expect((await iceServers(me)).body.ttl).toBe(3600);
  });

  it('mints a later expiry as time passes (the credential is made per request, not cached)', async () => {
    const me = await setUp(WITH_SECRET);
    const first = turnEntry((await iceServers(me)).body)!.username;
    t.clock.advance(600);
    const second = turnEntry((await iceServers(me)).body)!.username;
    expect(second).not.toBe(first);
    expect(second).toBe(`${nowSeconds() + 3600}:${me.id}`);
  });

  it('gives each user a credential of their own', async () => {
    const me = await setUp(WITH_SECRET);
    const other = await registerUser(t);
    const mine = turnEntry((await iceServers(me)).body)!;
    const theirs = turnEntry((await iceServers(other)).body)!;
    expect(theirs.username).toBe(`${nowSeconds() + 3600}:${other.id}`);
    expect(theirs.credential).not.toBe(mine.credential);
  });

  it('hands out the static TURN_USERNAME and TURN_CREDENTIAL when there is no TURN_SECRET', async () => {
    const me = await setUp({ TURN_URLS: TURN_UDP, TURN_USERNAME: 'shared', TURN_CREDENTIAL: 'static-pass' });
    const res = await iceServers(me);
    expect(res.body).toEqual({ iceServers: [{ urls: [TURN_UDP], username: 'shared', credential: 'static-pass' }], ttl: 86400 });
  });

  it('lists STUN only, without credentials, when no TURN is configured', async () => {
    const me = await setUp({ STUN_URLS: `${STUN},stun:stun2.example.org` });
    const res = await iceServers(me);
    expect(res.body.iceServers).toEqual([{ urls: [STUN, 'stun:stun2.example.org'] }]);
  });

  it('answers an empty list when neither STUN nor TURN is configured', async () => {
    const me = await setUp({});
    const res = await iceServers(me);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ iceServers: [], ttl: 86400 });
  });

  it('is never cached, since it carries a credential', async () => {
    const me = await setUp(WITH_SECRET);
    expect((await iceServers(me)).headers['cache-control']).toBe('no-store');
  });

  it('refuses a request past RATE_ICE_USER with 429 rate_limited and Retry-After', async () => {
    const me = await setUp({ ...WITH_SECRET, RATE_ICE_USER: '2/60' });
    await iceServers(me);
    await iceServers(me);
    const res = await iceServers(me);
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe('rate_limited');
    expect(res.headers['retry-after']).toBe('60');
  });

  it('counts the limit per user: another user is not held up', async () => {
    const me = await setUp({ ...WITH_SECRET, RATE_ICE_USER: '1/60' });
    const other = await registerUser(t);
    await iceServers(me);
    expect((await iceServers(other)).status).toBe(200);
  });

  it('answers again once the window has passed', async () => {
    const me = await setUp({ ...WITH_SECRET, RATE_ICE_USER: '1/60' });
    await iceServers(me);
    t.clock.advance(60);
    expect((await iceServers(me)).status).toBe(200);
  });

  it('ignores query parameters rather than failing on them', async () => {
    const me = await setUp(WITH_SECRET);
    const res = await t.http.get('/signaling/ice-servers?x=%00&urls[$gt]=').set(bearer(me));
    expect(res.status).toBe(200);
  });
});
