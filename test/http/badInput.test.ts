import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Response } from 'supertest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { bearer, registerUser, type TestUser } from '../helpers/factories.js';
import { expectApiError, listedFields } from './errorShape.js';

const t = {} as TestApp;
const u = {} as TestUser;

/**
 * Fills `t` and `u` with a fresh app and user before each test (`each`: tests that change the account), or
 * once for the whole describe (`all`: tests whose requests are all refused, so each leaves the app as it found
 * it). A shared app is checked at the end: the user still signs in with the original password.
 */
function appAndUser(scope: 'each' | 'all'): void {
  const [before, after] = scope === 'each' ? [beforeEach, afterEach] : [beforeAll, afterAll];
  before(async () => {
    Object.assign(t, makeTestApp());
    Object.assign(u, await registerUser(t, { password: 'original password 1' }));
  });
  after(async () => {
    try {
      if (scope === 'all') expect((await t.http.post('/auth/login').send({ username: u.username, password: u.password })).status).toBe(200);
    } finally {
      await t.close();
    }
  });
}

/** An endpoint that takes a JSON body, with a body it would accept from `u`. */
interface Endpoint {
  method: 'post' | 'delete';
  path: string;
  auth: boolean;
  valid: (user: TestUser) => Record<string, unknown>;
  /** String fields that must be present. */
  required: string[];
  /** String fields that may be left out. */
  optional: string[];
}

const ENDPOINTS: Endpoint[] = [
  {
    method: 'post',
    path: '/auth/register',
    auth: false,
    valid: () => ({ username: 'new_person', email: 'new.person@example.org', password: 'a fine password' }),
    required: ['username', 'email', 'password'],
    optional: ['birthday'],
  },
  {
    method: 'post',
    path: '/auth/login',
    auth: false,
    valid: (user) => ({ username: user.username, password: user.password }),
    required: ['username', 'password'],
    optional: ['totp'],
  },
  {
    method: 'post',
    path: '/auth/refresh',
    auth: false,
    valid: (user) => ({ refreshToken: user.refreshToken }),
    required: ['refreshToken'],
    optional: [],
  },
  { method: 'post', path: '/auth/logout', auth: true, valid: () => ({}), required: [], optional: [] },
  {
    method: 'post',
    path: '/auth/change-password',
    auth: true,
    valid: (user) => ({ currentPassword: user.password, newPassword: 'a brand new password' }),
    required: ['currentPassword', 'newPassword'],
    optional: [],
  },
  {
    method: 'delete',
    path: '/users/me',
    auth: true,
    valid: (user) => ({ password: user.password }),
    required: ['password'],
    optional: [],
  },
];

const label = (e: Endpoint) => `${e.method.toUpperCase()} ${e.path}`;
/** The endpoint a table row names; rows carry only the label so test titles stay readable. */
const ep = (name: string): Endpoint => ENDPOINTS.find((e) => label(e) === name)!;
const byLabel = ENDPOINTS.map((e) => [label(e)] as const);
const fieldRows = ENDPOINTS.flatMap((e) => [...e.required, ...e.optional].map((field) => [label(e), field] as const));
const requiredRows = ENDPOINTS.flatMap((e) => e.required.map((field) => [label(e), field] as const));
const cross = <A extends readonly unknown[], B extends readonly unknown[]>(as: readonly A[], bs: readonly B[]) => as.flatMap((a) => bs.map((b) => [...a, ...b] as const));

/** Sends `body` as is: a string goes on the wire verbatim with `contentType`, an object as JSON. */
function send(e: Endpoint, body: string | object, contentType = 'application/json'): Promise<Response> {
  let req = t.http[e.method](e.path);
  if (e.auth) req = req.set(bearer(u));
  if (typeof body === 'string') return req.set('Content-Type', contentType).send(body);
  return req.send(body);
}

describe.each(byLabel)('%s', (name) => {
  appAndUser('each');
  const e = ep(name);
  it('accepts its valid body, the baseline every bad row departs from', async () => {
    const res = await send(e, e.valid(u));
    expect(res.status).toBeLessThan(300);
  });
});

describe('malformed JSON', () => {
  appAndUser('all');
  const malformed = [
    ['a truncated object', '{"a":'],
    ['single quotes', "{'username': 'x'}"],
    ['a trailing comma', '{"username": "x",}'],
    ['a bare word', 'undefined'],
    ['two objects', '{} {}'],
  ] as const;
  it.each(cross(byLabel, malformed))('%s answers 400 invalid_json to %s', async (name, _why, raw) => {
    const e = ep(name);
    expectApiError(await send(e, raw), 400, 'invalid_json');
  });
});

describe('JSON that is not an object', () => {
  appAndUser('all');
  const notObjects = [
    ['an empty array', '[]'],
    ['an array of the right object', null],
    ['a string', '"username"'],
    ['a number', '42'],
    ['null', 'null'],
    ['true', 'true'],
  ] as const;
  it.each(cross(byLabel, notObjects))('%s answers 400 to %s', async (name, _why, raw) => {
    const e = ep(name);
    const res = await send(e, raw ?? JSON.stringify([e.valid(u)]));
    expectApiError(res, 400);
    expect(['invalid_json', 'validation_failed']).toContain(res.body.error.code);
  });
});

describe('fields of the wrong type', () => {
  appAndUser('all');
  const wrongValues = [
    ['a number', 12345678],
    ['a boolean', true],
    ['an array', ['correct horse battery']],
    ['an object', { value: 'correct horse battery' }],
  ] as const;
  it.each(cross(fieldRows, wrongValues))('%s refuses %s as %s with validation_failed naming it', async (name, field, _why, value) => {
    const e = ep(name);
    const res = await send(e, { ...e.valid(u), [field]: value });
    expectApiError(res, 400, 'validation_failed');
    expect(listedFields(res)).toContain(field);
  });

  it.each(requiredRows)('%s refuses null for %s with validation_failed naming it', async (name, field) => {
    const e = ep(name);
    const res = await send(e, { ...e.valid(u), [field]: null });
    expectApiError(res, 400, 'validation_failed');
    expect(listedFields(res)).toContain(field);
  });
});

describe('unknown fields', () => {
  appAndUser('all');
  const extras = [
    ['isAdmin', true],
    ['role', 'admin'],
    ['userId', 'someone-else'],
  ] as const;
  it.each(cross(byLabel, extras))('%s refuses the unknown field %s with validation_failed naming it', async (name, field, value) => {
    const e = ep(name);
    const res = await send(e, { ...e.valid(u), [field]: value });
    expectApiError(res, 400, 'validation_failed');
    expect(res.body.error.details.fields).toContainEqual({ field, message: 'is not a known field' });
  });
});

describe('missing fields', () => {
  appAndUser('all');
  it.each(requiredRows)('%s refuses a body without %s, naming it', async (name, field) => {
    const e = ep(name);
    const body = Object.fromEntries(Object.entries(e.valid(u)).filter(([name]) => name !== field));
    const res = await send(e, body);
    expectApiError(res, 400, 'validation_failed');
    expect(listedFields(res)).toContain(field);
  });

  it.each(byLabel.filter(([name]) => ep(name).required.length > 0))('%s refuses an empty object, naming every required field', async (name) => {
    const e = ep(name);
    const res = await send(e, {});
    expectApiError(res, 400, 'validation_failed');
    expect(listedFields(res)).toEqual(expect.arrayContaining(e.required));
  });
});

describe('query operator objects', () => {
  appAndUser('all');
  const operators = [
    ['$gt', { $gt: '' }],
    ['$ne', { $ne: null }],
    ['$regex', { $regex: '.*' }],
    ['$where', { $where: 'return true' }],
    ['$in', { $in: ['a', 'b'] }],
  ] as const;
  it.each(cross(fieldRows, operators))('%s refuses %s: {%s} with validation_failed', async (name, field, _op, value) => {
    const e = ep(name);
    const res = await send(e, { ...e.valid(u), [field]: value });
    expectApiError(res, 400, 'validation_failed');
    expect(listedFields(res)).toContain(field);
  });

  it('does not sign in with {"username": {"$gt": ""}, "password": {"$ne": null}}', async () => {
    const res = await t.http.post('/auth/login').send({ username: { $gt: '' }, password: { $ne: null } });
    expectApiError(res, 400, 'validation_failed');
    expect(listedFields(res).sort()).toEqual(['password', 'username']);
  });

  it('does not refresh with {"refreshToken": {"$ne": null}}', async () => {
    const res = await t.http.post('/auth/refresh').send({ refreshToken: { $ne: null } });
    expectApiError(res, 400, 'validation_failed');
    expect(listedFields(res)).toEqual(['refreshToken']);
  });
});

describe('prototype pollution', () => {
  appAndUser('all');
  // Raw strings: JSON.stringify would drop or rename these keys before they reached the server.
  const poisoned = [
    ['a top-level __proto__ key', (valid: string) => `{"__proto__": {"admin": true}, ${valid}}`],
    ['a nested __proto__ key', (valid: string) => `{${valid}, "extra": {"__proto__": {"admin": true}}}`],
    ['a constructor.prototype key', (valid: string) => `{"constructor": {"prototype": {"admin": true}}, ${valid}}`],
  ] as const;
  const innards = (e: Endpoint) => JSON.stringify(e.valid(u)).slice(1, -1).replace(/^$/, '"pad": 1');

  it.each(cross(byLabel, poisoned))('%s refuses %s with 400', async (name, _why, build) => {
    const e = ep(name);
    expectApiError(await send(e, build(innards(e))), 400);
  });

  it.each(cross(byLabel, poisoned))('%s leaves Object.prototype alone after %s', async (name, _why, build) => {
    const e = ep(name);
    await send(e, build(innards(e)));
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'admin')).toBe(false);
  });
});

describe('bodies over MAX_BODY_BYTES', () => {
  appAndUser('all');
  it.each(byLabel)('%s answers 413 payload_too_large to a 70 KB body', async (name) => {
    const e = ep(name);
    const res = await send(e, { ...e.valid(u), padding: 'x'.repeat(70_000) });
    expectApiError(res, 413, 'payload_too_large');
  });

  it.each(byLabel)('%s reads a body just under the default limit (and refuses it only for its content)', async (name) => {
    const e = ep(name);
    const res = await send(e, { ...e.valid(u), padding: 'x'.repeat(60_000) });
    expectApiError(res, 400, 'validation_failed');
    expect(listedFields(res)).toContain('padding');
  });

  it('honours a configured MAX_BODY_BYTES', async () => {
    const small = makeTestApp({ env: { MAX_BODY_BYTES: '2048' } });
    try {
      const res = await small.http.post('/auth/login').send({ username: 'someone', password: 'p'.repeat(3000) });
      expectApiError(res, 413, 'payload_too_large');
    } finally {
      await small.close();
    }
  });
});

describe('bodies that are not JSON', () => {
  appAndUser('all');
  const mediaTypes = [
    ['text/plain', 'text/plain', (valid: Record<string, unknown>) => JSON.stringify(valid)],
    [
      'application/x-www-form-urlencoded',
      'application/x-www-form-urlencoded',
      (valid: Record<string, unknown>) => new URLSearchParams(Object.entries(valid).map(([k, v]): [string, string] => [k, String(v)])).toString() || 'a=1',
    ],
    ['application/xml', 'application/xml', () => '<login><username>x</username></login>'],
    ['multipart/form-data', 'multipart/form-data; boundary=XyZ', () => '--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--XyZ--\r\n'],
  ] as const;
  it.each(cross(byLabel, mediaTypes))('%s answers 415 unsupported_media_type to %s', async (name, _why, type, build) => {
    const e = ep(name);
    const res = await send(e, build(e.valid(u)), type);
    expectApiError(res, 415, 'unsupported_media_type');
  });
});

describe('a barrage of bad input', () => {
  appAndUser('each');
  const NEW_PASSWORD = 'a brand new password';

  /** Bad requests that each carry the right password somewhere, so a lax parser would act on them. */
  async function barrage(): Promise<number[]> {
    const auth = bearer(u);
    const pw = u.password;
    const json = 'application/json';
    const statuses: number[] = [];
    const record = async (p: PromiseLike<Response>) => statuses.push((await p).status);
    const change = () => t.http.post('/auth/change-password').set(auth);
    const del = () => t.http.delete('/users/me').set(auth);
    const login = () => t.http.post('/auth/login');

    await record(change().send({ currentPassword: pw, newPassword: NEW_PASSWORD, extra: true }));
    await record(change().send({ currentPassword: { $ne: null }, newPassword: NEW_PASSWORD }));
    await record(change().send({ currentPassword: pw, newPassword: [NEW_PASSWORD] }));
    await record(change().set('Content-Type', json).send(`{"__proto__": {"admin": true}, "currentPassword": "${pw}", "newPassword": "${NEW_PASSWORD}"}`));
    await record(change().set('Content-Type', json).send(`{"currentPassword": "${pw}", "newPassword": "${NEW_PASSWORD}"`));
    await record(
      change()
        .set('Content-Type', 'text/plain')
        .send(JSON.stringify({ currentPassword: pw, newPassword: NEW_PASSWORD })),
    );
    await record(change().type('form').send({ currentPassword: pw, newPassword: NEW_PASSWORD }));
    await record(change().send({ currentPassword: pw, newPassword: NEW_PASSWORD, padding: 'x'.repeat(70_000) }));
    await record(
      change()
        .set('Content-Type', json)
        .send(JSON.stringify([{ currentPassword: pw, newPassword: NEW_PASSWORD }])),
    );

    await record(del().send({ password: pw, confirm: true }));
    await record(del().send({ password: { $ne: null } }));
    await record(del().send({ password: [pw] }));
    await record(del().set('Content-Type', json).send(`{"__proto__": {"admin": true}, "password": "${pw}"}`));
    await record(del().set('Content-Type', json).send(`{"password": "${pw}",}`));
    await record(
      del()
        .set('Content-Type', 'text/plain')
        .send(JSON.stringify({ password: pw })),
    );
    await record(del().type('form').send({ password: pw }));
    await record(del().send({ password: pw, padding: 'x'.repeat(70_000) }));
    await record(
      del()
        .set('Content-Type', json)
        .send(JSON.stringify([{ password: pw }])),
    );

    await record(login().send({ username: { $gt: '' }, password: { $ne: null } }));
    await record(login().send({ username: u.username, password: { $ne: null } }));
    await record(login().set('Content-Type', json).send(`{"__proto__": {"admin": true}, "username": "${u.username}", "password": "${pw}"}`));
    await record(login().type('form').send({ username: u.username, password: pw }));
    return statuses;
  }

  it('answers every bad request with a 4xx', async () => {
    const statuses = await barrage();
    expect(statuses.filter((s) => s < 400 || s >= 500)).toEqual([]);
  });

  it('leaves the account in place', async () => {
    await barrage();
    const res = await t.http.get('/users/me').set(bearer(u));
    expect(res.status).toBe(200);
    expect(res.body.user.id).toBe(u.id);
  });

  it('leaves the password as it was', async () => {
    await barrage();
    const original = await t.http.post('/auth/login').send({ username: u.username, password: u.password });
    const changed = await t.http.post('/auth/login').send({ username: u.username, password: NEW_PASSWORD });
    expect({ original: original.status, changed: changed.status }).toEqual({ original: 200, changed: 401 });
  });
});
