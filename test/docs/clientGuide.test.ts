import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { TestAppOptions } from '../helpers/app.js';
import { bearer, type TestUser } from '../helpers/factories.js';
import { useListeningTestApp, type ListeningTestApp } from '../helpers/listening.js';
import { withUsers } from '../helpers/perTest.js';
import { heldPolls } from '../signaling/helpers.js';

// docs/client-guide.md's device code, run as written: the fenced block after the `<!-- guide-loop`
// marker is written to a file, imported, and driven with the real `fetch` against a test app that
// listens on a loopback port. Each test removes a behaviour's excuse: it fails when the guide's code
// lacks that behaviour (a loop that retries a dead token forever times out instead of resolving).

const GUIDE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'client-guide.md');

/** The code block that follows the marker comment, or a clear failure when the guide lost it. */
function extractGuideLoop(markdown: string): string {
  const marker = markdown.indexOf('<!-- guide-loop');
  if (marker < 0) throw new Error('docs/client-guide.md has no <!-- guide-loop --> marker');
  const block = /```(?:js|javascript)\n([\s\S]*?)\n```/.exec(markdown.slice(marker));
  if (!block) throw new Error('no ```js code block after the <!-- guide-loop --> marker in docs/client-guide.md');
  return block[1]!;
}

// ---- the guide's surface, as the test uses it ----

interface Tokens {
  accessToken: string;
  refreshToken: string;
  deviceId: string;
}
interface Grant extends Tokens {
  user: { id: string; username: string };
}
interface Entry {
  id: string;
  from: string;
  fromDevice: string | null;
  type: string;
  payload: unknown;
  sessionId: string | null;
  createdAt: string;
}
type Api = (method: string, path: string, body?: unknown) => Promise<any>;
interface RunResult {
  reason: 'stopped' | 'signed_out';
  error?: Error;
}
interface RunOptions {
  onSignal: (s: Entry) => unknown;
  onEvent?: (e: Entry) => unknown;
  onResync?: (api: Api) => unknown;
  signal?: AbortSignal;
  waitSeconds?: number;
}
interface Device {
  readonly tokens: Tokens;
  api: Api;
  send(to: string, type: string, payload: string, options?: { toDevice?: string; sessionId?: string }): Promise<{ id: string; expiresAt: string; devices: number }>;
  run(options: RunOptions): Promise<RunResult>;
}
type FetchFn = (input: string | URL, init?: RequestInit) => Promise<Response>;
interface DeviceOptions {
  baseUrl: string;
  tokens: Tokens;
  saveTokens?: (tokens: Tokens) => unknown;
  signIn?: () => Promise<Grant | null>;
  fetch?: FetchFn;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}
interface GuideModule {
  createDevice(options: DeviceOptions): Device;
  login(baseUrl: string, credentials: { username: string; password: string; device?: { name?: string; platform?: string } }, fetchFn?: FetchFn): Promise<Grant>;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

let guide: GuideModule;
let moduleDir: string;
beforeAll(async () => {
  moduleDir = mkdtempSync(join(tmpdir(), 'signalbox-guide-'));
  const file = join(moduleDir, 'signalbox-device.mjs');
  writeFileSync(file, extractGuideLoop(readFileSync(GUIDE, 'utf8')));
  guide = (await import(pathToFileURL(file).href)) as GuideModule;
});
afterAll(() => rmSync(moduleDir, { recursive: true, force: true }));

// ---- driving it ----

/** One request the device made through its `fetch`, with the answer's status (or the error it threw). */
interface Call {
  method: string;
  /** Path and query as sent. */
  path: string;
  body: any;
  status?: number;
  threw?: string;
}

/**
 * What a test puts between the device and the server: `pass()` sends the request (optionally to
 * another URL) and answers the real response; a test may throw instead, or answer something else.
 */
type Via = (call: Call, url: URL, pass: (url?: URL) => Promise<Response>) => Promise<Response>;

interface Harness {
  device: Device;
  calls: Call[];
  signals: Entry[];
  events: Entry[];
  /** Each onResync: the connections the loop read through the api it was handed. */
  resyncs: string[][];
  saved: Tokens[];
  /** The ids each 200 poll answer held, in order (what the server delivered, before any dedupe). */
  delivered: string[][];
  sleeps: number[];
  /** Starts the loop (once). */
  run(options?: Partial<RunOptions>): Promise<RunResult>;
  result: Promise<RunResult> | undefined;
  stop(): Promise<void>;
}

/** A device of the guide for `tokens`, its requests recorded, stopped (if running) before the test's app closes. */
function harness(
  t: ListeningTestApp,
  tokens: Tokens,
  options: { via?: Via; sleep?: (ms: number, signal?: AbortSignal) => Promise<void>; signIn?: () => Promise<Grant | null> } = {},
): Harness {
  const calls: Call[] = [];
  const delivered: string[][] = [];
  const sleeps: number[] = [];
  const sleep = options.sleep ?? guide.sleep; // the guide's own, unless the test stands in
  const abort = new AbortController();
  const fetchFn: FetchFn = async (input, init = {}) => {
    const url = new URL(String(input));
    const call: Call = { method: init.method ?? 'GET', path: url.pathname + url.search, body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined };
    calls.push(call);
    const pass = async (to: URL = url) => {
      call.path = to.pathname + to.search;
      return fetch(to, init);
    };
    try {
      const res = await (options.via ? options.via(call, url, pass) : pass());
      call.status = res.status;
      if (call.path.startsWith('/signaling/poll') && res.status === 200) {
        delivered.push(((await res.clone().json()) as { signals: Entry[] }).signals.map((s) => s.id));
      }
      return res;
    } catch (err) {
      call.threw = (err as Error).name;
      throw err;
    }
  };
  const h: Harness = {
    calls,
    signals: [],
    events: [],
    resyncs: [],
    saved: [],
    delivered,
    sleeps,
    result: undefined,
    device: guide.createDevice({
      baseUrl: t.baseUrl,
      tokens,
      saveTokens: (saved) => h.saved.push(saved),
      ...(options.signIn ? { signIn: options.signIn } : {}),
      fetch: fetchFn,
      sleep: (ms, signal) => {
        sleeps.push(ms);
        return sleep(ms, signal);
      },
    }),
    run(runOptions = {}) {
      h.result = h.device.run({
        signal: abort.signal,
        onSignal: (s) => void h.signals.push(s),
        onEvent: (e) => void h.events.push(e),
        onResync: async (api) => {
          h.resyncs.push(((await api('GET', '/connections/')).connections as Array<{ username: string }>).map((c) => c.username));
        },
        ...runOptions,
      });
      return h.result;
    },
    async stop() {
      abort.abort();
      await h.result?.catch(() => {});
    },
  };
  t.beforeClose(() => h.stop());
  return h;
}

/** Resolves once `check` holds, polling every 5 ms; fails naming `what` after `ms`. */
async function until(what: string, check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** `promise`, or a failure naming `what` after `ms` (a loop that never stops never resolves). */
function within<T>(what: string, promise: Promise<T>, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Signs `user` in through the guide's `login` as a named device. */
const loginAs = (t: ListeningTestApp, user: TestUser, name: string) =>
  guide.login(t.baseUrl, { username: user.username, password: user.password, device: { name, platform: 'test' } });

/** POST /signaling/send as `from` (a signed-in device), answered as is. */
const send = (t: ListeningTestApp, from: { accessToken: string }, to: string, body: Record<string, unknown> = {}) =>
  t.http
    .post('/signaling/send')
    .set(bearer(from))
    .send({ to, type: 'offer', payload: 'ciphertext', ...body });

/** A short poll (no `after`, no wait) by `device`: what is pending in its mailbox, unacknowledged. */
async function pendingIds(t: ListeningTestApp, device: { accessToken: string }): Promise<string[]> {
  const res = await t.http.get('/signaling/poll').set(bearer(device));
  expect(res.status).toBe(200);
  return (res.body.signals as Entry[]).map((s) => s.id);
}

const polls = (h: Harness) => h.calls.filter((c) => c.path.startsWith('/signaling/poll'));
const refreshes = (h: Harness) => h.calls.filter((c) => c.path === '/auth/refresh');

/** A fresh listening app per test with `alice` and `bob` connected, plus `carol` (connected to no one). */
function setUp(options: TestAppOptions = {}) {
  const t = useListeningTestApp(options);
  const { alice, bob } = withUsers(t, 'alice', 'bob', { connected: true });
  const { carol } = withUsers(t, 'carol');
  return { t, alice, bob, carol };
}

describe('the guide has its device code', () => {
  it('in a ```js block after the <!-- guide-loop --> marker, exporting createDevice, login and sleep', () => {
    expect(typeof guide.createDevice).toBe('function');
    expect(typeof guide.login).toBe('function');
    expect(typeof guide.sleep).toBe('function');
  });
});

describe('the loop receives, acknowledges and dedupes', () => {
  const { t, alice, bob, carol } = setUp();
  let phone: Grant;
  let laptop: Grant;
  beforeEach(async () => {
    phone = await loginAs(t, bob, 'phone');
    laptop = await loginAs(t, alice, 'laptop');
  });

  it('hands a signal of a connected user to onSignal with from and fromDevice, reading the connections first', async () => {
    const h = harness(t, phone);
    void h.run();
    await heldPolls(t, 1);
    const sent = await send(t, laptop, 'bob', { payload: 'offer-1', sessionId: 'call-1' });
    expect(sent.status).toBe(202);
    await until('the signal', () => h.signals.length === 1);
    expect(h.signals[0]).toMatchObject({ id: sent.body.id, from: 'alice', fromDevice: laptop.deviceId, type: 'offer', payload: 'offer-1', sessionId: 'call-1' });
    expect(h.resyncs).toEqual([['alice']]);
    expect(polls(h)[0]!.path).toBe('/signaling/poll?wait=25');
  });

  it('acknowledges what it handled by passing the cursor back: the signal is no longer pending', async () => {
    const h = harness(t, phone);
    void h.run();
    await heldPolls(t, 1);
    const sent = await send(t, laptop, 'bob');
    await until('the signal', () => h.signals.length === 1);
    await heldPolls(t, 1); // the next poll is held: it carried the cursor
    expect(polls(h).at(-1)!.path).toMatch(/^\/signaling\/poll\?wait=25&after=[^&]+$/);
    expect(await pendingIds(t, phone)).not.toContain(sent.body.id);
    expect(await pendingIds(t, phone)).toEqual([]);
  });

  it('skips a redelivered signal, after polling once without a cursor the server refused (400 on after)', async () => {
    let refused = false;
    const h = harness(t, phone, {
      // The cursor that would acknowledge the first signal is replaced by one the server does not take
      // (as a cursor from before the v1.1 upgrade): 400, nothing acknowledged, so it is delivered again.
      via: (call, url, pass) => {
        if (!refused && url.searchParams.has('after') && h.signals.length === 1) {
          refused = true;
          url.searchParams.set('after', '1.AAAAAAAAAAAAAAAA');
        }
        return pass(url);
      },
    });
    void h.run();
    await heldPolls(t, 1);
    const first = (await send(t, laptop, 'bob', { payload: 'one' })).body.id as string;
    await until('the first signal', () => h.signals.length === 1);
    await until('the poll after the refused cursor', () => h.delivered.length >= 2);
    expect(polls(h).find((c) => c.status === 400)?.path).toMatch(/after=1\.A{16}/);
    expect(h.delivered[1]).toEqual([first]); // delivered again
    const second = (await send(t, laptop, 'bob', { payload: 'two' })).body.id as string;
    await until('the second signal', () => h.signals.length >= 2);
    await settle(50);
    expect(h.signals.map((s) => s.id)).toEqual([first, second]); // each once
    expect(h.resyncs).toHaveLength(2); // at the start, and after the refused cursor
  });

  it('hands server events to onEvent, payload parsed and fromDevice null, never to onSignal', async () => {
    const h = harness(t, phone);
    void h.run();
    await heldPolls(t, 1);
    expect((await t.http.post('/connections/request').set(bearer(carol)).send({ username: 'bob', message: 'hi' })).status).toBe(201);
    await until('connection.requested', () => h.events.length === 1);
    expect((await t.http.delete('/connections/bob').set(bearer(carol))).status).toBe(204);
    await until('connection.removed', () => h.events.length === 2);
    expect(h.events).toEqual([
      expect.objectContaining({
        type: 'connection.requested',
        from: 'carol',
        fromDevice: null,
        payload: expect.objectContaining({ from: 'carol', to: 'bob', message: 'hi' }),
      }),
      expect.objectContaining({ type: 'connection.removed', from: 'carol', fromDevice: null, payload: { username: 'carol' } }),
    ]);
    expect(h.signals).toEqual([]);
  });
});

describe('the loop and expired or dead tokens', () => {
  const { t, alice, bob } = setUp();
  let phone: Grant;
  beforeEach(async () => {
    phone = await loginAs(t, bob, 'phone');
  });

  it('refreshes once when the access token has expired, saves the new tokens and carries on', async () => {
    const h = harness(t, phone);
    void h.run();
    await heldPolls(t, 1);
    t.clock.advance(t.config.accessTokenTtl + 1);
    const laptop = await loginAs(t, alice, 'laptop'); // signed in after the jump: a valid token
    await send(t, laptop, 'bob', { payload: 'wakes the held poll' });
    await until('the first signal', () => h.signals.length === 1);
    await heldPolls(t, 1); // polled again: 401, refreshed, polled with the new token
    expect(refreshes(h)).toHaveLength(1);
    expect(h.saved).toEqual([{ accessToken: expect.any(String), refreshToken: expect.any(String), deviceId: phone.deviceId }]);
    expect(h.saved[0]!.refreshToken).not.toBe(phone.refreshToken);
    expect(h.device.tokens).toEqual(h.saved[0]);
    expect(polls(h).map((c) => c.status)).toEqual([200, 401, undefined]);
    await send(t, laptop, 'bob', { payload: 'after the refresh' });
    await until('the second signal', () => h.signals.length === 2);
    expect(h.signals.map((s) => s.payload)).toEqual(['wakes the held poll', 'after the refresh']);
    expect(refreshes(h)).toHaveLength(1);
  });

  it('shares one refresh among all the requests the expired token failed (single-flight)', async () => {
    const h = harness(t, phone);
    void h.run();
    await heldPolls(t, 1);
    t.clock.advance(t.config.accessTokenTtl + 1);
    // Two refreshes would present the same refresh token twice: the server takes that for theft and ends the session.
    const answers = await Promise.all([
      h.device.api('GET', '/connections/'),
      h.device.api('GET', '/connections/pending'),
      h.device.api('GET', '/users/me/devices'),
      h.device.send('alice', 'offer', 'sent with an expired token'),
    ]);
    expect(answers[0].connections.map((c: { username: string }) => c.username)).toEqual(['alice']);
    expect(refreshes(h)).toHaveLength(1);
    expect(h.saved).toHaveLength(1);
    const laptop = await loginAs(t, alice, 'laptop');
    await send(t, laptop, 'bob', { payload: 'still polling' });
    await until('the signal', () => h.signals.length === 1);
    expect(refreshes(h)).toHaveLength(1);
  });

  it('retries a request whose 401 arrives after the refresh finished with the new token, without refreshing again', async () => {
    let late = true;
    let saved = () => false;
    const h = harness(t, phone, {
      // The answer to this request is held back until the other request's refresh is done.
      via: async (call, _url, pass) => {
        const res = await pass();
        if (call.path === '/users/me/devices' && late) {
          late = false;
          await until('the refresh', () => saved());
        }
        return res;
      },
    });
    saved = () => h.saved.length === 1;
    t.clock.advance(t.config.accessTokenTtl + 1);
    const [connections, devices] = await Promise.all([h.device.api('GET', '/connections/'), h.device.api('GET', '/users/me/devices')]);
    expect(connections.connections).toHaveLength(1);
    expect(devices.devices.find((d: { current: boolean }) => d.current).id).toBe(phone.deviceId);
    expect(h.calls.filter((c) => c.path === '/users/me/devices').map((c) => c.status)).toEqual([401, 200]);
    expect(refreshes(h)).toHaveLength(1);
  });

  const endings: Array<[string, (phone: Grant, other: TestUser, h: Harness) => Promise<void>]> = [
    [
      'logout on the device',
      async (_phone, _other, h) => {
        await h.device.api('POST', '/auth/logout', {});
      },
    ],
    [
      'DELETE /users/me/devices/{id} from another device',
      async (device, other) => {
        expect((await t.http.delete(`/users/me/devices/${device.deviceId}`).set(bearer(other))).status).toBe(204);
      },
    ],
    [
      'a password change on another device',
      async (_phone, other) => {
        const res = await t.http.post('/auth/change-password').set(bearer(other)).send({ currentPassword: other.password, newPassword: 'a new horse battery' });
        expect(res.status).toBe(204);
      },
    ],
  ];

  it.each(endings)('stops, signed out, when the session ends (%s): its held poll gets 401, one refresh fails, no more requests', async (_name, end) => {
    const signIn = jest.fn(async () => null);
    const h = harness(t, phone, { signIn });
    const result = h.run();
    await heldPolls(t, 1);
    const before = h.calls.length;
    await end(phone, bob, h);
    const outcome = await within('the loop to stop', result);
    expect(outcome.reason).toBe('signed_out');
    expect(outcome.error?.name).toBe('SignedOut');
    expect(polls(h).at(-1)!.status).toBe(401); // the held poll, answered at once
    const after = h.calls.slice(before).filter((c) => c.path !== '/auth/logout');
    expect(after.map((c) => `${c.method} ${c.path} ${c.status}`)).toEqual(['POST /auth/refresh 401']);
    expect(signIn).toHaveBeenCalledTimes(1);
    // Every wait of the guide's code goes through its `sleep` (recorded in h.sleeps): a loop that kept a
    // retry going behind the answer would be waiting there, or would have sent its request by now.
    const [count, waits] = [h.calls.length, h.sleeps.length];
    await settle(50);
    expect(h.calls.length).toBe(count);
    expect(h.sleeps).toHaveLength(waits);
    expect(h.signals).toEqual([]);
  });

  it('carries on as a new device when signIn answers a new login: new deviceId, resync, the new mailbox', async () => {
    const h = harness(t, phone, { signIn: () => loginAs(t, bob, 'phone, signed in again') });
    void h.run();
    await heldPolls(t, 1);
    expect((await t.http.delete(`/users/me/devices/${phone.deviceId}`).set(bearer(bob))).status).toBe(204);
    await until('the new session saved', () => h.saved.length === 1);
    const again = h.saved[0]!;
    expect(again.deviceId).not.toBe(phone.deviceId);
    await until('the resync of the new device', () => h.resyncs.length === 2);
    await heldPolls(t, 1);
    const laptop = await loginAs(t, alice, 'laptop');
    const sent = await send(t, laptop, 'bob', { payload: 'to the new device' });
    expect(sent.status).toBe(202);
    await until('the signal', () => h.signals.length === 1);
    expect(h.signals[0]!.payload).toBe('to the new device');
    expect(refreshes(h)).toHaveLength(1);
  });
});

/** A poll held by `device` straight through fetch (not the guide), ended by `release()`. */
async function holdPollOf(t: ListeningTestApp, device: { accessToken: string }) {
  const abort = new AbortController();
  const answer = fetch(`${t.baseUrl}/signaling/poll?wait=30`, { headers: bearer(device), signal: abort.signal }).catch(() => null);
  t.beforeClose(() => abort.abort());
  return {
    release: async () => {
      abort.abort();
      await answer;
    },
  };
}

/** A sleep the test lets end: each call is recorded and waits until `releaseAll()`. */
function gatedSleep() {
  const waiting: Array<() => void> = [];
  return {
    sleep: (_ms: number, signal?: AbortSignal) =>
      new Promise<void>((resolve) => {
        waiting.push(resolve);
        signal?.addEventListener('abort', () => resolve(), { once: true });
      }),
    pending: () => waiting.length,
    releaseAll: () => waiting.splice(0).forEach((resolve) => resolve()),
  };
}

describe.each([
  ['429 rate_limited (POLLS_PER_USER)', { POLLS_PER_USER: '1' }, 429, 'bob'],
  ['503 unavailable (POLLS_MAX)', { POLLS_MAX: '1' }, 503, 'alice'],
] as const)('the loop and %s', (_name, env, status, holder) => {
  const { t, alice, bob } = setUp({ env });

  it('waits Retry-After seconds before polling again, then carries on', async () => {
    const phone = await loginAs(t, bob, 'phone');
    // A device signed in now: its mailbox is empty, so its poll is held (the first ones hold connection events).
    const other = await holdPollOf(t, await loginAs(t, holder === 'bob' ? bob : alice, 'holder'));
    await heldPolls(t, 1);
    const gate = gatedSleep();
    const h = harness(t, phone, { sleep: gate.sleep });
    void h.run();
    await until(`the ${status}`, () => gate.pending() === 1);
    expect(polls(h).map((c) => c.status)).toEqual([status]);
    expect(h.sleeps).toEqual([5000]); // Retry-After: 5
    await settle(50); // the sleep is held: a loop that did not wait for it would have polled again by now
    expect(polls(h)).toHaveLength(1); // nothing more while waiting
    await other.release();
    await heldPolls(t, 0);
    gate.releaseAll();
    await heldPolls(t, 1);
    const laptop = await loginAs(t, alice, 'laptop');
    await send(t, laptop, 'bob', { payload: 'after the wait' });
    await until('the signal', () => h.signals.length === 1);
    expect(h.sleeps).toEqual([5000]);
  });
});

describe('the loop and network errors or 5xx', () => {
  const { t, alice, bob } = setUp();

  /**
   * Runs a loop whose first three polls fail (network error, 500, network error), then receives a
   * signal, then fails once more (network error) and polls on; answers the waits it asked for.
   */
  async function failures(phone: Grant, laptop: Grant, random: number): Promise<number[]> {
    const spy = jest.spyOn(Math, 'random').mockReturnValue(random);
    try {
      let n = 0;
      const h = harness(t, phone, {
        sleep: async () => {},
        via: async (call, _url, pass) => {
          if (!call.path.startsWith('/signaling/poll')) return pass();
          n++;
          if (n === 2) return new Response(JSON.stringify({ error: { code: 'internal', message: 'boom' } }), { status: 500 });
          if (n <= 3 || n === 5) throw new TypeError('fetch failed');
          return pass();
        },
      });
      void h.run();
      await heldPolls(t, 1);
      await send(t, laptop, 'bob', { payload: `after failures (${random})` });
      await until('the signal', () => h.signals.length === 1);
      await until('the poll after the fourth failure', () => polls(h).length === 6);
      await heldPolls(t, 1); // polled again: the signal is acknowledged
      await h.stop();
      return h.sleeps;
    } finally {
      spy.mockRestore();
    }
  }

  it('backs off exponentially (1 s, 2 s, 4 s steps) with jitter, and starts again from 1 s after a success', async () => {
    const phone = await loginAs(t, bob, 'phone');
    const laptop = await loginAs(t, alice, 'laptop');
    const low = await failures(phone, laptop, 0.01);
    const high = await failures(phone, laptop, 0.99);
    for (const sleeps of [low, high]) {
      expect(sleeps).toHaveLength(4);
      [1000, 2000, 4000, 1000].forEach((step, i) => {
        expect(sleeps[i]).toBeGreaterThanOrEqual(step / 2);
        expect(sleeps[i]).toBeLessThanOrEqual(step);
      });
    }
    // Jitter: the waits follow the random draw, so devices that failed together do not retry together.
    low.forEach((ms, i) => expect(ms).toBeLessThan(high[i]!));
  });
});

describe('sending with the guide', () => {
  const { t, alice, bob, carol } = setUp();
  let phone: Grant;
  let laptop: Grant;
  beforeEach(async () => {
    phone = await loginAs(t, bob, 'phone');
    laptop = await loginAs(t, alice, 'laptop');
  });

  it('retries a send whose answer was lost with the same idempotencyKey: stored once, the first id answered', async () => {
    let firstId: string | undefined;
    const h = harness(t, laptop, {
      sleep: async () => {},
      via: async (call, _url, pass) => {
        const res = await pass();
        if (call.path === '/signaling/send' && firstId === undefined) {
          firstId = ((await res.json()) as { id: string }).id;
          throw new TypeError('fetch failed'); // stored, but the answer never arrives
        }
        return res;
      },
    });
    const sent = await h.device.send('bob', 'offer', 'once only', { sessionId: 'call-2' });
    const sends = h.calls.filter((c) => c.path === '/signaling/send');
    expect(sends).toHaveLength(2);
    expect(sends[0]!.body.idempotencyKey).toEqual(expect.any(String));
    expect(sends[1]!.body.idempotencyKey).toBe(sends[0]!.body.idempotencyKey);
    expect(sent.id).toBe(firstId);
    expect(await pendingIds(t, phone)).toEqual([firstId]);
  });

  it('answers exactly the calling device (toDevice = fromDevice) and tells its own other devices (to = itself)', async () => {
    const tablet = await loginAs(t, alice, 'tablet');
    const desk = await loginAs(t, bob, 'desk');
    const h = harness(t, phone);
    void h.run({
      onSignal: async (s) => {
        h.signals.push(s);
        await h.device.send(s.from, 'answer', 'answered', { toDevice: s.fromDevice!, sessionId: s.sessionId! });
        await h.device.send('bob', 'custom', 'stop ringing', { sessionId: s.sessionId! });
      },
    });
    await heldPolls(t, 1);
    await send(t, laptop, 'bob', { payload: 'ring', sessionId: 'call-3' });
    await until('the answer', () => h.calls.filter((c) => c.path === '/signaling/send' && c.status === 202).length === 2);
    const at = async (device: Grant) => (await t.http.get('/signaling/poll').set(bearer(device))).body.signals.map((s: Entry) => `${s.type}:${String(s.payload)}`);
    expect(await at(laptop)).toEqual(['answer:answered']);
    expect(await at(tablet)).toEqual([]);
    expect(await at(desk)).toEqual(['offer:ring', 'custom:stop ringing']);
    await heldPolls(t, 1); // it polled after its handler's sends: 'stop ringing', had it come, would have been handed over first
    expect(h.signals).toHaveLength(1); // not its own 'stop ringing'
  });

  it('does not retry what a retry cannot change: 403 not_connected, 404 for a device that is gone', async () => {
    const h = harness(t, laptop);
    await expect(h.device.send(carol.username, 'offer', 'x')).rejects.toMatchObject({ name: 'ApiError', status: 403, code: 'not_connected' });
    expect((await t.http.delete(`/users/me/devices/${phone.deviceId}`).set(bearer(bob))).status).toBe(204);
    await expect(h.device.send('bob', 'answer', 'x', { toDevice: phone.deviceId })).rejects.toMatchObject({ name: 'ApiError', status: 404, code: 'not_found' });
    expect(h.calls.filter((c) => c.path === '/signaling/send')).toHaveLength(2);
  });
});
