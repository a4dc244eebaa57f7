import { describe, expect, it } from '@jest/globals';
import { connect, connectionNames, pendingPairs, presentedConnection, removeConnection, sendRequest } from '../helpers/connections.js';
import { bearer } from '../helpers/factories.js';
import { useTestApp, withUsers } from '../helpers/perTest.js';
import { expectApiError, listedFields } from '../http/errorShape.js';

const t = useTestApp();
const { alice, bob } = withUsers(t, 'alice', 'bob');

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('POST /connections/request', () => {
  it('answers 201 with the pending request', async () => {
    const res = await sendRequest(t, alice, bob, 'hi, it is Alice from the climbing club');
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      request: {
        id: expect.any(String),
        from: 'alice',
        to: 'bob',
        message: 'hi, it is Alice from the climbing club',
        createdAt: '2026-06-01T12:00:00.000Z',
        expiresAt: expect.stringMatching(ISO),
      },
    });
  });

  it('sets expiresAt CONNECTION_REQUEST_TTL after createdAt (30 days by default)', async () => {
    const { request } = (await sendRequest(t, alice, bob)).body;
    expect(Date.parse(request.expiresAt) - Date.parse(request.createdAt)).toBe(2_592_000 * 1000);
  });

  it('answers message null when none was given', async () => {
    expect((await sendRequest(t, alice, bob)).body.request.message).toBeNull();
  });

  it('accepts an explicit null message as no message', async () => {
    const res = await t.http.post('/connections/request').set(bearer(alice)).send({ username: 'bob', message: null });
    expect(res.status).toBe(201);
    expect(res.body.request.message).toBeNull();
  });

  it('accepts a message of exactly 280 characters, counting an emoji once', async () => {
    const message = '🙂'.repeat(280); // 560 UTF-16 code units, 280 characters
    const res = await sendRequest(t, alice, bob, message);
    expect(res.status).toBe(201);
    expect(res.body.request.message).toBe(message);
  });

  it('refuses a message of 281 characters with validation_failed naming it', async () => {
    const res = await sendRequest(t, alice, bob, 'x'.repeat(281));
    expectApiError(res, 400, 'validation_failed');
    expect(listedFields(res)).toEqual(['message']);
  });

  it('takes the username with a leading @ and in any case', async () => {
    const res = await sendRequest(t, alice, { username: '@BoB' });
    expect(res.status).toBe(201);
    expect(res.body.request.to).toBe('bob');
  });

  it('shows the request to the recipient as incoming and to the sender as outgoing', async () => {
    await sendRequest(t, alice, bob);
    expect(await pendingPairs(t, bob)).toEqual({ incoming: ['alice→bob'], outgoing: [] });
    expect(await pendingPairs(t, alice)).toEqual({ incoming: [], outgoing: ['alice→bob'] });
  });

  it('does not connect anyone by itself', async () => {
    await sendRequest(t, alice, bob);
    expect(await connectionNames(t, alice)).toEqual([]);
    expect(await connectionNames(t, bob)).toEqual([]);
  });

  it('refuses asking yourself with 400 validation_failed naming username', async () => {
    const res = await sendRequest(t, alice, { username: '@Alice' });
    expectApiError(res, 400, 'validation_failed');
    expect(listedFields(res)).toEqual(['username']);
  });

  it('answers 404 not_found for an unknown user', async () => {
    expectApiError(await sendRequest(t, alice, { username: 'nobody_here' }), 404, 'not_found');
  });

  it('answers 409 request_pending when you already asked', async () => {
    await sendRequest(t, alice, bob);
    expectApiError(await sendRequest(t, alice, bob), 409, 'request_pending');
  });

  it('keeps the first request (and its message) when a second one is refused', async () => {
    const first = (await sendRequest(t, alice, bob, 'first')).body.request;
    await sendRequest(t, alice, bob, 'second');
    const res = await t.http.get('/connections/pending').set(bearer(bob));
    expect(res.body.incoming).toEqual([first]);
  });

  it('answers 409 already_connected when you are connected', async () => {
    await connect(t, alice, bob);
    expectApiError(await sendRequest(t, alice, bob), 409, 'already_connected');
  });

  it('answers 409 already_connected to the side that accepted, too', async () => {
    await connect(t, alice, bob);
    expectApiError(await sendRequest(t, bob, alice), 409, 'already_connected');
  });

  it('lets you ask again after the connection was removed', async () => {
    await connect(t, alice, bob);
    await removeConnection(t, bob, alice);
    expect((await sendRequest(t, alice, bob)).status).toBe(201);
  });

  it('needs an access token', async () => {
    expectApiError(await t.http.post('/connections/request').send({ username: 'bob' }), 401, 'unauthorized');
  });
});

describe('crossing requests', () => {
  it('connects at once when the other user had already asked you: 200 {connection}', async () => {
    await sendRequest(t, alice, bob);
    const res = await sendRequest(t, bob, alice);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      connection: presentedConnection('alice', '2026-06-01T12:00:00.000Z', { online: true, lastSeen: '2026-06-01T12:00:00.000Z' }),
    });
  });

  it('leaves both sides connected and nothing pending', async () => {
    await sendRequest(t, alice, bob);
    await sendRequest(t, bob, alice);
    expect(await connectionNames(t, alice)).toEqual(['bob']);
    expect(await connectionNames(t, bob)).toEqual(['alice']);
    expect(await pendingPairs(t, alice)).toEqual({ incoming: [], outgoing: [] });
    expect(await pendingPairs(t, bob)).toEqual({ incoming: [], outgoing: [] });
  });
});
