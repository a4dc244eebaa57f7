import { describe, expect, it } from '@jest/globals';
import { MemoryStorage, SignalboxError, type ConnectionState } from '../../client/src/index.js';
import { bearer } from '../helpers/factories.js';
import { FetchProbe, useSdkHarness } from './harness.js';

const h = useSdkHarness();

/** Moves the server's clock past the access tokens' lifetime, so every token in hand gets 401. */
const expireAccessTokens = () => h.t.clock.advance(h.t.config.accessTokenTtl + 1);

describe('Signalbox session', () => {
  it('register signs in: user, device id and the tokens in the caller storage', async () => {
    const storage = new MemoryStorage();
    const sb = h.client({ storage });
    const user = await sb.register({ username: 'Ana_1', email: 'ana1@example.org', password: 'correct horse battery', device: { name: 'laptop' } });
    expect(user.username).toBe('ana_1');
    expect(sb.user).toEqual(user);
    expect(sb.deviceId).toEqual(expect.any(String));
    const stored = JSON.parse(storage.getItem('signalbox.session')!) as { accessToken: string; deviceId: string };
    expect(stored.deviceId).toBe(sb.deviceId);
    expect((await h.t.http.get('/users/me').set(bearer(stored))).status).toBe(200);
  });

  it('resumes a stored session in a new instance (a reloaded page) without signing in', async () => {
    const storage = new MemoryStorage();
    const first = await h.user('ana', { storage });
    const again = h.client({ storage });
    expect(await again.restore()).toEqual(first.user);
    expect(await again.connections.list()).toEqual([]);
  });

  it('refreshes once for two requests that hit 401 together, and the session survives', async () => {
    const probe = new FetchProbe();
    const sb = await h.user('ana', { fetch: probe.fetch });
    expireAccessTokens();
    const [connections, pending] = await Promise.all([sb.connections.list(), sb.connections.pending()]);
    expect({ connections, pending }).toEqual({ connections: [], pending: { incoming: [], outgoing: [] } });
    expect(probe.to('/auth/refresh')).toHaveLength(1);
    // Two refreshes would have presented the rotated refresh token again and ended the session.
    await sb.connections.list();
    expect(probe.to('/auth/refresh')).toHaveLength(1);
    expect(probe.to('/connections/').map((r) => r.status)).toEqual([401, 200, 200]);
  });

  it('keeps the rotated tokens in storage, so a restart does not reuse (and so end) the old refresh token', async () => {
    const storage = new MemoryStorage();
    const sb = await h.user('ana', { storage });
    expireAccessTokens();
    await sb.connections.list();
    expireAccessTokens();
    const restarted = h.client({ storage });
    await restarted.restore();
    expect(await restarted.connections.list()).toEqual([]);
  });

  it('ends the session after a refused refresh and never refreshes again', async () => {
    const storage = new MemoryStorage();
    const probe = new FetchProbe();
    const sb = await h.user('ana', { storage, fetch: probe.fetch });
    const states: Array<[ConnectionState, string | undefined]> = [];
    sb.on('state', (state, detail) => states.push([state, detail.error?.code]));
    // Another device of the same user removes this one: its tokens, refresh token included, are dead.
    const other = await h.t.http.post('/auth/login').send({ username: sb.user!.username, password: 'correct horse battery' });
    expect((await h.t.http.delete(`/users/me/devices/${sb.deviceId}`).set(bearer(other.body))).status).toBe(204);
    const error = await sb.connections.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SignalboxError);
    expect((error as SignalboxError).code).toBe('signed_out');
    expect(states).toEqual([['signed-out', 'unauthorized']]);
    expect(sb.user).toBeNull();
    expect(storage.getItem('signalbox.session')).toBeNull();
    await expect(sb.connections.list()).rejects.toMatchObject({ code: 'signed_out' });
    expect(probe.to('/auth/refresh')).toHaveLength(1);
  });

  it('logout ends the session on the server and says signed-out', async () => {
    const storage = new MemoryStorage();
    const sb = await h.user('ana', { storage });
    const { accessToken } = JSON.parse(storage.getItem('signalbox.session')!) as { accessToken: string };
    const states: ConnectionState[] = [];
    sb.on('state', (state) => states.push(state));
    await sb.logout();
    expect(states).toEqual(['signed-out']);
    expect(sb.user).toBeNull();
    expect((await h.t.http.get('/users/me').set(bearer({ accessToken }))).status).toBe(401);
  });
});
