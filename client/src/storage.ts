/**
 * Where the SDK keeps the session's tokens, this device's private key and the pinned fingerprints of
 * peers. `localStorage` fits as is; React Native's AsyncStorage (whose methods return promises) too.
 */
export interface KeyValueStorage {
  getItem(key: string): string | null | undefined | Promise<string | null | undefined>;
  setItem(key: string, value: string): void | Promise<void>;
  removeItem(key: string): void | Promise<void>;
}

/** The default: forgotten when the process or page ends (a new device every time). */
export class MemoryStorage implements KeyValueStorage {
  private readonly items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
}

const PREFIX = 'signalbox.';

/** The storage keys, in one place: the session is per storage, keys and pins per account. */
export const storageKeys = {
  session: `${PREFIX}session`,
  privateKey: (username: string) => `${PREFIX}privateKey.${username}`,
  pins: (username: string) => `${PREFIX}pins.${username}`,
  /** Envelope nonces this account accepted lately (envelope.ts NonceLog): replays stay refused across restarts. */
  nonces: (username: string) => `${PREFIX}nonces.${username}`,
};

/** One JSON value under one key of a KeyValueStorage. */
export class JsonSlot<T> {
  constructor(
    private readonly storage: KeyValueStorage,
    private readonly key: string,
  ) {}

  async get(): Promise<T | null> {
    const text = await this.storage.getItem(this.key);
    if (text === null || text === undefined) return null;
    try {
      return JSON.parse(text) as T;
    } catch {
      return null; // written by something else; treated as absent rather than failing every start
    }
  }

  async set(value: T): Promise<void> {
    await this.storage.setItem(this.key, JSON.stringify(value));
  }

  async remove(): Promise<void> {
    await this.storage.removeItem(this.key);
  }
}
