import { beforeEach, describe, expect, it } from '@jest/globals';
import { sendRequest } from '../helpers/connections.js';
import { bearer, registerUser, type TestUser } from '../helpers/factories.js';
import { useTestApp, withUsers } from '../helpers/perTest.js';
import { PresenceService } from '../../app/presence/presence.service.js';

const t = useTestApp();
const { alice, bob } = withUsers(t, 'alice', 'bob', { connected: true });

const iso = () => new Date(t.clock.now()).toISOString();

/** Bob's presence as Alice sees it in her connection list. */
async function bobAsSeenByAlice() {
  const res = await t.http.get('/connections/').set(bearer(alice));
  return res.body.connections.find((c: { username: string }) => c.username === 'bob').presence;
}

/** A harmless authenticated request by `u`: activity. */
const activity = (u: TestUser) => t.http.get('/users/me').set(bearer(u));

describe('connection.presence', () => {
  it('shows a user online right after an authenticated request', async () => {
    t.clock.advance(120);
    await activity(bob);
    expect(await bobAsSeenByAlice()).toEqual({ online: true, lastSeen: iso() });
  });

  it('keeps lastSeen at the last authenticated request when nothing followed', async () => {
    t.clock.advance(120);
    await activity(bob);
    const then = iso();
    t.clock.advance(600);
    expect(await bobAsSeenByAlice()).toEqual({ online: false, lastSeen: then });
  });

  it('shows online one second before PRESENCE_WINDOW (60 s) has passed', async () => {
    t.clock.advance(120);
    await activity(bob);
    t.clock.advance(59);
    expect((await bobAsSeenByAlice()).online).toBe(true);
  });

  it('shows offline once PRESENCE_WINDOW has passed without activity', async () => {
    t.clock.advance(120);
    await activity(bob);
    t.clock.advance(60);
    expect((await bobAsSeenByAlice()).online).toBe(false);
  });

  it('moves lastSeen forward with later requests (written at most every 30 s per user)', async () => {
    t.clock.advance(120);
    await activity(bob);
    t.clock.advance(45);
    await activity(bob);
    expect(await bobAsSeenByAlice()).toEqual({ online: true, lastSeen: iso() });
  });

  it('keeps an active user online between two throttled writes', async () => {
    // Requests every 20 s: only every other one is written, yet Bob never drops out.
    t.clock.advance(120);
    for (let n = 0; n < 6; n++) {
      await activity(bob);
      t.clock.advance(20);
      expect((await bobAsSeenByAlice()).online).toBe(true);
    }
  });

  it('shows offline at once after logout, keeping lastSeen', async () => {
    t.clock.advance(120);
    await activity(bob);
    await t.http.post('/auth/logout').set(bearer(bob)).send({});
    expect(await bobAsSeenByAlice()).toEqual({ online: false, lastSeen: iso() });
  });

  it('shows online again at the next authenticated request after logout', async () => {
    await t.http.post('/auth/logout').set(bearer(bob)).send({});
    const login = await t.http.post('/auth/login').send({ username: 'bob', password: bob.password });
    t.clock.advance(1); // well inside the 30 s write throttle: logout must have reset it
    await activity(login.body);
    expect(await bobAsSeenByAlice()).toEqual({ online: true, lastSeen: iso() });
  });

  it('reports lastSeen null and offline for a user never seen', async () => {
    // Asked of the service: a connection's peer has always made an authenticated request (to ask or to accept).
    const presence = new PresenceService({ store: t.store, clock: t.clock, windowSeconds: 60 });
    expect((await presence.of(['no-such-user'])).get('no-such-user')).toEqual({ online: false, lastSeen: null });
  });
});

describe('presenceFor (for GET /users/{username})', () => {
  let presence: PresenceService;
  let carol: TestUser;
  beforeEach(async () => {
    presence = new PresenceService({ store: t.store, clock: t.clock, windowSeconds: 60 });
    carol = await registerUser(t, { username: 'carol' });
  });

  it('gives an accepted connection the presence', async () => {
    expect(await presence.presenceFor(alice.id, bob.id)).toEqual({ online: true, lastSeen: iso() });
  });

  it('gives oneself the presence', async () => {
    await activity(carol);
    expect(await presence.presenceFor(carol.id, carol.id)).toEqual({ online: true, lastSeen: iso() });
  });

  it('gives a stranger nothing', async () => {
    expect(await presence.presenceFor(carol.id, bob.id)).toBeUndefined();
  });

  it('gives the sender of a pending request nothing', async () => {
    await sendRequest(t, carol, bob);
    expect(await presence.presenceFor(carol.id, bob.id)).toBeUndefined();
  });

  it('gives a removed connection nothing', async () => {
    await t.http.delete('/connections/bob').set(bearer(alice));
    expect(await presence.presenceFor(alice.id, bob.id)).toBeUndefined();
  });
});
