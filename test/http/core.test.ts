import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { Response } from 'supertest';
import { StoreUnavailableError } from '../../app/store/types.js';
import { makeTestApp, type TestApp, type TestAppOptions } from '../helpers/app.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { expectApiError } from './errorShape.js';
import { Fault, withFault } from './faults.js';

// Each test may build its own app (TRUST_PROXY, faults); all of them are closed after it.
let apps: TestApp[] = [];
function app(options: TestAppOptions = {}): TestApp {
  const t = makeTestApp(options);
  apps.push(t);
  return t;
}
// The default app is one for the file: its tests read headers and logs of their own requests, and the users
// they register are their own (fresh or uniquely named), so none sees another's traces.
let t: TestApp;
beforeAll(() => {
  t = makeTestApp();
});
afterAll(() => t.close());
afterEach(async () => {
  await Promise.all(apps.map((a) => a.close()));
  apps = [];
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The one access log line written for `res`. */
function requestLog(a: TestApp, res: Response): Record<string, unknown> {
  const lines = a.logs.filter((l) => l.msg === 'request' && l.requestId === res.headers['x-request-id']);
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

const corsHeaders = (res: Response) => Object.keys(res.headers).filter((h) => h.startsWith('access-control-'));

describe('X-Request-Id', () => {
  it('is generated when the request carries none', async () => {
    const res = await t.http.get('/health');
    expect(res.headers['x-request-id']).toMatch(UUID);
  });

  it('is a fresh id for each request', async () => {
    const a = await t.http.get('/health');
    const b = await t.http.get('/health');
    expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
  });

  it.each([
    ['letters, digits and . _ : -', 'client-42.retry:3_A'],
    ['128 characters long', 'a'.repeat(128)],
  ])('echoes a valid incoming id (%s)', async (_why, id) => {
    const res = await t.http.get('/health').set('X-Request-Id', id);
    expect(res.headers['x-request-id']).toBe(id);
  });

  it.each([
    ['contains spaces', 'has spaces in it'],
    ['is 200 characters long', 'a'.repeat(200)],
    ['is 129 characters long', 'a'.repeat(129)],
    ['contains a semicolon', 'id;rm -rf'],
    ['contains angle brackets', '<script>'],
    ['contains a quote', 'a"b'],
    ['contains a slash', '../../etc'],
  ])('replaces an incoming id that %s', async (_why, id) => {
    const res = await t.http.get('/health').set('X-Request-Id', id);
    expect(res.headers['x-request-id']).toMatch(UUID);
  });

  it('is echoed on error answers too', async () => {
    const res = await t.http.get('/nowhere').set('X-Request-Id', 'trace-404');
    expect({ status: res.status, id: res.headers['x-request-id'] }).toEqual({ status: 404, id: 'trace-404' });
  });

  it('is the id the request is logged under', async () => {
    const res = await t.http.get('/health').set('X-Request-Id', 'trace-log-1');
    expect(requestLog(t, res)).toMatchObject({ requestId: 'trace-log-1', method: 'GET', route: '/health', status: 200 });
  });
});

describe('X-Content-Type-Options', () => {
  const requests: Array<[string, (a: TestApp) => Promise<Response>]> = [
    ['a 200', (a) => a.http.get('/health')],
    ['a 201', (a) => a.http.post('/auth/register').send({ username: 'nosniff_1', email: 'ns@example.org', password: 'a fine password' })],
    ['a 204', async (a) => a.http.post('/auth/logout').set(bearer(await registerUser(a)))],
    ['a 400', (a) => a.http.post('/auth/login').set('Content-Type', 'application/json').send('{')],
    ['a 401', (a) => a.http.get('/users/me')],
    ['a 404', (a) => a.http.get('/nowhere')],
    ['a 405', (a) => a.http.put('/auth/login')],
    ['a 413', (a) => a.http.post('/auth/login').send({ username: 'x', password: 'p'.repeat(70_000) })],
    ['a 415', (a) => a.http.post('/auth/login').set('Content-Type', 'text/plain').send('hello')],
  ];
  it.each(requests)('is nosniff on %s answer', async (_status, make) => {
    const res = await make(t);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });
});

describe('Cache-Control', () => {
  const requests: Array<[string, (a: TestApp) => Promise<Response>]> = [
    ['POST /auth/register', (a) => a.http.post('/auth/register').send({ username: 'cache_1', email: 'c1@example.org', password: 'a fine password' })],
    [
      'POST /auth/login',
      async (a) => {
        const u = await registerUser(a);
        return a.http.post('/auth/login').send({ username: u.username, password: u.password });
      },
    ],
    ['POST /auth/refresh', async (a) => a.http.post('/auth/refresh').send({ refreshToken: (await registerUser(a)).refreshToken })],
    ['GET /users/me', async (a) => a.http.get('/users/me').set(bearer(await registerUser(a)))],
  ];
  it.each(requests)('is no-store on a successful %s', async (_name, make) => {
    const res = await make(t);
    expect(res.status).toBeLessThan(300);
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('is no-store on error answers', async () => {
    const res = await t.http.post('/auth/login').send({ username: 'nobody_here', password: 'whatever pw' });
    expect({ status: res.status, cacheControl: res.headers['cache-control'] }).toEqual({ status: 401, cacheControl: 'no-store' });
  });
});

describe('CORS', () => {
  const ALLOWED = 'https://app.example.com';
  const ALSO_ALLOWED = 'https://admin.example.com';
  // One app for the describe: its tests only send requests and read the answers' headers.
  let c: TestApp;
  beforeAll(() => {
    c = makeTestApp({ env: { CORS_ORIGINS: `${ALLOWED},${ALSO_ALLOWED}` } });
  });
  afterAll(() => c.close());
  const preflight = (a: TestApp, origin: string) =>
    a.http.options('/auth/login').set('Origin', origin).set('Access-Control-Request-Method', 'POST').set('Access-Control-Request-Headers', 'authorization, content-type');

  it('gives an allowed Origin Access-Control-Allow-Origin with that origin', async () => {
    const res = await c.http.get('/health').set('Origin', ALLOWED);
    expect(res.headers['access-control-allow-origin']).toBe(ALLOWED);
  });

  it('answers each allowed origin with itself, never with another or *', async () => {
    const res = await c.http.get('/health').set('Origin', ALSO_ALLOWED);
    expect(res.headers['access-control-allow-origin']).toBe(ALSO_ALLOWED);
  });

  it('varies on Origin so caches keep answers for different origins apart', async () => {
    const res = await c.http.get('/health').set('Origin', ALLOWED);
    expect(res.headers.vary).toMatch(/\bOrigin\b/);
  });

  it('exposes X-Request-Id and Retry-After to the browser', async () => {
    const res = await c.http.get('/health').set('Origin', ALLOWED);
    expect(res.headers['access-control-expose-headers']).toEqual(expect.stringContaining('X-Request-Id'));
    expect(res.headers['access-control-expose-headers']).toEqual(expect.stringContaining('Retry-After'));
  });

  it('keeps the CORS headers on error answers, so the page can read the error', async () => {
    const res = await c.http.get('/users/me').set('Origin', ALLOWED);
    expect({ status: res.status, origin: res.headers['access-control-allow-origin'] }).toEqual({ status: 401, origin: ALLOWED });
  });

  it('answers a preflight from an allowed origin 204', async () => {
    const res = await preflight(c, ALLOWED);
    expect(res.status).toBe(204);
  });

  it('lists the methods the API uses in a preflight answer', async () => {
    const res = await preflight(c, ALLOWED);
    const methods = String(res.headers['access-control-allow-methods']).split(/,\s*/);
    expect(methods).toEqual(expect.arrayContaining(['GET', 'POST', 'PUT', 'DELETE']));
  });

  it('lists Authorization, Content-Type and X-Request-Id as allowed headers in a preflight answer', async () => {
    const res = await preflight(c, ALLOWED);
    const headers = String(res.headers['access-control-allow-headers']).toLowerCase().split(/,\s*/);
    expect(headers).toEqual(expect.arrayContaining(['authorization', 'content-type', 'x-request-id']));
  });

  it('never allows credentials: tokens travel in headers, not cookies', async () => {
    const res = await preflight(c, ALLOWED);
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
  });

  it.each([
    ['an unlisted origin', 'https://evil.example.net'],
    ['the allowed host over http', 'http://app.example.com'],
    ['the allowed origin with a suffix', 'https://app.example.com.evil.net'],
    ['the allowed origin with another port', 'https://app.example.com:8443'],
    ['the literal null origin', 'null'],
  ])('gives %s no CORS headers', async (_why, origin) => {
    const res = await c.http.get('/health').set('Origin', origin);
    expect(corsHeaders(res)).toEqual([]);
  });

  it('gives a preflight from a disallowed origin no CORS headers', async () => {
    const res = await preflight(c, 'https://evil.example.net');
    expect(corsHeaders(res)).toEqual([]);
  });

  it('sends no CORS headers on a request without Origin', async () => {
    const res = await c.http.get('/health');
    expect(corsHeaders(res)).toEqual([]);
  });

  it('sends no CORS headers on a request when CORS_ORIGINS is unset', async () => {
    const res = await t.http.get('/health').set('Origin', ALLOWED);
    expect(corsHeaders(res)).toEqual([]);
  });

  it('answers no preflight when CORS_ORIGINS is unset', async () => {
    const res = await preflight(t, ALLOWED);
    expect(corsHeaders(res)).toEqual([]);
  });
});

describe('TRUST_PROXY', () => {
  const CLIENT = '203.0.113.7';
  const LOOPBACK = /^(::ffff:)?127\.0\.0\.1$|^::1$/;

  it('logs the socket address, not X-Forwarded-For, by default', async () => {
    const res = await t.http.get('/health').set('X-Forwarded-For', CLIENT);
    expect(requestLog(t, res).ip).toMatch(LOOPBACK);
  });

  it('logs the socket address when TRUST_PROXY=false', async () => {
    const p = app({ env: { TRUST_PROXY: 'false' } });
    const res = await p.http.get('/health').set('X-Forwarded-For', CLIENT);
    expect(requestLog(p, res).ip).toMatch(LOOPBACK);
  });

  it('logs the X-Forwarded-For address when TRUST_PROXY=true', async () => {
    const p = app({ env: { TRUST_PROXY: 'true' } });
    const res = await p.http.get('/health').set('X-Forwarded-For', CLIENT);
    expect(requestLog(p, res).ip).toBe(CLIENT);
  });

  it('believes only the address the proxy appended, not one the client prepended', async () => {
    const p = app({ env: { TRUST_PROXY: 'true' } });
    const res = await p.http.get('/health').set('X-Forwarded-For', `198.51.100.1, ${CLIENT}`);
    expect(requestLog(p, res).ip).toBe(CLIENT);
  });

  it('falls back to the socket address with TRUST_PROXY=true and no X-Forwarded-For', async () => {
    const p = app({ env: { TRUST_PROXY: 'true' } });
    const res = await p.http.get('/health');
    expect(requestLog(p, res).ip).toMatch(LOOPBACK);
  });
});

describe('unknown routes', () => {
  it.each([
    ['GET', '/nowhere'],
    ['GET', '/auth'],
    ['POST', '/auth/nowhere'],
    ['GET', '/users/me/extra'],
    ['DELETE', '/nowhere/at/all'],
    // Not /users/...: GET /users/{username} exists now, and that route answers a malformed escape with 400.
    ['GET', '/nowhere/%E0%A4%A'],
  ])('answer %s %s with 404 not_found in the error shape', async (method, path) => {
    const res = await t.http[method.toLowerCase() as 'get' | 'post' | 'delete'](path);
    expectApiError(res, 404, 'not_found');
  });

  it('answer 404 not_found to a POST with a JSON body', async () => {
    const res = await t.http.post('/auth/nowhere').send({ username: 'x' });
    expectApiError(res, 404, 'not_found');
  });
});

describe('wrong methods on known paths', () => {
  it.each([
    ['GET', '/auth/login'],
    ['PUT', '/auth/register'],
    ['DELETE', '/auth/logout'],
    ['POST', '/health'],
    ['PATCH', '/users/me'],
    ['PUT', '/users/me'],
  ])('answer %s %s with 405 method_not_allowed in the error shape', async (method, path) => {
    const res = await t.http[method.toLowerCase() as 'get' | 'put' | 'delete' | 'post' | 'patch'](path);
    expectApiError(res, 405, 'method_not_allowed');
  });

  it.each([
    ['GET', '/auth/login', ['POST']],
    ['PATCH', '/users/me', ['GET', 'DELETE']],
  ])('list in Allow what %s %s would accept', async (method, path, allowed) => {
    const res = await t.http[method.toLowerCase() as 'get' | 'patch'](path);
    expect(String(res.headers.allow).split(/,\s*/)).toEqual(expect.arrayContaining(allowed));
  });

  it('answer a method the server does not implement at all in the error shape', async () => {
    const res = await t.http.trace('/auth/login');
    expectApiError(res, 501);
  });
});

describe('unexpected errors from the store', () => {
  const BOOM = 'boom at /secret/path';

  function failingLogin(value: unknown) {
    const fault = new Fault();
    const a = app({ wrapStore: withFault('users', 'findByUsername', fault) });
    fault.arm(value);
    return { a, res: a.http.post('/auth/login').send({ username: 'someone', password: 'a password' }) };
  }

  it('answer 500 internal in the error shape with no details', async () => {
    const { res } = failingLogin(new Error(BOOM));
    const r = await res;
    expectApiError(r, 500, 'internal');
    expect(r.body.error.details).toBeUndefined();
  });

  it('never put the error message in the answer', async () => {
    const { res } = failingLogin(new Error(BOOM));
    const r = await res;
    expect(r.text).not.toMatch(/boom|secret/i);
  });

  it('are logged in full with the request id', async () => {
    const { a, res } = failingLogin(new Error(BOOM));
    const r = await res;
    const errors = a.logs.filter((l) => l.level === 50);
    expect(errors).toEqual([
      expect.objectContaining({
        requestId: r.headers['x-request-id'],
        err: expect.objectContaining({ message: BOOM, stack: expect.stringContaining(BOOM) }),
      }),
    ]);
  });

  it('keep X-Request-Id and the security headers on the 500', async () => {
    const { res } = failingLogin(new Error(BOOM));
    const r = await res;
    expect({ id: r.headers['x-request-id'], nosniff: r.headers['x-content-type-options'] }).toEqual({ id: expect.stringMatching(UUID), nosniff: 'nosniff' });
  });

  it.each([
    ['a TypeError', new TypeError(`${BOOM} is not a function`)],
    ['a thrown string', BOOM],
    ['a thrown null', null],
    ['a thrown undefined', undefined],
    ['an unexposed http error', Object.assign(new Error(BOOM), { status: 500, expose: false })],
    ['an object with a non-numeric status', { status: BOOM }],
  ])('answer %s with 500 internal in the error shape', async (_why, value) => {
    const { res } = failingLogin(value);
    const r = await res;
    expectApiError(r, 500, 'internal');
    expect(r.text).not.toMatch(/boom|secret/i);
  });

  it('answer an unexpected failure on an authenticated route with 500 internal', async () => {
    const fault = new Fault();
    const a = app({ wrapStore: withFault('users', 'findById', fault) });
    const u = await registerUser(a);
    fault.arm(new Error(BOOM));
    expectApiError(await a.http.get('/users/me').set(bearer(u)), 500, 'internal');
  });
});

describe('an unreachable store', () => {
  const unreachable = () => new StoreUnavailableError('connect ECONNREFUSED 10.0.0.5:27017');

  it('answers 503 unavailable in the error shape', async () => {
    const fault = new Fault();
    const a = app({ wrapStore: withFault('users', 'findByUsername', fault) });
    fault.arm(unreachable());
    const res = await a.http.post('/auth/login').send({ username: 'someone', password: 'a password' });
    expectApiError(res, 503, 'unavailable');
    expect(res.text).not.toMatch(/ECONNREFUSED|10\.0\.0\.5/);
  });

  it('tells the client when to retry', async () => {
    const fault = new Fault();
    const a = app({ wrapStore: withFault('users', 'findByUsername', fault) });
    fault.arm(unreachable());
    const res = await a.http.post('/auth/login').send({ username: 'someone', password: 'a password' });
    expect(res.headers['retry-after']).toMatch(/^\d+$/);
  });

  it('answers 503 when the session lookup of an authenticated request fails', async () => {
    const fault = new Fault();
    const a = app({ wrapStore: withFault('sessions', 'findById', fault) });
    const u = await registerUser(a);
    fault.arm(unreachable());
    expectApiError(await a.http.get('/users/me').set(bearer(u)), 503, 'unavailable');
  });

  it('is logged with the request id', async () => {
    const fault = new Fault();
    const a = app({ wrapStore: withFault('users', 'findByUsername', fault) });
    fault.arm(unreachable());
    const res = await a.http.post('/auth/login').send({ username: 'someone', password: 'a password' });
    expect(a.logs).toContainEqual(expect.objectContaining({ level: 50, msg: 'store unavailable', requestId: res.headers['x-request-id'] }));
  });
});
