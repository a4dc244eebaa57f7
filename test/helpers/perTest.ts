import { afterAll, afterEach, beforeAll, beforeEach } from '@jest/globals';
import { makeTestApp, type TestApp, type TestAppOptions } from './app.js';
import { connect } from './connections.js';
import { registerUser, type RegisterOverrides, type TestUser } from './factories.js';
import { startSmtpServer, type TestSmtpServer } from './smtp.js';

// Each helper here declares jest hooks where it is called (file level or inside a describe) and returns
// one object that the hooks refill in place: a file names its app and users once, as constants, and
// every test and hook that reads them sees the running test's fresh ones. Hooks run in the order they
// are declared, so a helper called after another builds on it (users after their app).

/**
 * How often a helper refills its object: before `each` test (the default), or once for `all` the tests of
 * the describe (or file) it is called in. `all` is for tests that each leave the app as they found it
 * (requests that are refused, reads): building an app and registering its users is most of such a test's time.
 */
export type Scope = 'each' | 'all';
const hooksOf = (scope: Scope) => (scope === 'each' ? ([beforeEach, afterEach] as const) : ([beforeAll, afterAll] as const));

/** A fresh test app (makeTestApp) before each test (or `scope`), closed after it; `options` may be a function read at that moment. */
export function useTestApp(options: TestAppOptions | (() => TestAppOptions) = {}, scope: Scope = 'each'): TestApp {
  const t = {} as TestApp;
  const [before, after] = hooksOf(scope);
  before(() => {
    Object.assign(t, makeTestApp(typeof options === 'function' ? options() : options));
  });
  after(() => t.close());
  return t;
}

/** Registers one user in `t` before each test (or `scope`): a made-up one unless `overrides` say otherwise. */
export function withUser(t: TestApp, overrides: RegisterOverrides = {}, scope: Scope = 'each'): TestUser {
  const user = {} as TestUser;
  hooksOf(scope)[0](async () => {
    Object.assign(user, await registerUser(t, overrides));
  });
  return user;
}

/** What withUsers does beyond registering the users. */
export interface WithUsersOptions {
  /** Connect every pair of them through the API, the one named first asking. */
  connected?: boolean;
  /** Before each test (the default) or once for all of the describe: as the app's scope. */
  scope?: Scope;
}

/** Registers users with these usernames in `t` before each test (or `scope`), in order, and with `connected: true` connects every pair. */
export function withUsers<const N extends string>(t: TestApp, ...names: N[]): Record<N, TestUser>;
export function withUsers<const N extends string>(t: TestApp, ...namesThenOptions: [...N[], WithUsersOptions]): Record<N, TestUser>;
export function withUsers(t: TestApp, ...args: Array<string | WithUsersOptions>): Record<string, TestUser> {
  const options = typeof args.at(-1) === 'object' ? (args.pop() as WithUsersOptions) : {};
  const names = args as string[];
  const users = Object.fromEntries(names.map((name) => [name, {} as TestUser]));
  hooksOf(options.scope ?? 'each')[0](async () => {
    for (const name of names) Object.assign(users[name]!, await registerUser(t, { username: name }));
    if (!options.connected) return;
    for (const [i, asker] of names.entries()) for (const other of names.slice(i + 1)) await connect(t, users[asker]!, users[other]!);
  });
  return users;
}

/**
 * A real SMTP server (startSmtpServer) for the whole file or describe, its `received` list emptied
 * before each test. Its `url` is known from beforeAll on: read it in a `useTestApp(() => ...)` option.
 */
export function useSmtpServer(options: { startTls?: boolean } = {}): TestSmtpServer {
  const smtp = {} as TestSmtpServer;
  beforeAll(async () => {
    Object.assign(smtp, await startSmtpServer(options));
  });
  afterAll(() => smtp.close());
  beforeEach(() => {
    smtp.received.length = 0;
  });
  return smtp;
}
