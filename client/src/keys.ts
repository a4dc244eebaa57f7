import {
  type Argon2Params,
  decryptWithPassphrase,
  encryptWithPassphrase,
  fingerprintOf,
  generateDeviceKey,
  lockPrivateKey,
  readPrivate,
  unlockPrivateKey,
  type PrivateKey,
} from './crypto.js';
import { SignalboxError } from './errors.js';
import type { PeerKeys } from './peers.js';
import type { Session } from './session.js';
import { storageKeys, type KeyValueStorage } from './storage.js';
import type { PgpKeyInfo, User } from './types.js';

export interface EnsureOptions {
  /**
   * Publish this device's key even though the account already has another one. Every other device of
   * the account then holds a key nobody encrypts to any more (their `ensure()` says `key_mismatch`), and
   * every connection gets `pgp.changed`. Without it, `ensure()` never replaces a published key.
   */
  replace?: boolean;
}

export interface KeyInfo {
  fingerprint: string;
}

/** What a key backup holds, before it is encrypted (docs/protocol.md "Key backup"). */
export interface BackupContent {
  v: 1;
  kind: 'signalbox.key-backup';
  username: string;
  fingerprint: string;
  /** The armored private key, unlocked: the passphrase encryption around it is the lock. */
  privateKey: string;
}

const BACKUP_KIND = 'signalbox.key-backup';

/**
 * This device's OpenPGP key pair. The API holds one public key per account, and every device of the
 * account receives every signal, so all of them need the same private key: the first device makes it,
 * the others get it by `export()` on one and `import()` on the other (client/README.md "Several
 * devices"). The private key is only ever in the caller's storage.
 */
export class DeviceKeys {
  private loaded: { owner: string; key: PrivateKey } | null = null;

  constructor(
    private readonly session: Session,
    private readonly storage: KeyValueStorage,
    private readonly peers: PeerKeys,
    /** The argon2 of new backups; default openpgp's (SignalboxOptions' internal `keyBackupArgon2`). */
    private readonly backupArgon2?: Argon2Params,
  ) {}

  /**
   * Makes sure this device can send and receive: its private key matches the account's published key.
   * - no key here, none published: makes a key pair, keeps the private half here, publishes the public half;
   * - a key here, none published (or `replace`): publishes it;
   * - a key here that is the published one: nothing to do;
   * - no key here but one published: `key_elsewhere` (import it from the device that has it), unless `replace`;
   * - a key here that is not the published one: `key_mismatch`, unless `replace`.
   */
  async ensure(options: EnsureOptions = {}): Promise<KeyInfo> {
    const user = await this.currentUser();
    const published = user.pgp;
    const stored = await this.storage.getItem(storageKeys.privateKey(user.username));
    if (stored) {
      const key = await readPrivate(stored);
      const fingerprint = fingerprintOf(key);
      if (published?.fingerprint !== fingerprint) {
        if (published && !options.replace) throw mismatch(fingerprint, published);
        await this.publish(user, key.toPublic().armor(), fingerprint);
      }
      this.loaded = { owner: user.username, key };
      return { fingerprint };
    }
    if (published && !options.replace) {
      throw new SignalboxError(
        'key_elsewhere',
        `The account already has a published key (${published.fingerprint}) whose private half is not on this device. ` +
          'Export it on a device that has it (keys.export()) and import it here (keys.import()), or call ' +
          'keys.ensure({replace: true}) to make a new key, which leaves your other devices unable to decrypt.',
        { details: { publishedFingerprint: published.fingerprint } },
      );
    }
    const made = await generateDeviceKey(user.username);
    // Stored before publishing: a crash in between leaves a key that ensure() publishes next time,
    // never a published key whose private half is lost.
    await this.storage.setItem(storageKeys.privateKey(user.username), made.privateKey);
    await this.publish(user, made.publicKey, made.fingerprint);
    this.loaded = { owner: user.username, key: await readPrivate(made.privateKey) };
    return { fingerprint: made.fingerprint };
  }

  /** This device's private key, armored (locked with `passphrase` when given), to import on another device. */
  async export(options: { passphrase?: string } = {}): Promise<string> {
    const owner = this.owner();
    const stored = await this.storage.getItem(storageKeys.privateKey(owner));
    if (!stored) throw new SignalboxError('no_key', 'This device holds no private key.');
    return options.passphrase === undefined ? stored : lockPrivateKey(stored, options.passphrase);
  }

  /**
   * Takes a private key exported by another device of this account. It must be the account's published
   * key (or there must be none, or `replace`); it is kept in storage unlocked.
   */
  async import(armoredPrivateKey: string, options: EnsureOptions & { passphrase?: string } = {}): Promise<KeyInfo> {
    const user = await this.currentUser();
    const key = await unlockPrivateKey(armoredPrivateKey, options.passphrase);
    const fingerprint = fingerprintOf(key);
    const published = user.pgp;
    if (published && published.fingerprint !== fingerprint && !options.replace) throw mismatch(fingerprint, published);
    await this.storage.setItem(storageKeys.privateKey(user.username), key.armor());
    if (published?.fingerprint !== fingerprint) await this.publish(user, key.toPublic().armor(), fingerprint);
    this.loaded = { owner: user.username, key };
    return { fingerprint };
  }

  /**
   * Saves this device's private key on the server, encrypted here with `passphrase` (OpenPGP, argon2
   * S2K, AEAD: crypto.ts `encryptWithPassphrase`), replacing any earlier backup. The server stores an
   * opaque message; without the passphrase it cannot read the key. Only the account's published key is
   * backed up (`key_mismatch` otherwise). Every other device of the account gets `key-backup.changed`.
   */
  async saveBackup(passphrase: string): Promise<KeyInfo> {
    requirePassphrase(passphrase);
    const user = await this.currentUser();
    const key = await this.privateKey();
    const fingerprint = fingerprintOf(key);
    if (!user.pgp) throw new SignalboxError('no_key', 'The account has no published key yet: call keys.ensure() first.');
    if (user.pgp.fingerprint !== fingerprint) throw mismatch(fingerprint, user.pgp);
    const content: BackupContent = { v: 1, kind: BACKUP_KIND, username: user.username, fingerprint, privateKey: key.armor() };
    const backup = await encryptWithPassphrase(JSON.stringify(content), passphrase, this.backupArgon2);
    await this.session.request('PUT', '/users/me/key-backup', { body: { backup } });
    return { fingerprint };
  }

  /**
   * On a new device: fetches the account's key backup, decrypts it with `passphrase`, checks that the
   * key inside is the account's published key, and keeps it in storage. Rejects `no_backup` (none on the
   * server), `bad_passphrase` (wrong passphrase, or a tampered backup), `bad_backup` (not a key backup)
   * or `key_mismatch` (a backup of a key the account no longer publishes).
   */
  async loadBackup(passphrase: string): Promise<KeyInfo> {
    requirePassphrase(passphrase);
    let stored: { backup: string; updatedAt: string };
    try {
      stored = await this.session.request<{ backup: string; updatedAt: string }>('GET', '/users/me/key-backup');
    } catch (err) {
      if (err instanceof SignalboxError && err.status === 404) {
        throw new SignalboxError('no_backup', 'This account has no key backup: save one with keys.saveBackup() on a device that has the key.', {
          status: 404,
          cause: err,
        });
      }
      throw err;
    }
    const content = parseBackup(await decryptWithPassphrase(stored.backup, passphrase));
    const user = await this.currentUser();
    const key = await readPrivate(content.privateKey).catch((err: unknown) => {
      throw new SignalboxError('bad_backup', 'The key backup holds no readable private key.', { cause: err });
    });
    const fingerprint = fingerprintOf(key);
    // The account's published key is the reference: a backup of an older key would leave this device
    // unable to decrypt what others send now.
    if (user.pgp && user.pgp.fingerprint !== fingerprint) throw mismatch(fingerprint, user.pgp);
    return this.import(content.privateKey);
  }

  /** Removes this device's private key and pins (e.g. before handing the device on). */
  async forget(): Promise<void> {
    const owner = this.owner();
    this.loaded = null;
    await this.storage.removeItem(storageKeys.privateKey(owner));
    await this.peers.forgetAll();
  }

  /** The private key that signs what this device sends and decrypts what it receives; `no_key` without one. */
  async privateKey(): Promise<PrivateKey> {
    const owner = this.owner();
    if (this.loaded?.owner === owner) return this.loaded.key;
    const stored = await this.storage.getItem(storageKeys.privateKey(owner));
    if (!stored) throw new SignalboxError('no_key', 'This device holds no private key: call keys.ensure() first.');
    this.loaded = { owner, key: await readPrivate(stored) };
    return this.loaded.key;
  }

  /** This device's key's fingerprint (the account's own half of a safety number); `no_key` without one. */
  async fingerprint(): Promise<string> {
    return fingerprintOf(await this.privateKey());
  }

  private owner(): string {
    const user = this.session.user;
    if (!user) throw new SignalboxError('signed_out', 'Not signed in: call login() or register() first.');
    return user.username;
  }

  /** The account as the server has it now: another device may have published a key since sign-in. */
  private async currentUser(): Promise<User> {
    const { user } = await this.session.request<{ user: User }>('GET', '/users/me');
    await this.session.updateUser(user);
    return user;
  }

  private async publish(user: User, publicKey: string, fingerprint: string): Promise<void> {
    const { pgp } = await this.session.request<{ pgp: PgpKeyInfo }>('PUT', '/auth/pgp-key', { body: { publicKey } });
    await this.session.updateUser({ ...user, pgp });
    await this.peers.pin(user.username, fingerprint, publicKey);
  }
}

function requirePassphrase(passphrase: unknown): void {
  if (typeof passphrase !== 'string' || passphrase.length === 0) throw new SignalboxError('validation_failed', 'passphrase must be a non-empty string.');
}

export function parseBackup(text: string): BackupContent {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = null;
  }
  const c = value as Partial<BackupContent> | null;
  if (!c || c.v !== 1 || c.kind !== BACKUP_KIND || typeof c.privateKey !== 'string') {
    throw new SignalboxError('bad_backup', 'The key backup decrypted, but is not a Signalbox key backup (v1).');
  }
  return c as BackupContent;
}

function mismatch(fingerprint: string, published: PgpKeyInfo): SignalboxError {
  return new SignalboxError(
    'key_mismatch',
    `This device's key (${fingerprint}) is not the account's published key (${published.fingerprint}): another device ` +
      'published a key since. Import that key here (keys.import()), or call keys.ensure({replace: true}) to publish ' +
      "this device's key instead, which leaves your other devices unable to decrypt.",
    { details: { deviceFingerprint: fingerprint, publishedFingerprint: published.fingerprint } },
  );
}
