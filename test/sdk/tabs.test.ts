import { afterEach, describe, expect, it } from '@jest/globals';
import { MemoryStorage, type ReceivedSignal, type Signalbox } from '../../client/src/index.js';
import { FetchProbe, collect, useSdkHarness } from './harness.js';

// Several tabs over one storage (client/src/tabLocks.ts, client/src/tabLeader.ts). Without navigator.locks (Node 20 and 22, React
// Native; the harness hides Node 24's) everything runs per instance. A small in-process lock manager (the Web Locks semantics the SDK uses)
// stands in for a browser's to check the coordination itself; browserTabs.test.ts does it in Chromium.

const h = useSdkHarness();

const tabsOf = (sb: Signalbox) => sb.internals.tabs;

describe('without navigator.locks (Node, React Native)', () => {
  it('has no cross-tab coordination: start() runs this instance’s own poll loop at once', async () => {
    expect((globalThis as { navigator?: { locks?: unknown } }).navigator?.locks).toBeUndefined();
    const probe = new FetchProbe();
    const bob = await h.user('bob', { fetch: probe.fetch, pollWaitSeconds: 0 });
    expect(tabsOf(bob)).toBeNull();
    const online = collect(1, (push) => bob.on('state', (s) => s === 'online' && push(s)));
    bob.start();
    await online;
    expect(probe.to('/signaling/poll').length).toBeGreaterThanOrEqual(1);
  });

  it('an instance over the same storage takes the tokens another one rotated instead of presenting the spent refresh token', async () => {
    const storage = new MemoryStorage();
    const probe = new FetchProbe();
    const first = await h.user('ana', { storage, fetch: probe.fetch });
    const second = h.client({ storage, fetch: probe.fetch });
    await second.restore();
    h.t.clock.advance(h.t.config.accessTokenTtl + 1);
    await first.connections.list(); // refreshes: the refresh token `second` holds in memory is spent
    await second.connections.list(); // 401, then the rotated tokens from storage: no second refresh
    expect(probe.to('/auth/refresh')).toHaveLength(1);
    expect(await first.connections.list()).toEqual([]);
    expect(await second.connections.list()).toEqual([]);
  });
});

/** Exclusive locks by name, granted in request order; `ifAvailable` and `signal` as in the Web Locks API. */
class FakeLocks {
  private readonly queues = new Map<string, Array<() => void>>();
  private readonly heldNames = new Map<string, number>();

  async request<T>(name: string, options: { signal?: AbortSignal; ifAvailable?: boolean }, callback: (lock: unknown) => T | Promise<T>): Promise<T> {
    const queue = this.queues.get(name) ?? [];
    this.queues.set(name, queue);
    if (options.ifAvailable && (this.heldNames.get(name) ?? 0) > 0) return callback(null);
    if ((this.heldNames.get(name) ?? 0) > 0 || queue.length > 0) {
      await new Promise<void>((granted, refused) => {
        const entry = () => granted();
        queue.push(entry);
        options.signal?.addEventListener('abort', () => {
          const at = queue.indexOf(entry);
          if (at >= 0) queue.splice(at, 1);
          refused(new Error('AbortError'));
        });
      });
    }
    this.heldNames.set(name, 1);
    try {
      return await callback({ name });
    } finally {
      this.heldNames.set(name, 0);
      queue.shift()?.();
    }
  }

  async query() {
    return { held: [...this.heldNames].filter(([, n]) => n > 0).map(([name]) => ({ name })) };
  }
}

describe('with Web Locks and BroadcastChannel (two tabs of one browser, simulated in Node)', () => {
  const g = globalThis as { navigator?: unknown };
  afterEach(() => {
    delete g.navigator;
  });

  it('one instance polls, both get each signal once, and the other takes over when the first stops', async () => {
    g.navigator = { locks: new FakeLocks() };
    const storage = new MemoryStorage();
    const probes = [new FetchProbe(), new FetchProbe()];
    const alice = await h.user('alice');
    const tab1 = await h.user('bob', { storage, fetch: probes[0]!.fetch, pollWaitSeconds: 5 });
    await h.connect(alice, tab1);
    const tab2 = h.client({ storage, fetch: probes[1]!.fetch, pollWaitSeconds: 5 });
    await tab2.restore();
    const received = [collect<ReceivedSignal>(1, (push) => tab1.on('signal', push)), collect<ReceivedSignal>(1, (push) => tab2.on('signal', push))];
    const online = collect(1, (push) => tab1.on('state', (s) => s === 'online' && push(s)));
    tab1.start();
    await online;
    tab2.start();
    await new Promise((r) => setTimeout(r, 300));
    expect(tabsOf(tab1)!.isLeader).toBe(true);
    expect(tabsOf(tab2)!.isLeader).toBe(false);
    expect(probes.map((p) => p.to('/signaling/poll').length)).toEqual([1, 0]);

    await alice.send(tab1.user!.username, 'custom', 'to both');
    expect((await Promise.all(received)).map(([s]) => s!.payload)).toEqual(['to both', 'to both']);
    expect(probes[1]!.to('/signaling/poll')).toHaveLength(0);

    await tab1.stop(); // the leader steps down: the lock goes to the other one
    const next = collect<ReceivedSignal>(1, (push) => tab2.on('signal', push));
    await alice.send(tab1.user!.username, 'custom', 'to the second');
    expect((await next)[0]!.payload).toBe('to the second');
    expect(tabsOf(tab2)!.isLeader).toBe(true);
    expect(probes[1]!.to('/signaling/poll').length).toBeGreaterThan(0);
  });
});
