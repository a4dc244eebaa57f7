import { fingerprintOf, readPublicKey, type PublicKey } from './crypto.js';
import { SignalboxError } from './errors.js';
import type { KeyChange } from './events.js';
import type { Session } from './session.js';
import { JsonSlot, storageKeys, type KeyValueStorage } from './storage.js';
import type { Profile } from './types.js';
import { normaliseUsername } from './usernames.js';

type Pins = Record<string, string>;

/**
 * How long a fetched key is used without asking again. A change normally arrives sooner as a
 * `pgp.changed` event (which drops the cached key); this bounds how stale a key can be for a device
 * that is not polling.
 */
const KEY_CACHE_MS = 60_000;

/**
 * Peers' public keys, fetched from their profiles and pinned on first use (trust on first use, as
 * Signal's safety numbers): a key whose fingerprint differs from the pinned one is reported through
 * `report` (the 'event' handlers, as `pgp.changed`) and only pinned and used once that returned. A
 * handler that throws there refuses the new key for now: the send fails, or the signal comes again.
 */
export class PeerKeys {
  private readonly cache = new Map<string, { key: PublicKey; fetchedAt: number }>();
  private pins: { owner: string; value: Pins } | null = null;

  constructor(
    private readonly session: Session,
    private readonly storage: KeyValueStorage,
    private readonly report: (change: KeyChange) => Promise<void>,
  ) {}

  /** The peer's current published key: from memory, or fetched (`fresh`) and checked against the pin. */
  async keyOf(username: string, options: { fresh?: boolean } = {}): Promise<PublicKey> {
    const name = normaliseUsername(username);
    const cached = options.fresh ? undefined : this.cache.get(name);
    if (cached && Date.now() - cached.fetchedAt < KEY_CACHE_MS) return cached.key;
    const profile = await this.session.request<Profile>('GET', `/users/${encodeURIComponent(name)}`);
    if (!profile.pgp) {
      this.cache.delete(name);
      throw new SignalboxError('no_peer_key', `${name} has no published OpenPGP key, so nothing can be encrypted to or verified from them.`, {
        details: { username: name },
      });
    }
    // Our own computation, not the server's `fingerprint` field: the pin is about the key we use.
    const key = await readPublicKey(profile.pgp.publicKey);
    const fingerprint = fingerprintOf(key);
    const pins = await this.loadPins();
    const pinned = pins[name] ?? null;
    if (pinned !== null && pinned !== fingerprint) await this.report({ username: name, fingerprint, previousFingerprint: pinned });
    if (pinned !== fingerprint) await this.savePin(name, fingerprint);
    this.cache.set(name, { key, fetchedAt: Date.now() });
    return key;
  }

  /**
   * The server said `username`'s key changed (a `pgp.changed` event): the cached key is dropped and the
   * change returned for the app, or null when this device already pinned that fingerprint (it noticed
   * and reported the change itself first). Nothing is pinned yet: `accept` does that once the app's
   * handlers have seen the change.
   */
  async serverReportedChange(username: string, fingerprint: string | null): Promise<KeyChange | null> {
    const name = normaliseUsername(username);
    this.cache.delete(name);
    const pinned = (await this.loadPins())[name] ?? null;
    if (fingerprint !== null && pinned === fingerprint) return null;
    return { username: name, fingerprint, previousFingerprint: pinned };
  }

  /** Trusts a reported change. A removed key (null) keeps the old pin, so a key published later is compared with the one trusted before. */
  async accept(change: KeyChange): Promise<void> {
    if (change.fingerprint !== null) await this.savePin(change.username, change.fingerprint);
  }

  /** Pins a fingerprint this device knows first-hand (its own key, just published). */
  async pin(username: string, fingerprint: string): Promise<void> {
    const name = normaliseUsername(username);
    this.cache.delete(name);
    await this.savePin(name, fingerprint);
  }

  /** Drops what is held in memory (another account signed in on this instance); pins stay in storage. */
  reset(): void {
    this.cache.clear();
    this.pins = null;
  }

  /** Forgets every pin of the signed-in account on this device. */
  async forgetAll(): Promise<void> {
    this.cache.clear();
    const owner = this.owner();
    this.pins = null;
    await new JsonSlot<Pins>(this.storage, storageKeys.pins(owner)).remove();
  }

  private owner(): string {
    const user = this.session.user;
    if (!user) throw new SignalboxError('signed_out', 'Not signed in.');
    return user.username;
  }

  private async loadPins(): Promise<Pins> {
    const owner = this.owner();
    if (this.pins?.owner !== owner) {
      // Another account signed in on this instance: its pins, and none of the other's cached keys.
      this.cache.clear();
      this.pins = { owner, value: (await new JsonSlot<Pins>(this.storage, storageKeys.pins(owner)).get()) ?? {} };
    }
    return this.pins.value;
  }

  private async savePin(name: string, fingerprint: string): Promise<void> {
    const pins = await this.loadPins();
    pins[name] = fingerprint;
    await new JsonSlot<Pins>(this.storage, storageKeys.pins(this.owner())).set(pins);
  }
}
