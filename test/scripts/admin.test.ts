import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { bearer, registerUser, type TestUser, turnOnTwoFactor } from '../helpers/factories.js';
import { runScript, writeTestSecrets, type RunResult } from '../helpers/run.js';

// The compiled CLI (dist/scripts/admin.js, what `npm run admin` runs) against the test app's SQLite
// file, while the app keeps that database open: the same situation as an operator beside the server.

const EX_USAGE = 64;
const EX_NOUSER = 67;

/**
 * A test body run on a fresh installation of its own, closed when it ends. The tests are independent and
 * mostly wait for a spawned CLI, so they run side by side (it.concurrent), each with its own `t`.
 */
function onFreshInstallation(body: (t: TestApp) => Promise<void>): () => Promise<void> {
  return async () => {
    const t = makeTestApp();
    try {
      writeTestSecrets(t.dir);
      // The CLI works in real time; the app's clock is moved there so its sessions are live for the CLI too.
      t.clock.advance((Date.now() - t.clock.now()) / 1000);
      await body(t);
    } finally {
      await t.close();
    }
  };
}

const admin = (t: TestApp, ...args: string[]) => runScript('admin', args, { DATA_DIR: t.dir });
const login = (t: TestApp, u: TestUser) => t.http.post('/auth/login').send({ username: u.username, password: u.password });

describe('npm run admin -- users', () => {
  it.concurrent(
    'lists every account by username under a header',
    onFreshInstallation(async (t) => {
      await registerUser(t, { username: 'zed' });
      await registerUser(t, { username: 'amy' });
      const res = await admin(t, 'users', 'list');
      expect(res.code).toBe(0);
      const rows = res.stdout
        .trim()
        .split('\n')
        .map((line) => line.split('\t'));
      expect(rows[0]).toEqual(['USERNAME', 'ID', 'CREATED', 'STATUS']);
      expect(rows.slice(1).map((r) => [r[0], r[3]])).toEqual([
        ['amy', 'active'],
        ['zed', 'active'],
      ]);
    }),
  );

  it.concurrent(
    'shows one account with its e-mail decrypted',
    onFreshInstallation(async (t) => {
      const amy = await registerUser(t, { username: 'amy' });
      const res = await admin(t, 'users', 'show', '@Amy');
      expect(res.code).toBe(0);
      expect(res.stdout).toContain(`id:          ${amy.id}`);
      expect(res.stdout).toContain(`email:       ${amy.email}`);
      expect(res.stdout).toContain('status:      active');
    }),
  );

  it.concurrent(
    'never prints the password hash',
    onFreshInstallation(async (t) => {
      await registerUser(t, { username: 'amy' });
      const res = await admin(t, 'users', 'show', 'amy');
      expect(res.stdout).not.toContain('$argon2');
    }),
  );

  it.concurrent(
    'exits 67 naming the user when there is no such account',
    onFreshInstallation(async (t) => {
      const res = await admin(t, 'users', 'show', 'nobody');
      expect(res.code).toBe(EX_NOUSER);
      expect(res.stderr).toContain('no user named nobody');
    }),
  );

  it.concurrent(
    'disable: a disabled user gets 401 invalid_credentials on login, as for a wrong password',
    onFreshInstallation(async (t) => {
      const amy = await registerUser(t, { username: 'amy' });
      expect((await admin(t, 'users', 'disable', 'amy')).code).toBe(0);
      const res = await login(t, amy);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('invalid_credentials');
    }),
  );

  it.concurrent(
    'disable: the access token of a session that was open stops working at once',
    onFreshInstallation(async (t) => {
      const amy = await registerUser(t, { username: 'amy' });
      await admin(t, 'users', 'disable', 'amy');
      const res = await t.http.get('/users/me').set(bearer(amy));
      expect(res.status).toBe(401);
    }),
  );

  it.concurrent(
    'disable: the refresh token of a session that was open stops working',
    onFreshInstallation(async (t) => {
      const amy = await registerUser(t, { username: 'amy' });
      await admin(t, 'users', 'disable', 'amy');
      expect((await t.http.post('/auth/refresh').send({ refreshToken: amy.refreshToken })).status).toBe(401);
    }),
  );

  it.concurrent(
    'disable: show reports the account as disabled, with since when',
    onFreshInstallation(async (t) => {
      await registerUser(t, { username: 'amy' });
      await admin(t, 'users', 'disable', 'amy');
      expect((await admin(t, 'users', 'show', 'amy')).stdout).toMatch(/status: +disabled since \d{4}-/);
    }),
  );

  it.concurrent(
    'enable: the user can log in again',
    onFreshInstallation(async (t) => {
      const amy = await registerUser(t, { username: 'amy' });
      await admin(t, 'users', 'disable', 'amy');
      expect((await admin(t, 'users', 'enable', 'amy')).code).toBe(0);
      expect((await login(t, amy)).status).toBe(200);
    }),
  );

  it.concurrent(
    'delete: the account is gone for login and for the list',
    onFreshInstallation(async (t) => {
      const amy = await registerUser(t, { username: 'amy' });
      await registerUser(t, { username: 'bob' });
      expect((await admin(t, 'users', 'delete', 'amy')).code).toBe(0);
      expect((await login(t, amy)).status).toBe(401);
      expect((await admin(t, 'users', 'list')).stdout).not.toContain('amy');
    }),
  );
});

describe('npm run admin -- stats and purge', () => {
  it.concurrent(
    'stats counts users, connections, pending requests, pending signals and sessions',
    onFreshInstallation(async (t) => {
      const amy = await registerUser(t, { username: 'amy' });
      const bob = await registerUser(t, { username: 'bob' });
      await registerUser(t, { username: 'cat' });
      await t.http.post('/connections/request').set(bearer(amy)).send({ username: 'bob' });
      await t.http.post('/connections/respond').set(bearer(bob)).send({ username: 'amy', action: 'accept' });
      await t.http.post('/connections/request').set(bearer(amy)).send({ username: 'cat' });
      // Each device's mailbox holds its server events too: connection.requested to bob and to cat, and
      // connection.accepted to amy; no signal was sent.
      const res = await admin(t, 'stats');
      expect(res.code).toBe(0);
      expect(res.stdout.trim().split('\n')).toEqual(['users: 3', 'connections: 1', 'pending requests: 1', 'pending signals: 3', 'sessions: 3']);
    }),
  );

  it.concurrent(
    'purge removes sessions that expired and reports how many',
    onFreshInstallation(async (t) => {
      // Registered 31 days ago: its session (REFRESH_TOKEN_TTL 30 days) has run out in real time.
      t.clock.advance(-31 * 86400);
      await registerUser(t);
      const res = await admin(t, 'purge');
      expect(res.code).toBe(0);
      expect(res.stdout).toContain('sessions: 1 removed');
    }),
  );
});

describe('npm run admin -- 2fa-reset and security-events', () => {
  /** Amy turns 2FA on (with her password, as she must); answers her session. */
  async function amyWithTwoFactor(t: TestApp): Promise<TestUser> {
    const amy = await registerUser(t, { username: 'amy' });
    await turnOnTwoFactor(t, amy, amy.password);
    return amy;
  }

  it.concurrent(
    '2fa-reset turns two-factor off: the password alone signs in again',
    onFreshInstallation(async (t) => {
      const amy = await amyWithTwoFactor(t);
      expect((await login(t, amy)).body.error.code).toBe('totp_required');
      const res = await admin(t, '2fa-reset', '@Amy');
      expect(res.code).toBe(0);
      expect(res.stdout).toContain('two-factor authentication turned off for amy');
      const after = await login(t, amy);
      expect(after.status).toBe(200);
      expect(after.body.user.twoFactor).toBe(false);
    }),
  );

  it.concurrent(
    'users show tells whether 2FA is on and how many recovery codes are left',
    onFreshInstallation(async (t) => {
      const amy = await registerUser(t, { username: 'amy' });
      expect((await admin(t, 'users', 'show', 'amy')).stdout).toContain('two-factor:  off');
      const { recoveryCodes } = await turnOnTwoFactor(t, amy, amy.password);
      expect((await admin(t, 'users', 'show', 'amy')).stdout).toContain('two-factor:  on (10 unused recovery codes)');
      expect((await t.http.post('/auth/login').send({ username: 'amy', password: amy.password, totp: recoveryCodes[0] })).status).toBe(200);
      expect((await admin(t, 'users', 'show', 'amy')).stdout).toContain('two-factor:  on (9 unused recovery codes)');
    }),
  );

  it.concurrent(
    '2fa-reset ends every session at once',
    onFreshInstallation(async (t) => {
      const amy = await amyWithTwoFactor(t);
      expect((await admin(t, '2fa-reset', 'amy')).code).toBe(0);
      expect((await t.http.get('/users/me').set(bearer(amy))).status).toBe(401);
      expect((await t.http.post('/auth/refresh').send({ refreshToken: amy.refreshToken })).status).toBe(401);
    }),
  );

  it.concurrent(
    "2fa-reset writes 2fa.disabled to the account's security log, with no device and no network",
    onFreshInstallation(async (t) => {
      const amy = await amyWithTwoFactor(t);
      await admin(t, '2fa-reset', 'amy');
      t.clock.advance((Date.now() - t.clock.now()) / 1000 + 1); // the CLI wrote in real time; the app's clock catches up
      const me = (await login(t, amy)).body;
      const events = (await t.http.get('/users/me/security-events').set(bearer(me))).body.events;
      expect(events.map((e: { type: string }) => e.type)).toEqual(['login', '2fa.disabled', '2fa.enabled']);
      expect(events[1]).toMatchObject({ deviceId: null, platform: null, network: null });
    }),
  );

  it.concurrent(
    "security-events lists the log newest first, the operator's actions marked admin",
    onFreshInstallation(async (t) => {
      const amy = await registerUser(t, { username: 'amy' });
      expect((await login(t, amy)).status).toBe(200);
      await admin(t, 'users', 'disable', 'amy');
      const res = await admin(t, 'security-events', 'amy');
      expect(res.code).toBe(0);
      const rows = res.stdout
        .trim()
        .split('\n')
        .map((line) => line.split('\t'));
      expect(rows[0]).toEqual(['AT', 'TYPE', 'BY', 'DEVICE', 'PLATFORM', 'NETWORK']);
      expect(rows.slice(1).map((r) => [r[1], r[2], r[5]])).toEqual([
        ['account.disabled', 'admin', '-'],
        ['login', 'user', '127.0.0.0/24'],
      ]);
    }),
  );

  it.concurrent(
    '2fa-reset of an account without 2FA says so, ends its sessions and logs nothing',
    onFreshInstallation(async (t) => {
      const amy = await registerUser(t, { username: 'amy' });
      const res = await admin(t, '2fa-reset', 'amy');
      expect(res.code).toBe(0);
      expect(res.stdout).toContain('two-factor authentication was already off for amy');
      expect((await t.http.get('/users/me').set(bearer(amy))).status).toBe(401);
      expect((await admin(t, 'security-events', 'amy')).stdout.trim().split('\n')).toHaveLength(1); // the header only
    }),
  );

  it.concurrent(
    'exits 67 for an account that does not exist',
    onFreshInstallation(async (t) => {
      const [reset, events] = await Promise.all([admin(t, '2fa-reset', 'nobody'), admin(t, 'security-events', 'nobody')]);
      expect(reset.code).toBe(EX_NOUSER);
      expect(events.code).toBe(EX_NOUSER);
    }),
  );
});

describe('npm run admin -- usage', () => {
  const REFUSED: string[][] = [
    [],
    ['frobnicate'],
    ['users'],
    ['users', 'promote', 'amy'],
    ['users', 'disable'],
    ['stats', 'extra'],
    ['2fa-reset'],
    ['security-events'],
    ['2fa-reset', 'amy', 'extra'],
  ];
  // Against an installation of their own, all refused command lines run at once before the tests,
  // instead of one spawn after another.
  const results = new Map<string, RunResult>();
  let installation: TestApp;
  beforeAll(async () => {
    installation = makeTestApp();
    writeTestSecrets(installation.dir);
    await Promise.all(REFUSED.map(async (args) => results.set(JSON.stringify(args), await runScript('admin', args, { DATA_DIR: installation.dir }))));
  });
  afterAll(() => installation.close());

  it.each(REFUSED.map((args) => [args]))('refuses %j with usage on stderr and exit 64', (args) => {
    const res = results.get(JSON.stringify(args))!;
    expect(res.code).toBe(EX_USAGE);
    expect(res.stderr).toContain('usage: npm run admin -- [--env <file>] <command>');
    expect(res.stdout).toBe('');
  });
});

describe('npm run admin against a DATA_DIR with no database', () => {
  /** A test body given an empty scratch directory of its own, removed when it ends. */
  const inEmptyDirectory =
    (body: (parent: string) => Promise<void>): (() => Promise<void>) =>
    async () => {
      const parent = mkdtempSync(join(tmpdir(), 'signalbox-admin-'));
      try {
        await body(parent);
      } finally {
        rmSync(parent, { recursive: true, force: true });
      }
    };

  it.concurrent(
    'exits 66 naming DATA_DIR and creates no directory when DATA_DIR does not exist',
    inEmptyDirectory(async (parent) => {
      const wrong = join(parent, 'typo');
      const res = await runScript('admin', ['users', 'list'], { DATA_DIR: wrong });
      expect(res.code).toBe(66);
      expect(res.stderr).toContain(`DATA_DIR ${wrong} does not exist`);
      expect(res.stdout).toBe('');
      expect(existsSync(wrong)).toBe(false);
    }),
  );

  it.concurrent(
    'exits 66 and creates no database and no secrets in an existing empty directory',
    inEmptyDirectory(async (parent) => {
      const res = await runScript('admin', ['stats'], { DATA_DIR: parent });
      expect(res.code).toBe(66);
      expect(res.stderr).toContain('is DATA_DIR right?');
      expect(readdirSync(parent)).toEqual([]);
    }),
  );

  it.concurrent(
    'exits 78 instead of generating a data key when the database is there but its key is not',
    onFreshInstallation(async (t) => {
      rmSync(join(t.dir, 'data-key'));
      const res = await admin(t, 'users', 'list');
      expect(res.code).toBe(78);
      expect(res.stderr).toContain('DATA_KEY');
      expect(existsSync(join(t.dir, 'data-key'))).toBe(false);
    }),
  );
});

// `--env <file>`: the service's env file as install.sh writes it (values double-quoted, MAIL_FROM with
// `<` and spaces), read by the CLI itself instead of `sh -c 'set -a; . file'`.
describe('npm run admin -- --env <file>', () => {
  it.concurrent(
    'reads DATA_DIR from the env file, with nothing in the environment',
    onFreshInstallation(async (t) => {
      await registerUser(t, { username: 'amy' });
      const envFile = join(t.dir, 'signalbox.env');
      writeFileSync(envFile, `# the service's configuration\nDATA_DIR="${t.dir}"\nMAIL_FROM="Signalbox <no-reply@localhost>"\n`);
      const res = await runScript('admin', ['--env', envFile, 'users', 'list'], {});
      expect(res.stderr).toBe('');
      expect(res.code).toBe(0);
      expect(res.stdout).toContain('amy\t');
    }),
  );

  it.concurrent(
    'exits 66 naming the file when it cannot be read',
    onFreshInstallation(async (t) => {
      const res = await runScript('admin', ['--env', join(t.dir, 'missing.env'), 'stats'], { DATA_DIR: t.dir });
      expect(res.code).toBe(66);
      expect(res.stderr).toContain('cannot read env file');
    }),
  );

  it.concurrent(
    'exits 64 when --env has no file name',
    onFreshInstallation(async (t) => {
      const res = await runScript('admin', ['stats', '--env'], { DATA_DIR: t.dir });
      expect(res.code).toBe(EX_USAGE);
    }),
  );
});
