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
  /** The uploaded OpenPGP public key, already validated; null when none. */
  pgp: PgpKeyRecord | null;
  /** When an operator disabled the account (admin CLI); null while it may sign in. */
  disabledAt: Date | null;
}

/** A validated OpenPGP public key as stored: the re-armored key and what was read from it. */
export interface PgpKeyRecord {
  /** Upper-case hex: 40 characters (v4 keys) or 64 (v6). */
  fingerprint: string;
  /** A readable name such as `ed25519` or `rsa4096`. */
  algorithm: string;
  createdAt: Date;
  expiresAt: Date | null;
  /** ASCII-armored, re-armored from the parsed key (never the uploaded text as is). */
  publicKey: string;
}

/** One search hit: only what a stranger may see. */
export interface UserSearchHit {
  username: string;
  fingerprint: string | null;
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

/**
 * Why a store that answers cannot take a write, as GET /health reports it: the disk (or its quota) is
 * full, the database or its file system is read-only, the disk fails reads or writes, or (MongoDB) the
 * write was refused for another reason (no primary, write concern not met, timed out).
 */
export type WriteFailure = 'disk_full' | 'read_only' | 'io_error' | 'write_failed';

export interface UserStore {
  /** Inserts a user; throws DuplicateError when the username or e-mail index is taken. */
  create(user: UserRecord): Promise<void>;
  findById(id: string): Promise<UserRecord | null>;
  findByUsername(username: string): Promise<UserRecord | null>;
  findByEmailIndex(emailIndex: string): Promise<UserRecord | null>;
  /** Returns false when the user does not exist. */
  setPasswordHash(id: string, passwordHash: string): Promise<boolean>;
  /**
   * Stores (or with null, removes) the user's OpenPGP key, with the events it causes in the same
   * transaction; false (and no events) when the user does not exist.
   */
  setPgpKey(id: string, key: PgpKeyRecord | null, events?: EventsFor<void>): Promise<boolean>;
  /**
   * Users whose (lower-case) username starts with `prefix` (lower case, `[a-z0-9_]`, taken literally),
   * sorted by username, without `excludeId`, at most `limit`. Served by the username index.
   */
  search(prefix: string, excludeId: string, limit: number): Promise<UserSearchHit[]>;
  /**
   * Deletes the user and everything they own. Access ends with it: no session of the user outlives the call,
   * and a sign-in racing it cannot keep one (SQLite: one transaction; MongoDB: the user first, then the rest).
   */
  delete(id: string): Promise<boolean>;
  /**
   * Disables the account as of `disabledAt` and ends all its sessions in the same call, or with null
   * enables it again; false when the user does not exist. A disabled user cannot start a session.
   */
  setDisabled(id: string, disabledAt: Date | null): Promise<boolean>;
  /** Users sorted by username, starting after `afterUsername` (null: from the first), at most `limit`. */
  list(afterUsername: string | null, limit: number): Promise<UserRecord[]>;
  /** How many accounts exist (stats). */
  count(): Promise<number>;
}

/** A session is a device: one sign-in, its refresh tokens, and what the owner called it. */
export interface SessionRecord {
  id: string;
  userId: string;
  createdAt: Date;
  /** When the newest refresh token expires; the session is dead after it. */
  expiresAt: Date;
  /** AES-GCM ciphertext of the device name given at sign-in (personal data); null when none was given. */
  deviceNameEnc: string | null;
  /** AES-GCM ciphertext of the device platform given at sign-in; null when none was given. */
  devicePlatformEnc: string | null;
  /** When the device last made an authenticated request (written at most every 30 s); null until then. */
  lastSeen: Date | null;
}

export type RotateResult =
  | { outcome: 'rotated'; session: SessionRecord }
  /** The token had been rotated already: the whole session was ended (theft detection). */
  | { outcome: 'reused'; sessionId: string }
  /** Unknown or expired token, or its session is gone: nothing changed. */
  | { outcome: 'invalid' };

export interface SessionStore {
  /** Creates a session with its first refresh token; false (and nothing stored) when the user is gone or disabled. */
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
  /** The user's sessions not expired at `now` (their devices), oldest first (by `createdAt`, then id). */
  listByUser(userId: string, now: Date): Promise<SessionRecord[]>;
  /** Ends session `id` only when it belongs to `userId`; false (nothing changed) for any other id. */
  deleteOfUser(id: string, userId: string): Promise<boolean>;
  /** Records that the session was active at `at`; `lastSeen` never moves backwards. Unknown ids are ignored. */
  touch(id: string, at: Date): Promise<void>;
  /**
   * Keeps the user's `keep` most recently seen live sessions and ends the rest, `protectId` (the session
   * just created) counted as the most recent; sessions expired at `now` end too. Recency is `lastSeen`,
   * or `createdAt` for a session not seen since sign-in. Returns the ids of the sessions it ended.
   * Called after each `create`, so whatever the interleaving of concurrent sign-ins, the last trim runs
   * after every insert and the user is left with at most `keep` live sessions.
   */
  trimToMostRecent(userId: string, keep: number, protectId: string, now: Date): Promise<string[]>;
  /** Removes sessions and refresh tokens expired at `now`; returns how many sessions went. */
  purgeExpired(now: Date): Promise<number>;
  /** Sessions not expired at `now`, across all users (stats). */
  countActive(now: Date): Promise<number>;
  /**
   * Calls `listener` with the ids of sessions that ended (were deleted) through any instance or process
   * sharing this store, so polls held here for them end at once (PostgreSQL: LISTEN/NOTIFY; MongoDB: a
   * change stream of session deletions); `onFailure` when that stops working (the adapter keeps
   * reconnecting; the periodic session check covers the gap). Absent for SQLite (one instance, whose own
   * changes end its polls directly; the admin CLI's are found by the periodic session check). Returns a
   * function that stops watching.
   */
  watchEnded?(listener: (sessionIds: readonly string[]) => void, onFailure: (err: unknown) => void): () => Promise<void>;
}

export interface ResetCodeRecord {
  userId: string;
  /** Keyed hash of the 6-digit code. */
  codeHash: string;
  createdAt: Date;
  expiresAt: Date;
}

/** Password-reset codes: at most one per user (the newest), single use, burned after too many wrong tries. */
export interface ResetCodeStore {
  /** Stores the user's newest code, replacing any older one and its count of wrong tries. */
  put(code: ResetCodeRecord): Promise<void>;
  /**
   * Atomically redeems the user's code: true (and the code is gone) when `codeHash` matches an
   * unexpired code; otherwise counts a wrong try, deleting the code at `maxTries`, and returns false.
   */
  redeem(userId: string, codeHash: string, now: Date, maxTries: number): Promise<boolean>;
  /** Drops codes expired at `now`; returns how many. */
  purgeExpired(now: Date): Promise<number>;
}

export interface TwoFactorRecord {
  userId: string;
  /** AES-GCM ciphertext of the base32 TOTP secret. */
  secretEnc: string;
  /** False between setup and the first valid code. */
  enabled: boolean;
  /** The newest TOTP time step accepted, so no code is accepted twice. */
  lastStep: number | null;
}

/** TOTP second factors: at most one per user. */
export interface TwoFactorStore {
  get(userId: string): Promise<TwoFactorRecord | null>;
  /** Stores a new secret, not yet enabled, replacing a pending one; false (nothing changed) when one is enabled. */
  setPending(userId: string, secretEnc: string): Promise<boolean>;
  /**
   * Enables the pending secret, recording `step` as used, with its one-time recovery codes (their keyed
   * hashes; any earlier ones are replaced); false (nothing changed) when there is none pending.
   */
  enable(userId: string, step: number, recoveryHashes: readonly string[]): Promise<boolean>;
  /** Atomically records `step` as used when it is newer than the last one; false for a replay or no enabled factor. */
  useStep(userId: string, step: number): Promise<boolean>;
  /**
   * Atomically spends the recovery code with this hash: true once (the code is gone), false for an
   * unknown or already-spent code or when no factor is enabled. Two concurrent uses: one wins.
   */
  useRecoveryCode(userId: string, codeHash: string): Promise<boolean>;
  /** How many unspent recovery codes the user's enabled factor has (0 without one). */
  countRecoveryCodes(userId: string): Promise<number>;
  /** Removes the factor and its recovery codes; false when there was none. */
  delete(userId: string): Promise<boolean>;
}

/** What the per-account security log records (docs/security.md, "The security log"). */
export type SecurityEventType =
  | 'login'
  | 'login.new-network'
  | 'logout'
  | 'device.removed'
  | 'password.changed'
  | 'password.reset'
  | '2fa.enabled'
  | '2fa.disabled'
  | '2fa.recovery-used'
  | 'key.changed'
  | 'key-backup.changed'
  | 'account.disabled';

/** One entry of an account's security log, as stored. */
export interface SecurityEventRecord {
  id: string;
  userId: string;
  type: SecurityEventType;
  at: Date;
  /** The device (session) that acted; null when none did (a password reset, the operator). */
  deviceId: string | null;
  /** That device's platform as its session stored it (encrypted, bound to user and session); null when none. */
  platformEnc: string | null;
  /** AES-GCM ciphertext of the coarse network (IPv4 /24, IPv6 /48) the request came from; null when none. */
  networkEnc: string | null;
  /** Who acted: the account's own user (through the API) or the operator (admin CLI). */
  actor: 'user' | 'admin';
  /** When the entry is dropped (SECURITY_EVENTS_TTL after `at`). */
  expiresAt: Date;
}

/** Per-account security logs: append-only, newest first, kept until `expiresAt`, gone with the account. */
export interface SecurityEventStore {
  /** Appends an entry; does nothing (no error) when the user no longer exists. */
  add(event: SecurityEventRecord): Promise<void>;
  /** The user's entries not expired at `now`, newest first (by `at`, then insertion), at most `limit`. */
  list(userId: string, now: Date, limit: number): Promise<SecurityEventRecord[]>;
  /** Drops entries expired at `now`; returns how many. */
  purgeExpired(now: Date): Promise<number>;
}

/** An account's one key backup: an armored OpenPGP message the server never reads (docs/api.md). */
export interface KeyBackupRecord {
  userId: string;
  backup: string;
  updatedAt: Date;
}

/** Key backups: at most one per account, gone with it. */
export interface KeyBackupStore {
  /**
   * Stores or replaces the user's backup, with the events it causes in the same transaction; false
   * (nothing stored, no events) when the user does not exist.
   */
  put(record: KeyBackupRecord, events?: EventsFor<void>): Promise<boolean>;
  get(userId: string): Promise<KeyBackupRecord | null>;
  /** Removes the user's backup, with its events in the same transaction; false (no events) when there was none. */
  delete(userId: string, events?: EventsFor<void>): Promise<boolean>;
}

/** A counter in a fixed window that starts at its first hit. */
export interface RateCount {
  count: number;
  resetAt: Date;
}

/** Counters shared by every instance, so limits hold when several servers share one database. */
export interface RateLimitStore {
  /**
   * Atomically adds `cost` to `key`. A counter whose window ended at or before `now` starts again
   * at `cost` with a window ending `windowMs` after `now`. Returns the counter after the hit.
   */
  hit(key: string, now: Date, windowMs: number, cost?: number): Promise<RateCount>;
  /** The counter's current window, or null when it has none at `now`. */
  peek(key: string, now: Date): Promise<RateCount | null>;
  reset(key: string): Promise<void>;
  /** Drops counters whose window ended at or before `now`; returns how many. */
  purgeExpired(now: Date): Promise<number>;
}

export type ConnectionState = 'pending' | 'accepted';

/**
 * One record per unordered pair of users, so the two sides can never disagree: the pair is stored
 * ordered (`lowId` < `highId` by plain string comparison of the user ids) under a unique index.
 */
export interface ConnectionRecord {
  id: string;
  lowId: string;
  highId: string;
  state: ConnectionState;
  /** The user who asked; the other member of the pair is the recipient. */
  requesterId: string;
  message: string | null;
  createdAt: Date;
  /** When a pending request lapses; null once accepted. A pending record past it counts as absent. */
  expiresAt: Date | null;
  acceptedAt: Date | null;
}

/** A record as one member sees it, with the other member ("peer") named. */
export interface ConnectionView extends ConnectionRecord {
  peerId: string;
  peerUsername: string;
  /** The peer's OpenPGP key, so a client can encrypt to each connection without another request. */
  peerPgp: PgpKeyRecord | null;
}

export interface ConnectionRequestInput {
  /** The id the record gets when a new request is stored. */
  id: string;
  fromId: string;
  toId: string;
  message: string | null;
  now: Date;
  expiresAt: Date;
  /** The most live outgoing requests `fromId` may hold. */
  maxPending: number;
}

export type ConnectionRequestResult =
  /** A new pending request from `fromId` (an expired one between the pair was replaced). */
  | { outcome: 'requested'; record: ConnectionRecord }
  /** `toId` had already asked `fromId`: that request is now accepted (crossing requests). */
  | { outcome: 'accepted'; record: ConnectionRecord }
  | { outcome: 'already_connected'; record: ConnectionRecord }
  /** `fromId` already has a live request to `toId`. */
  | { outcome: 'pending'; record: ConnectionRecord }
  /** `fromId` holds `maxPending` live outgoing requests; `freesAt` is when the oldest of them lapses. */
  | { outcome: 'limit'; freesAt: Date }
  /** One of the two users does not exist (deleted meanwhile); nothing was stored. */
  | { outcome: 'gone' };

/** The outcomes of `request` that change the graph, and so may cause events. */
export type ConnectionRequestChange = Extract<ConnectionRequestResult, { outcome: 'requested' | 'accepted' }>;

/**
 * The connection graph. Every transition is one conditional statement or transaction, so
 * concurrent requests, accepts and removals from both sides cannot leave two records or half a state.
 * Pending records whose `expiresAt` is at or before `now` are treated as absent by every method.
 */
export interface ConnectionStore {
  /** Asks on behalf of `fromId`; see ConnectionRequestResult for every outcome. */
  request(input: ConnectionRequestInput, events?: EventsFor<ConnectionRequestChange>): Promise<ConnectionRequestResult>;
  /** Accepts the live request from `requesterId` to `recipientId`; null when there is none. */
  accept(requesterId: string, recipientId: string, now: Date, events?: EventsFor<ConnectionRecord>): Promise<ConnectionRecord | null>;
  /** Deletes the live request from `requesterId` to `recipientId` (a rejection); false when there is none. */
  reject(requesterId: string, recipientId: string, now: Date, events?: EventsFor<void>): Promise<boolean>;
  /**
   * Removes the accepted connection between the two, or `userId`'s own live outgoing request to
   * `otherId`; answers which one went, or null when neither existed. An incoming request is left alone.
   */
  remove(userId: string, otherId: string, now: Date, events?: EventsFor<'connection' | 'request'>): Promise<'connection' | 'request' | null>;
  /** The live record between the two users, or null. */
  find(a: string, b: string, now: Date): Promise<ConnectionRecord | null>;
  /** The accepted connections of `userId`, by peer username. */
  listConnections(userId: string): Promise<ConnectionView[]>;
  /** The live pending requests `userId` sent or received, newest first. */
  listPending(userId: string, now: Date): Promise<ConnectionView[]>;
  /** Drops pending requests expired at `now`; returns how many. Accepted connections never expire. */
  purgeExpired(now: Date): Promise<number>;
  /** Accepted connections and live pending requests at `now`, across all users (stats). */
  count(now: Date): Promise<{ accepted: number; pending: number }>;
}

/** When a user was last active, and when they last signed out. */
export interface PresenceRecord {
  userId: string;
  lastSeen: Date;
  /** A sign-out at or after `lastSeen` means offline regardless of the presence window. */
  signedOutAt: Date | null;
}

export interface PresenceStore {
  /** Records activity at `at`; `lastSeen` never moves backwards. Unknown users are ignored. */
  touch(userId: string, at: Date): Promise<void>;
  /** Marks the user signed out at `at` (offline at once); `lastSeen` is kept. */
  signOut(userId: string, at: Date): Promise<void>;
  /** The records of those users that have one, in no particular order. */
  find(userIds: readonly string[]): Promise<PresenceRecord[]>;
}

export type SignalType = 'offer' | 'answer' | 'ice' | 'bye' | 'custom';
/** Written by the server into the mailbox, never sent by a client: dotted, so no client type can look like one. */
export type EventType = 'connection.requested' | 'connection.accepted' | 'connection.removed' | 'pgp.changed' | 'key-backup.changed';
export type MailboxEntryType = SignalType | EventType;

/**
 * One signal or server event in a device's mailbox. The payload of a signal is the client's ciphertext:
 * never parsed. A session is a device, so a mailbox is keyed by its session id.
 */
export interface SignalRecord {
  id: string;
  /** Position in the device's mailbox: increases with each entry, never reused, never goes back. */
  seq: number;
  /** The user who sent the signal, or whose action caused the event. */
  senderId: string;
  /** Usernames never change, so the sender's is stored with the signal and needs no join. */
  senderUsername: string;
  /** The sending device (session); null for server events. */
  senderDeviceId: string | null;
  type: MailboxEntryType;
  payload: string;
  sessionId: string | null;
  createdAt: Date;
  expiresAt: Date;
}

/** A signal or event before each mailbox numbers it: one id for all its copies. */
export type MailboxEntry = Omit<SignalRecord, 'seq'>;

/** What bounds a send, per recipient device: its whole mailbox, and one sender's share of it. */
export interface MailboxLimits {
  /** Unexpired signals a device may hold in all (MAILBOX_MAX); server events count apart (ServerEvent.eventsMax). */
  max: number;
  /** Of those, from any one sender (MAILBOX_PER_SENDER), so no single peer can fill a mailbox. */
  perSender: number;
}

/** Why a device's mailbox took nothing: it is full, or this sender already holds its share of it. */
export type AppendRefusal = 'mailbox_full' | 'sender_share';

export interface SendInput {
  /** The signal; `senderDeviceId` is the sending session, which never receives it. */
  signal: MailboxEntry;
  /** The recipient user; may be the sender (then only their other devices receive it). */
  toUserId: string;
  /** Only this device of `toUserId`; absent: every live device of `toUserId` but the sender's. */
  toDevice?: string;
  /** Per sender user, remembered until `signal.expiresAt`: a repeat stores nothing and answers the first send. */
  idempotencyKey?: string;
  now: Date;
  limits: MailboxLimits;
}

export type SendResult =
  /** Stored in each of `devices` (possibly none: the user has no other live device), all in one write. */
  | { outcome: 'stored'; devices: string[] }
  /** The idempotency key was used by an earlier send: its answer, and nothing stored now. */
  | { outcome: 'repeat'; id: string; expiresAt: Date; devices: number }
  /** `toDevice` is not a live device of `toUserId`, or is the sending device itself. */
  | { outcome: 'no_device' }
  /** Every target device refused (the reason of the first); nothing stored. */
  | { outcome: 'refused'; reason: AppendRefusal };

/** Who receives a server event: every live device of a user but one, or of every accepted connection of a user. */
export type EventAudience = { userId: string; exceptDevice?: string | null } | { connectionsOf: string };

/**
 * A server event and where it goes; written by the store in the same transaction as its cause, under the
 * bounds for events (docs/security.md, "Mailbox bounds for strangers"), which never refuse one:
 * - each receiving device keeps at most `eventsMax` pending (unacknowledged, unexpired) events, counted
 *   apart from its signals: past that its oldest pending event is dropped;
 * - `requestPair` names the unordered pair of users a connection request concerns. A
 *   `connection.requested` with it replaces the device's pending `connection.requested` of that pair; a
 *   `connection.removed` with it (a request cancelled or rejected), on a device still holding that pair's
 *   `connection.requested` pending (the device never took it out), removes that one and is not written there.
 */
export interface ServerEvent {
  entry: MailboxEntry & { type: EventType };
  to: EventAudience;
  /** EVENTS_MAX: the most pending events each receiving device keeps. */
  eventsMax: number;
  /** The request's pair (`requestPairKey`), on `connection.requested` and on the `connection.removed` of a request. */
  requestPair?: string;
}

/**
 * Builds the events a change causes from what it did. Called inside the change's transaction, only
 * when something changed (and possibly more than once, when a transaction is retried): no I/O.
 */
export type EventsFor<R> = (outcome: R) => ServerEvent[];

/**
 * Per-device mailboxes of signals and server events, delivered at least once and removed by
 * acknowledgement. A device's mailbox ends with its session.
 */
export interface SignalStore {
  /**
   * Fans a signal out to the target devices in one atomic write: each device that has room numbers
   * it into its mailbox; a device holding `limits.max` unexpired entries (`mailbox_full`) or
   * `limits.perSender` from this sender (`sender_share`) is skipped. A crash leaves all or none.
   */
  send(input: SendInput): Promise<SendResult>;
  /** The device's unexpired entries, lowest sequence first, at most `limit`. */
  pending(deviceId: string, now: Date, limit: number): Promise<SignalRecord[]>;
  /** Removes the device's entries with a sequence at or below `upTo`; returns how many. */
  ack(deviceId: string, upTo: number): Promise<number>;
  /** Removes every entry of the device; returns how many. */
  clear(deviceId: string): Promise<number>;
  /** Unexpired entries waiting in all mailboxes (stats, metrics). */
  countPending(now: Date): Promise<number>;
  /** Removes expired entries and idempotency keys; returns how many entries. */
  purgeExpired(now: Date): Promise<number>;
  /**
   * Calls `listener` with the devices that just received entries (signals or events) through this
   * store object, after the write committed: the in-process wake-up of held polls. Returns a
   * function that stops listening.
   */
  onArrival(listener: (deviceIds: readonly string[]) => void): () => void;
  /**
   * Calls `listener` with each device that received an entry through any instance sharing this store
   * (MongoDB change streams); `onFailure` when that stops working (e.g. no replica set, an outage),
   * after which waiters must re-check on an interval, and `onRecovered` when it works again (the
   * adapter keeps re-opening it). Absent for an engine only one instance uses (SQLite).
   * Returns a function that stops watching.
   */
  watchArrivals?(listener: (deviceId: string) => void, onFailure: (err: unknown) => void, onRecovered?: () => void): () => Promise<void>;
}

export type PushKind = 'webpush' | 'gateway';

/**
 * A device's one push subscription: where to send its content-free wake-ups. The target (a Web Push
 * endpoint and its keys, or a push gateway URL and pushkey) is stored encrypted, bound to the device
 * (`targetEnc`, FieldCipher): the store never reads it. It ends with the device's session.
 */
export interface PushSubscriptionRecord {
  /** The device (session) it wakes. */
  deviceId: string;
  userId: string;
  kind: PushKind;
  targetEnc: string;
  createdAt: Date;
}

/** Per-device push subscriptions: at most one per device, gone with the session. */
export interface PushSubscriptionStore {
  /** Stores or replaces the device's subscription; false (nothing stored) when the device is not a live session of `userId` at `now`. */
  put(record: PushSubscriptionRecord, now: Date): Promise<boolean>;
  find(deviceId: string): Promise<PushSubscriptionRecord | null>;
  /** The subscriptions of those devices that have one, in no particular order. */
  findMany(deviceIds: readonly string[]): Promise<PushSubscriptionRecord[]>;
  /** Removes the device's subscription, or with `targetEnc` only while it is still that one (a refusal of an old endpoint never removes a newer); false when nothing was removed. */
  delete(deviceId: string, targetEnc?: string): Promise<boolean>;
  /** Subscribed devices with unexpired mailbox entries at `now`, and how many each: the wake-ups owed after a restart. */
  owed(now: Date): Promise<Array<{ deviceId: string; count: number }>>;
}

export interface Store {
  readonly kind: 'sqlite' | 'mongodb' | 'postgres';
  readonly users: UserStore;
  readonly sessions: SessionStore;
  readonly rateLimits: RateLimitStore;
  readonly resetCodes: ResetCodeStore;
  readonly twoFactor: TwoFactorStore;
  readonly connections: ConnectionStore;
  readonly presence: PresenceStore;
  readonly signals: SignalStore;
  readonly pushSubscriptions: PushSubscriptionStore;
  readonly securityEvents: SecurityEventStore;
  readonly keyBackups: KeyBackupStore;
  /** Resolves when the store answers a trivial query; rejects otherwise. */
  ping(): Promise<void>;
  /**
   * One small real write (a one-row probe record), for GET /health: null when it committed, else why
   * not. Reading works on a full disk, so ping() alone cannot tell a store that can no longer store.
   */
  probeWrite(): Promise<WriteFailure | null>;
  close(): Promise<void>;
}
