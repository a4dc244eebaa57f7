/**
 * The storage interfaces, one per aggregate. Every adapter (sqlite/, mongo/) implements all of
 * them with the same semantics, proven by the shared contract suite in test/store/.
 * Times are Date objects; usernames are stored lower case.
 */

export interface UserRecord {
  id: string;
  /** Lower case, unique. */
  username: string;
  /** Keyed HMAC of the normalised e-mail address: unique, and useless without DATA_KEY. */
  emailIndex: string;
  /** AES-GCM ciphertext of the e-mail address. */
  emailEnc: string;
  birthdayEnc: string | null;
  passwordHash: string;
  createdAt: Date;
}

/** A unique field (username or e-mail) is already taken. */
export class DuplicateError extends Error {
  constructor(readonly field: 'username' | 'email') {
    super(`duplicate ${field}`);
    this.name = 'DuplicateError';
  }
}

/** The store cannot be reached; answered 503 so clients retry instead of giving up. */
export class StoreUnavailableError extends Error {
  constructor(message = 'store unavailable', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

export interface UserStore {
  /** Inserts a user; throws DuplicateError when the username or e-mail index is taken. */
  create(user: UserRecord): Promise<void>;
  findById(id: string): Promise<UserRecord | null>;
  findByUsername(username: string): Promise<UserRecord | null>;
  findByEmailIndex(emailIndex: string): Promise<UserRecord | null>;
  /** Returns false when the user does not exist. */
  setPasswordHash(id: string, passwordHash: string): Promise<boolean>;
  /** Deletes the user and everything they own (sessions first, so access ends before the account). */
  delete(id: string): Promise<boolean>;
}

export interface SessionRecord {
  id: string;
  userId: string;
  createdAt: Date;
  /** When the newest refresh token expires; the session is dead after it. */
  expiresAt: Date;
}

export type RotateResult =
  | { outcome: 'rotated'; session: SessionRecord }
  /** The token had been rotated already: the whole session was ended (theft detection). */
  | { outcome: 'reused'; sessionId: string }
  /** Unknown or expired token, or its session is gone: nothing changed. */
  | { outcome: 'invalid' };

export interface SessionStore {
  /** Creates a session with its first refresh token; false (and nothing stored) when the user is gone. */
  create(session: SessionRecord, refreshHash: string): Promise<boolean>;
  findById(id: string): Promise<SessionRecord | null>;
  /**
   * Atomically marks `oldHash` used and stores `newHash` in its place, extending the session to
   * `expiresAt`. Presenting an already-used token ends the session.
   */
  rotateRefreshToken(oldHash: string, newHash: string, now: Date, expiresAt: Date): Promise<RotateResult>;
  delete(id: string): Promise<boolean>;
  /** Ends every session of the user, except `keepSessionId` when given; returns how many ended. */
  deleteByUser(userId: string, keepSessionId?: string): Promise<number>;
  /** Removes sessions and refresh tokens expired at `now`; returns how many sessions went. */
  purgeExpired(now: Date): Promise<number>;
}

export interface Store {
  readonly kind: 'sqlite' | 'mongodb';
  readonly users: UserStore;
  readonly sessions: SessionStore;
  /** Resolves when the store answers a trivial query; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
