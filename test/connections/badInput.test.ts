import { beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { pendingPairs, sendRequest } from '../helpers/connections.js';
import { bearer } from '../helpers/factories.js';
import { useTestApp, withUsers } from '../helpers/perTest.js';
import { expectApiError, listedFields } from '../http/errorShape.js';

// One app for the file: every request below is refused and changes nothing (checked at the end), except the
// valid baselines, which get an app of their own per test.
const t = useTestApp({}, 'all');
const { alice, bob } = withUsers(t, 'alice', 'bob', { scope: 'all' });
beforeAll(async () => {
  await sendRequest(t, bob, alice); // so that respond has something valid to answer
});

const ENDPOINTS = [
  { path: '/connections/request', valid: { username: 'bob', message: 'hello' }, fields: ['username', 'message'] },
  { path: '/connections/respond', valid: { username: 'bob', action: 'reject' }, fields: ['username', 'action'] },
] as const;
const rows = ENDPOINTS.map((e) => [e.path] as const);
const fieldRows = ENDPOINTS.flatMap((e) => e.fields.map((f) => [e.path, f] as const));
const endpoint = (path: string) => ENDPOINTS.find((e) => e.path === path)!;
const post = (path: string, body: unknown) =>
  t.http
    .post(path)
    .set(bearer(alice))
    .send(body as object);

describe('valid connection bodies (an app each: accepting one changes the graph)', () => {
  const fresh = useTestApp();
  const users = withUsers(fresh, 'alice', 'bob');
  beforeEach(async () => {
    await sendRequest(fresh, users.bob, users.alice);
  });
  it.each(rows)('%s accepts its valid body, the baseline every bad row departs from', async (path) => {
    const res = await fresh.http.post(path).set(bearer(users.alice)).send(endpoint(path).valid);
    expect(res.status).toBeLessThan(300);
  });
});

describe('connection bodies', () => {
  const wrong = [
    ['a number', 42],
    ['a boolean', true],
    ['an array', ['bob']],
    ['an object', { value: 'bob' }],
    ['an operator object $gt', { $gt: '' }],
    ['an operator object $ne', { $ne: null }],
    ['an operator object $regex', { $regex: '.*' }],
  ] as const;
  it.each(fieldRows.flatMap((r) => wrong.map((w) => [...r, ...w] as const)))('%s refuses %s as %s with validation_failed naming it', async (path, field, _why, value) => {
    const res = await post(path, { ...endpoint(path).valid, [field]: value });
    expectApiError(res, 400, 'validation_failed');
    expect(listedFields(res)).toContain(field);
  });

  it.each(rows)('%s refuses an unknown field', async (path) => {
    const res = await post(path, { ...endpoint(path).valid, requesterId: alice.id });
    expectApiError(res, 400, 'validation_failed');
    expect(res.body.error.details.fields).toContainEqual({ field: 'requesterId', message: 'is not a known field' });
  });

  it.each(rows)('%s refuses __proto__ smuggling', async (path) => {
    const raw = `{"username":"bob","__proto__":{"admin":true},"action":"reject"}`;
    const res = await t.http.post(path).set(bearer(alice)).set('Content-Type', 'application/json').send(raw);
    // The body parser itself refuses the key (invalid_json); either way it never reaches a handler.
    expectApiError(res, 400);
    expect(['invalid_json', 'validation_failed']).toContain(res.body.error.code);
  });

  it.each(rows)('%s refuses a body without username, naming it', async (path) => {
    const { username: _dropped, ...rest } = endpoint(path).valid;
    const res = await post(path, rest);
    expectApiError(res, 400, 'validation_failed');
    expect(listedFields(res)).toContain('username');
  });

  it.each(rows)('%s refuses a JSON array body', async (path) => {
    expectApiError(await post(path, [endpoint(path).valid]), 400, 'validation_failed');
  });

  it.each(rows)('%s answers 400 invalid_json to malformed JSON', async (path) => {
    const res = await t.http.post(path).set(bearer(alice)).set('Content-Type', 'application/json').send('{"username":');
    expectApiError(res, 400, 'invalid_json');
  });

  const badNames = [
    ['too short', 'ab'],
    ['too long', 'a'.repeat(33)],
    ['a space', 'bo b'],
    ['a dash', 'bo-b'],
    ['two @', '@@bob'],
    ['an @ inside', 'b@ob'],
    ['empty', ''],
    ['non-ASCII letters', 'böb'],
    ['an e-mail address', 'bob@example.org'],
  ] as const;
  it.each(rows.flatMap((r) => badNames.map((b) => [...r, ...b] as const)))('%s refuses a username that is %s', async (path, _why, username) => {
    const res = await post(path, { ...endpoint(path).valid, username });
    expectApiError(res, 400, 'validation_failed');
    expect(listedFields(res)).toEqual(['username']);
  });

  it('refuses an action other than accept or reject', async () => {
    const res = await post('/connections/respond', { username: 'bob', action: 'ACCEPT' });
    expectApiError(res, 400, 'validation_failed');
    expect(listedFields(res)).toEqual(['action']);
  });

  it('refuses a message of 281 characters', async () => {
    const res = await post('/connections/request', { username: 'bob', message: 'é'.repeat(281) });
    expectApiError(res, 400, 'validation_failed');
    expect(listedFields(res)).toEqual(['message']);
  });
});

describe('DELETE /connections/{username} path', () => {
  it.each([
    ['too short', 'ab'],
    ['too long', 'a'.repeat(33)],
    ['a dash', 'bo-b'],
    ['an encoded slash', 'bo%2Fb'],
    ['an encoded NUL', 'bob%00'],
    ['an operator-looking name', '%7B%22%24gt%22%3A%22%22%7D'],
  ])('refuses a username that is %s with 400 validation_failed', async (_why, raw) => {
    const res = await t.http.delete(`/connections/${raw}`).set(bearer(alice));
    expectApiError(res, 400, 'validation_failed');
    expect(listedFields(res)).toEqual(['params.username']);
  });

  it('answers a malformed percent-encoding with a 4xx, never a 500', async () => {
    const res = await t.http.delete('/connections/%E0%A4%A').set(bearer(alice));
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });
});

// Last, so it sees what every refusal above left behind in the shared app: nothing.
describe('after every refusal', () => {
  it('alice still has only bob’s request pending, and no connection', async () => {
    expect(await pendingPairs(t, alice)).toEqual({ incoming: ['bob→alice'], outgoing: [] });
    expect((await t.http.get('/connections/').set(bearer(alice))).body.connections).toEqual([]);
  });
});
