import { describe, expect, it } from '@jest/globals';
import { connect, connectionNames, pendingPairs, presentedConnection, removeConnection, sendRequest } from '../helpers/connections.js';
import { bearer } from '../helpers/factories.js';
import { useTestApp, withUsers } from '../helpers/perTest.js';
import { expectApiError } from '../http/errorShape.js';

const t = useTestApp();
const { alice, bob, carol } = withUsers(t, 'alice', 'bob', 'carol');

describe('GET /connections/', () => {
  it('answers an empty list for a user with no connections', async () => {
    const res = await t.http.get('/connections/').set(bearer(alice));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ connections: [] });
  });

  it('lists each connection with since, presence and pgp', async () => {
    await connect(t, alice, bob);
    const res = await t.http.get('/connections/').set(bearer(alice));
    expect(res.body).toEqual({
      connections: [presentedConnection('bob', '2026-06-01T12:00:00.000Z', { online: true, lastSeen: '2026-06-01T12:00:00.000Z' })],
    });
  });

  it('lists connections by username', async () => {
    await connect(t, carol, alice);
    await connect(t, alice, bob);
    expect(await connectionNames(t, alice)).toEqual(['bob', 'carol']);
  });

  it('leaves out pending requests', async () => {
    await connect(t, alice, bob);
    await sendRequest(t, alice, carol);
    expect(await connectionNames(t, alice)).toEqual(['bob']);
  });

  it('shows nothing of connections between two other users', async () => {
    await connect(t, alice, bob);
    expect(await connectionNames(t, carol)).toEqual([]);
  });

  it('needs an access token', async () => {
    expectApiError(await t.http.get('/connections/'), 401, 'unauthorized');
  });
});

describe('DELETE /connections/{username}', () => {
  it('answers 204 and removes the connection for both sides', async () => {
    await connect(t, alice, bob);
    const res = await removeConnection(t, alice, bob);
    expect(res.status).toBe(204);
    expect(await connectionNames(t, alice)).toEqual([]);
    expect(await connectionNames(t, bob)).toEqual([]);
  });

  it('lets the side that accepted remove it too', async () => {
    await connect(t, alice, bob);
    expect((await removeConnection(t, bob, alice)).status).toBe(204);
    expect(await connectionNames(t, alice)).toEqual([]);
  });

  it('cancels your own outgoing request', async () => {
    await sendRequest(t, alice, bob);
    expect((await removeConnection(t, alice, bob)).status).toBe(204);
    expect(await pendingPairs(t, bob)).toEqual({ incoming: [], outgoing: [] });
    expect(await pendingPairs(t, alice)).toEqual({ incoming: [], outgoing: [] });
  });

  it('lets the recipient no longer accept a cancelled request', async () => {
    await sendRequest(t, alice, bob);
    await removeConnection(t, alice, bob);
    expectApiError(await t.http.post('/connections/respond').set(bearer(bob)).send({ username: 'alice', action: 'accept' }), 404, 'not_found');
  });

  it('answers 404 for a request someone sent you (that is answered by respond) and keeps it', async () => {
    await sendRequest(t, alice, bob);
    expectApiError(await removeConnection(t, bob, alice), 404, 'not_found');
    expect(await pendingPairs(t, bob)).toEqual({ incoming: ['alice→bob'], outgoing: [] });
  });

  it('answers 404 when there is neither a connection nor a request', async () => {
    expectApiError(await removeConnection(t, alice, bob), 404, 'not_found');
  });

  it('answers 404 the second time', async () => {
    await connect(t, alice, bob);
    await removeConnection(t, alice, bob);
    expectApiError(await removeConnection(t, alice, bob), 404, 'not_found');
  });

  it('answers 404 for an unknown user', async () => {
    expectApiError(await removeConnection(t, alice, { username: 'nobody_here' }), 404, 'not_found');
  });

  it('takes the username with a leading @ (percent-encoded or not)', async () => {
    await connect(t, alice, bob);
    await connect(t, alice, carol);
    expect((await t.http.delete('/connections/@bob').set(bearer(alice))).status).toBe(204);
    expect((await t.http.delete('/connections/%40Carol').set(bearer(alice))).status).toBe(204);
    expect(await connectionNames(t, alice)).toEqual([]);
  });

  it('leaves the other connections alone', async () => {
    await connect(t, alice, bob);
    await connect(t, alice, carol);
    await removeConnection(t, alice, bob);
    expect(await connectionNames(t, alice)).toEqual(['carol']);
  });

  it('needs an access token', async () => {
    expectApiError(await t.http.delete('/connections/bob'), 401, 'unauthorized');
  });
});
