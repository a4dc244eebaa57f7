import { afterAll, beforeAll, beforeEach } from '@jest/globals';
import type { Pause } from '../../client/src/backoff.js';
import { MemoryStorage, Signalbox, type SignalboxOptions } from '../../client/src/index.js';
import type { TestApp, TestAppOptions } from '../helpers/app.js';
import { useListeningTestApp, type ListeningTestApp } from '../helpers/listening.js';

// SDK tests drive the real SDK (client/src) over real HTTP against the real app listening on
// 127.0.0.1. What they inject is only a fetch wrapper that records or fails requests (FetchProbe).

/** One request as the SDK's fetch saw it. */
export interface SeenRequest {
  method: string;
  /** The path and query, e.g. `/signaling/poll?wait=25`. */
  path: string;
  /** The answer's status, or 'network' when the probe failed it. */
  status: number | 'network';
  at: number;
}

/**
 * Wraps the global fetch: records every request, and fails those `failWhen` picks with the TypeError
 * a real fetch throws when the network is gone, without sending them.
 */
export class FetchProbe {
  readonly seen: SeenRequest[] = [];
  failWhen: ((method: string, path: string) => boolean) | null = null;

  readonly fetch = async (url: string, init?: { method?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal }) => {
    const { pathname, search } = new URL(url);
    const method = init?.method ?? 'GET';
    const path = pathname + search;
    if (this.failWhen?.(method, path)) {
      this.seen.push({ method, path, status: 'network', at: Date.now() });
      throw new TypeError('fetch failed');
    }
    const res = await fetch(url, init);
    this.seen.push({ method, path, status: res.status, at: Date.now() });
    return res;
  };

  /** The recorded requests to `path` (query ignored), optionally of one method. */
  to(path: string, method?: string): SeenRequest[] {
    return this.seen.filter((r) => r.path.split('?')[0] === path && (method === undefined || r.method === method));
  }
}

/**
 * Stands in for the SDK's waits between attempts (its internal `pause` option: poll backoff, Retry-After,
 * send retries): records each wait asked for, in ms, and holds it until `releaseAll()`, or ends it at
 * once when made with `{ immediate: true }`. A stopped client's wait ends with its abort signal, as a
 * real one does. So a test asserts the wait the SDK asked for without spending it.
 */
export class PauseProbe {
  readonly asked: number[] = [];
  private readonly held: Array<() => void> = [];

  constructor(private readonly options: { immediate?: boolean } = {}) {}

  readonly pause: Pause = (ms, signal) => {
    this.asked.push(ms);
    let wake = () => {};
    const done = new Promise<void>((resolve) => {
      wake = resolve;
      if (this.options.immediate || signal?.aborted) resolve();
      else signal?.addEventListener('abort', () => resolve(), { once: true });
    });
    this.held.push(wake);
    return { done, wake };
  };

  /** Ends every wait asked for so far. */
  releaseAll(): void {
    this.held.splice(0).forEach((wake) => wake());
  }
}

/** Resolves once `check` holds, looking every 5 ms. */
export async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
}

export interface SdkHarness {
  /** The app, listening on 127.0.0.1 (`t.baseUrl`). */
  t: ListeningTestApp;
  /** A new Signalbox against the server; stopped after the test. */
  client(options?: Omit<SignalboxOptions, 'baseUrl'>): Signalbox;
  /** A registered, signed-in client with a published key. */
  user(name: string, options?: Omit<SignalboxOptions, 'baseUrl'>): Promise<Signalbox>;
  /** Connects two signed-in clients through the API. */
  connect(a: Signalbox, b: Signalbox): Promise<void>;
  /** Alice and Bob, connected, each with her or his storage at hand (for raw HTTP in their names). */
  pair(): Promise<{ alice: Signalbox; bob: Signalbox; aliceStorage: MemoryStorage; bobStorage: MemoryStorage }>;
}

/** Retries of SDK loops in tests: quick, so backoff tests take milliseconds, with the same shape as the defaults. */
export const FAST_RETRY = { baseMs: 20, maxMs: 200 };

/**
 * The argon2 of key backups the harness's clients save (the internal `keyBackupArgon2` option): one
 * pass, one lane, 1 MiB, so a save or load takes milliseconds instead of the default's 64 MiB and 3
 * passes. Still argon2 S2K with AEAD; loading reads them from the backup. keyBackup.test.ts checks
 * that a client left at the default writes the production parameters, and protocolVectors.test.ts
 * opens the committed vector made with them.
 */
export const FAST_ARGON2 = { passes: 1, parallelism: 1, memoryExponent: 10 };

let counter = 0;

/**
 * The test app's clock starts on a fixed date; keys the SDK makes carry the real time, and the server
 * refuses a key whose self-signature lies in its future. So SDK tests move the app's clock to a minute
 * past real time: every key made during the test is then in the server's past.
 */
export const SERVER_CLOCK_LEAD_MS = 60_000;
export function clockAfterRealTime(t: TestApp): void {
  t.clock.advance((Date.now() + SERVER_CLOCK_LEAD_MS - t.clock.now()) / 1000);
}

/** A fresh app listening on loopback before each test (useListeningTestApp); every client stopped before it closes. */
/**
 * The SDK tests run as on Node 20 and React Native, with no Web Locks, unless a test installs its own lock
 * manager (tabs.test.ts): Node 24 has `navigator.locks`, with which SDK instances over one storage in this
 * one process coordinate like browser tabs (the leader polls, the others wait), so a test's "dead" instance
 * that never lets go would hold the device's poll lock for the restarted one. That coordination is what
 * tabs.test.ts and test/system/browserTabs.test.ts test, on purpose.
 */
function withoutNodeWebLocks(): void {
  let nodes: PropertyDescriptor | undefined;
  beforeAll(() => {
    nodes = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
    Object.defineProperty(globalThis, 'navigator', { value: undefined, configurable: true, writable: true });
  });
  afterAll(() => {
    if (nodes) Object.defineProperty(globalThis, 'navigator', nodes);
    else delete (globalThis as { navigator?: unknown }).navigator;
  });
}

export function useSdkHarness(options: TestAppOptions | (() => TestAppOptions) = {}): SdkHarness {
  withoutNodeWebLocks();
  const t = useListeningTestApp(options);
  const h = {} as SdkHarness;
  beforeEach(() => {
    clockAfterRealTime(t);
    const clients: Signalbox[] = [];
    t.beforeClose(() => Promise.all(clients.map((sb) => sb.stop())));
    const client = (opts: Omit<SignalboxOptions, 'baseUrl'> = {}) => {
      const sb = new Signalbox({ retry: FAST_RETRY, pollWaitSeconds: 5, keyBackupArgon2: FAST_ARGON2, ...opts, baseUrl: t.baseUrl });
      clients.push(sb);
      return sb;
    };
    Object.assign(h, {
      t,
      client,
      async user(name: string, opts: Omit<SignalboxOptions, 'baseUrl'> = {}) {
        const sb = client(opts);
        counter++;
        await sb.register({ username: `${name}_${counter}`, email: `${name}.${counter}@example.org`, password: 'correct horse battery' });
        await sb.keys.ensure();
        return sb;
      },
      async connect(a: Signalbox, b: Signalbox) {
        await a.connections.request(b.user!.username);
        await b.connections.respond(a.user!.username, 'accept');
      },
      async pair() {
        const aliceStorage = new MemoryStorage();
        const bobStorage = new MemoryStorage();
        const alice = await h.user('alice', { storage: aliceStorage });
        const bob = await h.user('bob', { storage: bobStorage });
        await h.connect(alice, bob);
        return { alice, bob, aliceStorage, bobStorage };
      },
    } satisfies SdkHarness);
  });
  return h;
}

/** The bearer header of the session an SDK client keeps in `storage`, for raw HTTP in its name. */
export function bearerOf(storage: MemoryStorage): { Authorization: string } {
  const stored = storage.getItem('signalbox.session');
  if (!stored) throw new Error('no session in this storage');
  return { Authorization: `Bearer ${(JSON.parse(stored) as { accessToken: string }).accessToken}` };
}

/** Resolves with the first `n` values `subscribe` hands its callback. */
export function collect<T>(n: number, subscribe: (push: (value: T) => void) => void): Promise<T[]> {
  return new Promise((resolve) => {
    const values: T[] = [];
    subscribe((value) => {
      values.push(value);
      if (values.length === n) resolve(values);
    });
  });
}
