import { fingerprintOf, readPublicKey, type PublicKey } from './crypto.js';
import { SignalboxError } from './errors.js';
import type { KeyChange } from './events.js';
import type { Session } from './session.js';
import { JsonSlot, storageKeys, type KeyValueStorage } from './storage.js';
import type { Profile } from './types.js';
import { normaliseUsername } from './usernames.js';

/**
 * One peer's pin (docs/protocol.md "Pinning and consent"): the fingerprint this device trusts for
 * them, whether the user verified it, the key itself (so signals are verified against the trusted key
 * whatever the server serves now), and the different fingerprint the server served last (reported once).
 */
export interface Pin {
  fingerprint: string;
  verified: boolean;
  /** The pinned public key, armored; absent in pins written before it was kept. */
  key?: string;
  /** A fingerprint the server served that is not the pinned one: the change waiting for the app's consent. */
  changedTo?: string;
}

/** Pins as stored; a bare string is a fingerprint pinned by an SDK before v1.2 (unverified). */
type StoredPins = Record<string, Pin | string>;

/** What the server serves for a peer now, and this device's pin of them. */
export interface PeerStatus {
  username: string;
  served: { key: PublicKey; fingerprint: string; armored: string };
  pin: Pin;
}

/**
 * How long a fetched key is used without asking again. A change normally arrives sooner as a
 * `pgp.changed` event (which drops the cached key); this bounds how stale a key can be for a device
 * that is not polling.
 */
const KEY_CACHE_MS = 60_000;

/**
 * Peers' public keys, pinned on first use. A key whose fingerprint differs from the pin is never used
 * and never pinned by the SDK on its own: `send`, `call` and received signals signed by it fail with
 * `key_changed` until the app consents (`acceptChange`, or `verify` with the new key's safety number).
 * The change is reported once on 'event' (`pgp.changed`), which only informs.
 */
export class PeerKeys {
  private readonly cache = new Map<string, { key: PublicKey; fetchedAt: number }>();
  private readonly pinnedKeys = new Map<string, { fingerprint: string; key: PublicKey }>();
  private pins: { owner: string; value: StoredPins } | null = null;

  constructor(
    private readonly session: Session,
    private readonly storage: KeyValueStorage,
    private readonly report: (change: KeyChange) => void,
  ) {}

  /**
   * The key to encrypt to `username`: the pinned one, once the server's agrees with it (from memory, or
   * fetched; `fresh` fetches). First use pins what the server serves. `key_changed` when it differs.
   */
  async keyOf(username: string, options: { fresh?: boolean } = {}): Promise<PublicKey> {
    const name = normaliseUsername(username);
    const cached = options.fresh ? undefined : this.cache.get(name);
    if (cached && Date.now() - cached.fetchedAt < KEY_CACHE_MS) return cached.key;
    const status = await this.status(name);
    if (status.pin.fingerprint !== status.served.fingerprint) throw keyChanged(status);
    this.cache.set(name, { key: status.served.key, fetchedAt: Date.now() });
    return status.served.key;
  }

  /**
   * The key to verify `username`'s signals with: the pinned key itself when this device keeps it (no
   * request, and a key the server swapped changes nothing), else as keyOf.
   */
  async trustedKey(username: string): Promise<PublicKey> {
    const name = normaliseUsername(username);
    const pin = await this.pinOf(name);
    if (!pin?.key) return this.keyOf(name);
    const held = this.pinnedKeys.get(name);
    if (held?.fingerprint === pin.fingerprint) return held.key;
    const key = await readPublicKey(pin.key);
    this.pinnedKeys.set(name, { fingerprint: pin.fingerprint, key });
    return key;
  }

  /** The server's key for `username` now, checked against the pin (pinned on first use; a change recorded and reported once). */
  async status(username: string): Promise<PeerStatus> {
    const name = normaliseUsername(username);
    const profile = await this.session.request<Profile>('GET', `/users/${encodeURIComponent(name)}`);
    if (!profile.pgp) {
      this.cache.delete(name);
      throw new SignalboxError('no_peer_key', `${name} has no published OpenPGP key, so nothing can be encrypted to or verified from them.`, {
        details: { username: name },
      });
    }
    // Our own computation, not the server's `fingerprint` field: the pin is about the key we use.
    const key = await readPublicKey(profile.pgp.publicKey);
    const served = { key, fingerprint: fingerprintOf(key), armored: profile.pgp.publicKey };
    let pin = await this.pinOf(name);
    if (!pin) {
      pin = { fingerprint: served.fingerprint, verified: false, key: served.armored };
      await this.savePin(name, pin);
    } else if (pin.fingerprint === served.fingerprint) {
      if (!pin.key || pin.changedTo) await this.savePin(name, (pin = { fingerprint: pin.fingerprint, verified: pin.verified, key: pin.key ?? served.armored }));
    } else if (pin.changedTo !== served.fingerprint) {
      this.cache.delete(name);
      pin = { ...pin, changedTo: served.fingerprint };
      await this.savePin(name, pin);
      this.report({ username: name, fingerprint: served.fingerprint, previousFingerprint: pin.fingerprint });
    }
    return { username: name, served, pin };
  }

  /**
   * The server said `username`'s key changed (a `pgp.changed` event): the cached key is dropped and the
   * change described for the app's 'event' handlers. It only informs: nothing is pinned.
   */
  async serverReportedChange(username: string, fingerprint: string | null): Promise<KeyChange> {
    const name = normaliseUsername(username);
    this.cache.delete(name);
    const pinned = (await this.pinOf(name))?.fingerprint ?? null;
    return { username: name, fingerprint, previousFingerprint: pinned };
  }

  /** Pins what the server serves for `username` now (the app's consent to a change, or its verification). */
  async pinServed(status: PeerStatus, verified: boolean): Promise<Pin> {
    const pin: Pin = { fingerprint: status.served.fingerprint, verified, key: status.served.armored };
    this.cache.set(status.username, { key: status.served.key, fetchedAt: Date.now() });
    await this.savePin(status.username, pin);
    return pin;
  }

  /** Pins a key this device knows first-hand (its own, just published): verified. */
  async pin(username: string, fingerprint: string, armoredKey?: string): Promise<void> {
    const name = normaliseUsername(username);
    this.cache.delete(name);
    await this.savePin(name, { fingerprint, verified: true, ...(armoredKey ? { key: armoredKey } : {}) });
  }

  /** Drops what is held in memory (another account signed in on this instance); pins stay in storage. */
  reset(): void {
    this.cache.clear();
    this.pinnedKeys.clear();
    this.pins = null;
  }

  /** Forgets every pin of the signed-in account on this device. */
  async forgetAll(): Promise<void> {
    const owner = this.owner();
    this.reset();
    await new JsonSlot<StoredPins>(this.storage, storageKeys.pins(owner)).remove();
  }

  async pinOf(name: string): Promise<Pin | null> {
    const stored = (await this.loadPins())[name];
    if (stored === undefined) return null;
    return typeof stored === 'string' ? { fingerprint: stored, verified: false } : stored;
  }

  private owner(): string {
    const user = this.session.user;
    if (!user) throw new SignalboxError('signed_out', 'Not signed in.');
    return user.username;
  }

  private async loadPins(): Promise<StoredPins> {
    const owner = this.owner();
    if (this.pins?.owner !== owner) {
      // Another account signed in on this instance: its pins, and none of the other's cached keys.
      this.cache.clear();
      this.pinnedKeys.clear();
      this.pins = { owner, value: (await new JsonSlot<StoredPins>(this.storage, storageKeys.pins(owner)).get()) ?? {} };
    }
    return this.pins.value;
  }

  private async savePin(name: string, pin: Pin): Promise<void> {
    const pins = await this.loadPins();
    pins[name] = pin;
    await new JsonSlot<StoredPins>(this.storage, storageKeys.pins(this.owner())).set(pins);
  }
}

function keyChanged(status: PeerStatus): SignalboxError {
  return new SignalboxError(
    'key_changed',
    `${status.username}'s published key (${status.served.fingerprint}) is not the one this device trusts (${status.pin.fingerprint}). ` +
      'Nothing is sent to it or accepted from it until you compare safety numbers (peers.verify) or accept the change (peers.acceptChange).',
    { details: { username: status.username, fingerprint: status.served.fingerprint, pinnedFingerprint: status.pin.fingerprint } },
  );
}
