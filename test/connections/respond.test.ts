import { describe, expect, it } from '@jest/globals';
import { connect, connectionNames, pendingPairs, presentedConnection, respond, sendRequest } from '../helpers/connections.js';
import { bearer } from '../helpers/factories.js';
import { useTestApp, withUsers } from '../helpers/perTest.js';
import { expectApiError } from '../http/errorShape.js';

const t = useTestApp();
const { alice, bob, carol } = withUsers(t, 'alice', 'bob', 'carol');

describe('POST /connections/respond accept', () => {
  it('answers 200 with the connection, the sender named', async () => {
    await sendRequest(t, alice, bob);
    t.clock.advance(60);
    const res = await respond(t, bob, alice, 'accept');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      // Alice's last request was a minute ago: exactly PRESENCE_WINDOW, so no longer online.
      connection: presentedConnection('alice', '2026-06-01T12:01:00.000Z', { online: false, lastSeen: '2026-06-01T12:00:00.000Z' }),
    });
  });

  it('connects both sides', async () => {
    await connect(t, alice, bob);
    expect(await connectionNames(t, alice)).toEqual(['bob']);
    expect(await connectionNames(t, bob)).toEqual(['alice']);
  });

  it('clears the request from both pending lists', async () => {
    await connect(t, alice, bob);
    expect(await pendingPairs(t, alice)).toEqual({ incoming: [], outgoing: [] });
    expect(await pendingPairs(t, bob)).toEqual({ incoming: [], outgoing: [] });
  });

  it('takes the sender with a leading @', async () => {
    await sendRequest(t, alice, bob);
    expect((await respond(t, bob, { username: '@alice' }, 'accept')).status).toBe(200);
  });

  it('answers 404 when there is no request from that user', async () => {
    expectApiError(await respond(t, bob, alice, 'accept'), 404, 'not_found');
  });

  it('answers 404 for an unknown user', async () => {
    expectApiError(await respond(t, bob, { username: 'nobody_here' }, 'accept'), 404, 'not_found');
  });

  it('answers 409 already_connected when accepting twice', async () => {
    await connect(t, alice, bob);
    expectApiError(await respond(t, bob, alice, 'accept'), 409, 'already_connected');
  });
});

describe('POST /connections/respond reject', () => {
  it('answers 200 {rejected: true}', async () => {
    await sendRequest(t, alice, bob);
    const res = await respond(t, bob, alice, 'reject');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ rejected: true });
  });

  it('removes the request for both sides and connects nobody', async () => {
    await sendRequest(t, alice, bob);
    await respond(t, bob, alice, 'reject');
    expect(await pendingPairs(t, alice)).toEqual({ incoming: [], outgoing: [] });
    expect(await pendingPairs(t, bob)).toEqual({ incoming: [], outgoing: [] });
    expect(await connectionNames(t, alice)).toEqual([]);
  });

  it('lets the sender ask again once CONNECTION_REJECT_COOLDOWN (default 7 days) has passed', async () => {
    await sendRequest(t, alice, bob);
    await respond(t, bob, alice, 'reject');
    t.clock.advance(7 * 86400);
    const login = await t.http.post('/auth/login').send({ username: 'alice', password: alice.password }); // the old token expired
    expect((await sendRequest(t, { ...alice, accessToken: login.body.accessToken }, bob)).status).toBe(201);
  });

  it('answers 404 when there is no request from that user', async () => {
    expectApiError(await respond(t, bob, alice, 'reject'), 404, 'not_found');
  });

  it('does not remove an accepted connection', async () => {
    await connect(t, alice, bob);
    expectApiError(await respond(t, bob, alice, 'reject'), 409, 'already_connected');
    expect(await connectionNames(t, bob)).toEqual(['alice']);
  });
});

describe('only the recipient responds', () => {
  // The sender's own request is not an incoming one for them: same 404 as no request at all.
  it('answers the sender accepting their own request with 404 not_found', async () => {
    await sendRequest(t, alice, bob);
    expectApiError(await respond(t, alice, bob, 'accept'), 404, 'not_found');
  });

  it('leaves the request pending after the sender tried to accept it', async () => {
    await sendRequest(t, alice, bob);
    await respond(t, alice, bob, 'accept');
    expect(await pendingPairs(t, bob)).toEqual({ incoming: ['alice→bob'], outgoing: [] });
    expect(await connectionNames(t, alice)).toEqual([]);
  });

  it('answers the sender rejecting their own request with 404 and keeps it pending', async () => {
    await sendRequest(t, alice, bob);
    expectApiError(await respond(t, alice, bob, 'reject'), 404, 'not_found');
    expect(await pendingPairs(t, bob)).toEqual({ incoming: ['alice→bob'], outgoing: [] });
  });

  it('does not let a third user accept a request between two others', async () => {
    await sendRequest(t, alice, bob);
    expectApiError(await respond(t, carol, alice, 'accept'), 404, 'not_found');
    expect(await connectionNames(t, alice)).toEqual([]);
  });
});

describe('GET /connections/pending', () => {
  it('answers empty lists for a user with no requests', async () => {
    const res = await t.http.get('/connections/pending').set(bearer(alice));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ incoming: [], outgoing: [] });
  });

  it('lists newest first', async () => {
    await sendRequest(t, alice, carol);
    t.clock.advance(5);
    await sendRequest(t, bob, carol);
    expect((await pendingPairs(t, carol)).incoming).toEqual(['bob→carol', 'alice→carol']);
  });

  it('lists requests both ways at once', async () => {
    await sendRequest(t, alice, bob);
    await sendRequest(t, carol, alice);
    expect(await pendingPairs(t, alice)).toEqual({ incoming: ['carol→alice'], outgoing: ['alice→bob'] });
  });

  it('shows nothing of requests between two other users', async () => {
    await sendRequest(t, alice, bob);
    expect(await pendingPairs(t, carol)).toEqual({ incoming: [], outgoing: [] });
  });

  it('needs an access token', async () => {
    expectApiError(await t.http.get('/connections/pending'), 401, 'unauthorized');
  });
});
