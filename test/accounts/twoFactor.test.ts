import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { StoreUnavailableError, type Store } from '../../app/store/types.js';
import { makeTestApp } from '../helpers/app.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { useTestApp, withUser } from '../helpers/perTest.js';
import { totpAt } from '../helpers/totp.js';

const t = useTestApp();
const alice = withUser(t, { username: 'alice', password: 'correct horse battery' });

const PASSWORD = 'correct horse battery';
const setup = (password = PASSWORD) => t.http.post('/auth/2fa/setup').set(bearer(alice)).send({ password });
const enable = (code: string, password = PASSWORD) => t.http.post('/auth/2fa/enable').set(bearer(alice)).send({ password, code });
const disable = (password: string, code: string) => t.http.post('/auth/2fa/disable').set(bearer(alice)).send({ password, code });
const login = (totp?: string) => t.http.post('/auth/login').send({ username: 'alice', password: 'correct horse battery', ...(totp === undefined ? {} : { totp }) });
const codeNow = (secret: string) => totpAt(secret, t.clock.now());

/** Sets up and enables 2FA, then moves to the next 30-second step so the enabling code is spent. */
async function enabled(): Promise<string> {
  const { secret } = (await setup()).body;
  expect((await enable(codeNow(secret))).status).toBe(200);
  t.clock.advance(30);
  return secret;
}

describe('POST /auth/2fa/setup', () => {
  it('answers a base32 secret and its otpauth URI, and changes nothing yet', async () => {
    const res = await setup();
    expect(res.status).toBe(200);
    expect(res.body.secret).toMatch(/^[A-Z2-7]{32}$/);
    const url = new URL(res.body.otpauthUrl);
    expect(url.protocol).toBe('otpauth:');
    expect(url.searchParams.get('secret')).toBe(res.body.secret);
    expect(url.searchParams.get('issuer')).toBe('Signalbox');
    expect(decodeURIComponent(url.pathname)).toContain('alice');
    expect(res.headers['cache-control']).toBe('no-store');
    expect((await login()).status).toBe(200);
  });

  it('stores the secret encrypted', async () => {
    const { secret } = (await setup()).body;
    const bytes = Buffer.concat(
      readdirSync(t.dir)
        .filter((f) => f.startsWith('signalbox.db'))
        .map((f) => readFileSync(join(t.dir, f))),
    );
    expect(bytes.includes(secret)).toBe(false);
  });

  it('refuses with 409 once two-factor is on', async () => {
    await enabled();
    expect((await setup()).status).toBe(409);
  });

  it('needs a signed-in user', async () => {
    expect((await t.http.post('/auth/2fa/setup').send({ password: PASSWORD })).status).toBe(401);
  });

  it('needs the password: without it 400 validation_failed, a wrong one 403 invalid_password and no secret', async () => {
    const bare = await t.http.post('/auth/2fa/setup').set(bearer(alice)).send({});
    expect(bare.status).toBe(400);
    expect(bare.body.error.code).toBe('validation_failed');
    const wrong = await setup('not my password');
    expect(wrong.status).toBe(403);
    expect(wrong.body).toEqual({ error: { code: 'invalid_password', message: expect.any(String) } });
    expect(await t.store.twoFactor.get(alice.id)).toBeNull();
  });
});

describe('POST /auth/2fa/enable', () => {
  it('turns two-factor on with a valid code, shown as user.twoFactor', async () => {
    const { secret } = (await setup()).body;
    expect((await enable(codeNow(secret))).status).toBe(200);
    expect((await t.http.get('/users/me').set(bearer(alice))).body.user.twoFactor).toBe(true);
  });

  it('refuses a wrong code with 400 invalid_totp (not 401: the token is fine) and leaves two-factor off', async () => {
    const { secret } = (await setup()).body;
    const wrong = String((Number(codeNow(secret)) + 1) % 1_000_000).padStart(6, '0');
    const res = await enable(wrong);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_totp');
    expect((await t.http.get('/users/me').set(bearer(alice))).body.user.twoFactor).toBe(false);
  });

  it('accepts only a code of the newest setup', async () => {
    const first = (await setup()).body.secret;
    const second = (await setup()).body.secret;
    expect((await enable(codeNow(first))).status).toBe(400);
    expect((await enable(codeNow(second))).status).toBe(200);
  });

  it('answers 409 without a setup first', async () => {
    expect((await enable('123456')).status).toBe(409);
  });

  it('needs the password: without it 400 validation_failed, a wrong one 403 invalid_password, and the code stays unspent', async () => {
    const { secret } = (await setup()).body;
    const code = codeNow(secret);
    const bare = await t.http.post('/auth/2fa/enable').set(bearer(alice)).send({ code });
    expect(bare.status).toBe(400);
    expect(bare.body.error.code).toBe('validation_failed');
    const wrong = await enable(code, 'not my password');
    expect(wrong.status).toBe(403);
    expect(wrong.body.error.code).toBe('invalid_password');
    expect((await t.http.get('/users/me').set(bearer(alice))).body.user.twoFactor).toBe(false);
    expect((await enable(code)).status).toBe(200);
  });

  it('answers 10 distinct recovery codes of 10 base32 characters as XXXXX-XXXXX', async () => {
    const { secret } = (await setup()).body;
    const res = await enable(codeNow(secret));
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['recoveryCodes']);
    expect(res.body.recoveryCodes).toHaveLength(10);
    for (const code of res.body.recoveryCodes) expect(code).toMatch(/^[A-Z2-7]{5}-[A-Z2-7]{5}$/);
    expect(new Set(res.body.recoveryCodes).size).toBe(10);
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('stores the recovery codes only as hashes', async () => {
    const { secret } = (await setup()).body;
    const codes: string[] = (await enable(codeNow(secret))).body.recoveryCodes;
    const bytes = Buffer.concat(
      readdirSync(t.dir)
        .filter((f) => f.startsWith('signalbox.db'))
        .map((f) => readFileSync(join(t.dir, f))),
    );
    for (const code of codes) {
      expect(bytes.includes(code)).toBe(false);
      expect(bytes.includes(code.replace('-', ''))).toBe(false);
    }
  });
});

describe('POST /auth/2fa/enable when the security log cannot be written', () => {
  /** The real store, except that every security-log write fails as if the database were gone. */
  const logDown = (store: Store): Store => {
    const securityEvents = { ...store.securityEvents, add: () => Promise.reject(new StoreUnavailableError()) };
    return new Proxy(store, { get: (target, prop) => (prop === 'securityEvents' ? securityEvents : Reflect.get(target, prop)) });
  };

  it('still answers the recovery codes (2FA is on and they are shown only once), and logs the lost entry', async () => {
    const broken = makeTestApp({ wrapStore: logDown });
    try {
      const bob = await registerUser(broken, { username: 'bob_b', password: PASSWORD });
      const { secret } = (await broken.http.post('/auth/2fa/setup').set(bearer(bob)).send({ password: PASSWORD })).body;
      const res = await broken.http
        .post('/auth/2fa/enable')
        .set(bearer(bob))
        .send({ password: PASSWORD, code: totpAt(secret, broken.clock.now()) });
      expect(res.status).toBe(200);
      expect(res.body.recoveryCodes).toHaveLength(10);
      expect(broken.logs.some((l) => l.msg === 'security event not written' && l.type === '2fa.enabled')).toBe(true);
    } finally {
      await broken.close();
    }
  });
});

describe('POST /auth/login with two-factor on', () => {
  it('answers 401 totp_required after the right password without a code', async () => {
    await enabled();
    const res = await login();
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('totp_required');
  });

  it('answers a wrong password with 401 invalid_credentials, not revealing that two-factor is on', async () => {
    await enabled();
    const res = await t.http.post('/auth/login').send({ username: 'alice', password: 'wrong password' });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('invalid_credentials');
  });

  it('answers a wrong password with 401 invalid_credentials even with the right code, and does not spend the code', async () => {
    const secret = await enabled();
    const code = codeNow(secret);
    const res = await t.http.post('/auth/login').send({ username: 'alice', password: 'wrong password', totp: code });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('invalid_credentials');
    expect((await login(code)).status).toBe(200);
  });

  it('signs in with the current code and reports twoFactor: true', async () => {
    const secret = await enabled();
    const res = await login(codeNow(secret));
    expect(res.status).toBe(200);
    expect(res.body.user.twoFactor).toBe(true);
  });

  it('answers a wrong code after the right password with 400 invalid_totp', async () => {
    const secret = await enabled();
    const wrong = String((Number(codeNow(secret)) + 1) % 1_000_000).padStart(6, '0');
    const res = await login(wrong);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: { code: 'invalid_totp', message: expect.any(String) } });
  });

  it('accepts each code once: a replay in the same window is 400 invalid_totp', async () => {
    const secret = await enabled();
    const code = codeNow(secret);
    expect((await login(code)).status).toBe(200);
    const replay = await login(code);
    expect(replay.status).toBe(400);
    expect(replay.body.error.code).toBe('invalid_totp');
  });

  it('accepts the previous step for a slow phone clock, but nothing older', async () => {
    const secret = await enabled();
    expect((await login(totpAt(secret, t.clock.now() - 30_000))).status).toBe(400); // that step enabled 2FA: spent
    t.clock.advance(30);
    expect((await login(totpAt(secret, t.clock.now() - 30_000))).status).toBe(200);
    t.clock.advance(30);
    expect((await login(totpAt(secret, t.clock.now() - 90_000))).status).toBe(400);
  });

  it('refuses a code older than one already used, even inside the window', async () => {
    const secret = await enabled();
    t.clock.advance(30);
    expect((await login(codeNow(secret))).status).toBe(200);
    expect((await login(totpAt(secret, t.clock.now() - 30_000))).status).toBe(400);
  });

  it('lets only one of two concurrent logins with the same code through', async () => {
    const secret = await enabled();
    const code = codeNow(secret);
    const results = await Promise.all([login(code), login(code), login(code)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 400, 400]);
  });

  it('counts wrong codes against the failed-login limit', async () => {
    const limited = makeTestApp({ env: { RATE_LOGIN_USERNAME: '2/900', TRUST_PROXY: 'true' } });
    try {
      const bob = await registerUser(limited, { username: 'bob_b', password: 'correct horse battery' });
      const { secret } = (await limited.http.post('/auth/2fa/setup').set(bearer(bob)).send({ password: 'correct horse battery' })).body;
      await limited.http
        .post('/auth/2fa/enable')
        .set(bearer(bob))
        .send({ password: 'correct horse battery', code: totpAt(secret, limited.clock.now()) });
      limited.clock.advance(30);
      // From a network other than the one bob registered from, where the ceiling applies.
      const attempt = (totp: string) =>
        limited.http.post('/auth/login').set('X-Forwarded-For', '198.51.100.9').send({ username: 'bob_b', password: 'correct horse battery', totp });
      const right = totpAt(secret, limited.clock.now());
      const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, '0');
      await attempt(wrong);
      await attempt(wrong);
      expect((await attempt(right)).status).toBe(429);
    } finally {
      await limited.close();
    }
  });
});

describe('POST /auth/2fa/disable', () => {
  it('turns two-factor off with the password and a current code', async () => {
    const secret = await enabled();
    expect((await disable('correct horse battery', codeNow(secret))).status).toBe(204);
    expect((await login()).status).toBe(200);
    expect((await t.http.get('/users/me').set(bearer(alice))).body.user.twoFactor).toBe(false);
  });

  it('refuses a wrong password with 403 invalid_password, keeps two-factor on and does not spend the code', async () => {
    const secret = await enabled();
    const code = codeNow(secret);
    const res = await disable('wrong password', code);
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('invalid_password');
    expect((await login()).body.error.code).toBe('totp_required');
    expect((await disable('correct horse battery', code)).status).toBe(204);
  });

  it('refuses a wrong code with 400 invalid_totp and keeps two-factor on', async () => {
    const secret = await enabled();
    const wrong = String((Number(codeNow(secret)) + 1) % 1_000_000).padStart(6, '0');
    const res = await disable('correct horse battery', wrong);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_totp');
    expect((await login()).body.error.code).toBe('totp_required');
  });

  it('refuses a code already used to sign in with 400 invalid_totp', async () => {
    const secret = await enabled();
    const code = codeNow(secret);
    await login(code);
    const res = await disable('correct horse battery', code);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_totp');
  });

  it('answers a wrong password with 403 invalid_password even when the code is wrong too', async () => {
    const secret = await enabled();
    const wrong = String((Number(codeNow(secret)) + 1) % 1_000_000).padStart(6, '0');
    const res = await disable('wrong password', wrong);
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('invalid_password');
  });

  it('answers 409 when two-factor is off', async () => {
    expect((await disable('correct horse battery', '123456')).status).toBe(409);
  });

  it.each([
    ['a 5-digit code', { password: 'correct horse battery', code: '12345' }],
    ['no password', { code: '123456' }],
    ['an operator object', { password: { $ne: '' }, code: '123456' }],
  ])('answers %s with 400 validation_failed', async (_label, body) => {
    await enabled();
    const res = await t.http.post('/auth/2fa/disable').set(bearer(alice)).send(body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
  });
});

describe('recovery codes', () => {
  /** Sets up and enables 2FA; answers its recovery codes. */
  async function recoveryCodes(): Promise<string[]> {
    const { secret } = (await setup()).body;
    const res = await enable(codeNow(secret));
    expect(res.status).toBe(200);
    t.clock.advance(30);
    return res.body.recoveryCodes;
  }
  const events = async () => (await t.http.get('/users/me/security-events').set(bearer(alice))).body.events as Array<{ type: string; deviceId: string | null }>;

  it('each signs in once in place of totp; a second use is 400 invalid_totp', async () => {
    const [code] = await recoveryCodes();
    const first = await login(code);
    expect(first.status).toBe(200);
    expect(first.body.user.twoFactor).toBe(true);
    const again = await login(code);
    expect(again.status).toBe(400);
    expect(again.body.error.code).toBe('invalid_totp');
  });

  it('are read without regard to case, spaces or the dash', async () => {
    const codes = await recoveryCodes();
    expect((await login(codes[0]!.toLowerCase())).status).toBe(200);
    expect((await login(codes[1]!.replace('-', ''))).status).toBe(200);
    expect((await login(codes[2]!.replace('-', ' '))).status).toBe(200);
  });

  it('lets only one of concurrent logins with the same code through', async () => {
    const [code] = await recoveryCodes();
    const results = await Promise.all([login(code), login(code), login(code), login(code)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 400, 400, 400]);
  });

  it('are refused when made up, with 400 invalid_totp', async () => {
    await recoveryCodes();
    const res = await login('AAAAA-AAAAA');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_totp');
  });

  it('write a 2fa.recovery-used entry naming the new device to the security log', async () => {
    const [code] = await recoveryCodes();
    const res = await login(code);
    const log = await events();
    expect(log.find((e) => e.type === '2fa.recovery-used')).toMatchObject({ deviceId: res.body.deviceId });
  });

  it('also turn two-factor off with the password, once', async () => {
    const [code, other] = await recoveryCodes();
    expect((await disable(PASSWORD, code!)).status).toBe(204);
    expect((await login()).status).toBe(200);
    // Turning it on again gives new codes; the old ones are gone with the old factor.
    await recoveryCodes();
    expect((await login(other)).status).toBe(400);
  });
});
