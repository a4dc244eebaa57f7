import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { KeyValueStorage, ReceivedSignal } from '../../client/src/index.js';
import { FetchProbe, collect, useSdkHarness } from './harness.js';

// The SDK on a platform like React Native or a headless Node device: storage whose every method
// answers with a promise (AsyncStorage's shape), no localStorage, no Web Locks (the harness hides
// Node's navigator), no window or document. Everything the SDK keeps goes through the injected storage.

const h = useSdkHarness();

/** AsyncStorage's shape: each method resolves on a later turn of the event loop, never synchronously. */
class PromiseOnlyStorage implements KeyValueStorage {
  private readonly items = new Map<string, string>();
  private readonly later = () => new Promise<void>((resolve) => setImmediate(resolve));
  async getItem(key: string): Promise<string | null> {
    await this.later();
    return this.items.get(key) ?? null;
  }
  async setItem(key: string, value: string): Promise<void> {
    await this.later();
    this.items.set(key, value);
  }
  async removeItem(key: string): Promise<void> {
    await this.later();
    this.items.delete(key);
  }
  keys(): string[] {
    return [...this.items.keys()];
  }
}

/** Browser globals a library might reach for: each read of one is recorded (and answers undefined). */
const BROWSER_GLOBALS = ['window', 'document', 'localStorage', 'sessionStorage', 'indexedDB'] as const;
const reads: string[] = [];
beforeEach(() => {
  reads.length = 0;
  for (const name of BROWSER_GLOBALS) {
    Object.defineProperty(globalThis, name, { configurable: true, get: () => void reads.push(name) });
  }
});
afterEach(() => {
  for (const name of BROWSER_GLOBALS) Reflect.deleteProperty(globalThis, name);
});

describe('the SDK over an async storage, without browser globals', () => {
  it('signs in, keeps the key, and a new instance over the same storage resumes the device and its key', async () => {
    const storage = new PromiseOnlyStorage();
    const first = await h.user('ana', { storage });
    const fingerprint = first.user!.pgp?.fingerprint;
    expect(storage.keys()).toEqual(expect.arrayContaining(['signalbox.session', `signalbox.privateKey.${first.user!.username}`]));

    const probe = new FetchProbe();
    const again = h.client({ storage, fetch: probe.fetch });
    expect(await again.restore()).toEqual(first.user);
    expect(again.deviceId).toBe(first.deviceId);
    expect(await again.keys.ensure()).toMatchObject({ fingerprint });
    expect(probe.to('/auth/login')).toEqual([]);
    expect(probe.to('/auth/pgp-key', 'PUT')).toEqual([]); // the stored key was found: nothing new published
  });

  it('exchanges signals, pinning the peer and logging nonces through the storage', async () => {
    const anaStorage = new PromiseOnlyStorage();
    const bobStorage = new PromiseOnlyStorage();
    const ana = await h.user('ana', { storage: anaStorage });
    const bob = await h.user('bob', { storage: bobStorage });
    await h.connect(ana, bob);
    const received = collect<ReceivedSignal>(1, (push) => bob.on('signal', push));
    bob.start();
    await ana.send(bob.user!.username, 'custom', 'hello over promises');
    expect((await received)[0]).toMatchObject({ from: ana.user!.username, payload: 'hello over promises' });
    expect(anaStorage.keys()).toContain(`signalbox.pins.${ana.user!.username}`);
    expect(bobStorage.keys()).toEqual(expect.arrayContaining([`signalbox.pins.${bob.user!.username}`, `signalbox.nonces.${bob.user!.username}`]));
  });

  it('reads none of window, document, localStorage, sessionStorage or indexedDB along the way', async () => {
    const ana = await h.user('ana', { storage: new PromiseOnlyStorage() });
    const bob = await h.user('bob', { storage: new PromiseOnlyStorage() });
    await h.connect(ana, bob);
    const received = collect<ReceivedSignal>(1, (push) => bob.on('signal', push));
    bob.start();
    await ana.send(bob.user!.username, 'custom', 'hi');
    await received;
    await bob.stop();
    expect(reads).toEqual([]);
  });
});
