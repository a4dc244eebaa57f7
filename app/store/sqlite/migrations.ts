import type Database from 'better-sqlite3';

/**
 * Schema migrations, applied in order; PRAGMA user_version records how many have run.
 * Append only: never edit a migration that has shipped.
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE users (
     id            TEXT PRIMARY KEY,
     username      TEXT NOT NULL UNIQUE CHECK (username = lower(username)),
     email_index   TEXT NOT NULL UNIQUE,
     email_enc     TEXT NOT NULL,
     birthday_enc  TEXT,
     password_hash TEXT NOT NULL,
     created_at    INTEGER NOT NULL
   ) STRICT;
   CREATE TABLE sessions (
     id         TEXT PRIMARY KEY,
     user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   ) STRICT;
   CREATE INDEX sessions_by_user ON sessions(user_id);
   CREATE INDEX sessions_by_expiry ON sessions(expires_at);
   CREATE TABLE refresh_tokens (
     hash       TEXT PRIMARY KEY,
     session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
     used_at    INTEGER,
     expires_at INTEGER NOT NULL
   ) STRICT;
   CREATE INDEX refresh_tokens_by_session ON refresh_tokens(session_id);
   CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens(expires_at);`,
  // Keys are HMACs of the subject (IP, username, e-mail), never the subject itself.
  `CREATE TABLE rate_limits (
     key      TEXT PRIMARY KEY,
     count    INTEGER NOT NULL,
     reset_at INTEGER NOT NULL
   ) STRICT;
   CREATE INDEX rate_limits_by_reset ON rate_limits(reset_at);`,
  // One row per user: a new code replaces the old one, which is what makes only the newest valid.
  `CREATE TABLE reset_codes (
     user_id    TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
     code_hash  TEXT NOT NULL,
     tries      INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   ) STRICT;
   CREATE INDEX reset_codes_by_expiry ON reset_codes(expires_at);`,
  `CREATE TABLE two_factor (
     user_id    TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
     secret_enc TEXT NOT NULL,
     enabled    INTEGER NOT NULL DEFAULT 0 CHECK (enabled IN (0, 1)),
     last_step  INTEGER
   ) STRICT;`,
  // The connection graph: one row per unordered pair (low_id < high_id), so the two sides cannot
  // disagree; both ids cascade, so deleting an account removes its connections and requests both ways.
  // Presence: one row per user, written at most every PRESENCE_WRITE_INTERVAL per instance.
  `CREATE TABLE connections (
     id           TEXT PRIMARY KEY,
     low_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     high_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     state        TEXT NOT NULL CHECK (state IN ('pending', 'accepted')),
     requester_id TEXT NOT NULL,
     message      TEXT,
     created_at   INTEGER NOT NULL,
     expires_at   INTEGER,
     accepted_at  INTEGER,
     CHECK (low_id < high_id),
     CHECK (requester_id IN (low_id, high_id)),
     CHECK ((state = 'pending' AND expires_at IS NOT NULL AND accepted_at IS NULL)
         OR (state = 'accepted' AND expires_at IS NULL AND accepted_at IS NOT NULL))
   ) STRICT;
   CREATE UNIQUE INDEX connections_by_pair ON connections(low_id, high_id);
   CREATE INDEX connections_by_high ON connections(high_id);
   CREATE INDEX connections_pending_by_requester ON connections(requester_id, expires_at) WHERE state = 'pending';
   CREATE INDEX connections_pending_by_expiry ON connections(expires_at) WHERE state = 'pending';
   CREATE TABLE presence (
     user_id       TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
     last_seen     INTEGER NOT NULL,
     signed_out_at INTEGER
   ) STRICT;`,
  // The user's OpenPGP public key, validated before it is stored; all five are null when there is none.
  // Search needs no new index: the UNIQUE index on the lower-case username serves prefix ranges.
  `ALTER TABLE users ADD COLUMN pgp_fingerprint TEXT;
   ALTER TABLE users ADD COLUMN pgp_algorithm TEXT;
   ALTER TABLE users ADD COLUMN pgp_created_at INTEGER;
   ALTER TABLE users ADD COLUMN pgp_expires_at INTEGER;
   ALTER TABLE users ADD COLUMN pgp_public_key TEXT;`,
  // Mailboxes: last_seq survives acknowledgement, so sequence numbers (the cursor) never go back.
  // Signals cascade from both recipient and sender: a deleted account's mailbox and its unread
  // offers to others go with it.
  `CREATE TABLE mailboxes (
     user_id  TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
     last_seq INTEGER NOT NULL
   ) STRICT;
   CREATE TABLE signals (
     recipient_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     seq             INTEGER NOT NULL,
     id              TEXT NOT NULL,
     sender_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     sender_username TEXT NOT NULL,
     type            TEXT NOT NULL,
     payload         TEXT NOT NULL,
     session_id      TEXT,
     created_at      INTEGER NOT NULL,
     expires_at      INTEGER NOT NULL,
     PRIMARY KEY (recipient_id, seq)
   ) STRICT, WITHOUT ROWID;
   CREATE INDEX signals_by_sender ON signals(sender_id);
   -- Covers the MAILBOX_MAX count without reading payloads (49 -> 7 us at 300 pending, bench/README.md).
   CREATE INDEX signals_live ON signals(recipient_id, expires_at);
   CREATE INDEX signals_by_expiry ON signals(expires_at);`,
  // Accounts an operator disabled (admin CLI): null while the account may sign in.
  `ALTER TABLE users ADD COLUMN disabled_at INTEGER;`,
  // MAILBOX_PER_SENDER: one sender's unexpired signals in one mailbox, counted from the index alone.
  `CREATE INDEX signals_live_by_sender ON signals(recipient_id, sender_id, expires_at);`,
  // A session is a device: the name and platform given at sign-in (encrypted, personal data; null when
  // not given) and when it last made an authenticated request (null until it does). The list and the
  // DEVICES_MAX trim read one user's few rows through sessions_by_user.
  `ALTER TABLE sessions ADD COLUMN device_name_enc TEXT;
   ALTER TABLE sessions ADD COLUMN device_platform_enc TEXT;
   ALTER TABLE sessions ADD COLUMN last_seen INTEGER;`,
  // Every device has its own mailbox (API v1.1): device_mailboxes numbers it, device_signals holds one small
  // row per copy, and the payload is stored once per send in signal_bodies, so a send to ten devices writes
  // one payload, not ten. signal_bodies is a rowid table: a payload of a few KiB stays on its leaf page,
  // where a WITHOUT ROWID row over ~1 KiB spills to an overflow page of its own (bench/README.md, fan-out).
  // Copies and mailboxes end with their session; bodies go with their sender (and their copies with them),
  // with the last copy acknowledged or cleared, or at expiry. sender_device_id is null for server events and
  // for signals sent before devices existed. sent_signals remembers idempotency keys until the signal expires.
  // Existing mailboxes move to every session of their user with the same numbers, so nothing pending is
  // lost and each device's sequence goes on from where the user's was; a user with no session has no
  // device to deliver to, and their signals (which expire within SIGNAL_TTL) go.
  `CREATE TABLE device_mailboxes (
     device_id TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
     last_seq  INTEGER NOT NULL
   ) STRICT, WITHOUT ROWID;
   CREATE TABLE signal_bodies (
     id         TEXT PRIMARY KEY,
     sender_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     payload    TEXT NOT NULL,
     expires_at INTEGER NOT NULL
   ) STRICT;
   CREATE INDEX signal_bodies_by_sender ON signal_bodies(sender_id);
   CREATE INDEX signal_bodies_by_expiry ON signal_bodies(expires_at);
   CREATE TABLE device_signals (
     device_id        TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
     seq              INTEGER NOT NULL,
     id               TEXT NOT NULL REFERENCES signal_bodies(id) ON DELETE CASCADE,
     sender_id        TEXT NOT NULL,
     sender_username  TEXT NOT NULL,
     sender_device_id TEXT,
     type             TEXT NOT NULL,
     session_id       TEXT,
     created_at       INTEGER NOT NULL,
     expires_at       INTEGER NOT NULL,
     PRIMARY KEY (device_id, seq)
   ) STRICT, WITHOUT ROWID;
   CREATE INDEX device_signals_by_body ON device_signals(id);
   CREATE INDEX device_signals_live ON device_signals(device_id, expires_at);
   CREATE INDEX device_signals_live_by_sender ON device_signals(device_id, sender_id, expires_at);
   CREATE INDEX device_signals_by_expiry ON device_signals(expires_at);
   CREATE TABLE sent_signals (
     sender_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     idempotency_key TEXT NOT NULL,
     signal_id       TEXT NOT NULL,
     expires_at      INTEGER NOT NULL,
     devices         INTEGER NOT NULL,
     PRIMARY KEY (sender_id, idempotency_key)
   ) STRICT, WITHOUT ROWID;
   CREATE INDEX sent_signals_by_expiry ON sent_signals(expires_at);
   INSERT INTO device_mailboxes (device_id, last_seq)
     SELECT s.id, m.last_seq FROM mailboxes m JOIN sessions s ON s.user_id = m.user_id;
   INSERT INTO signal_bodies (id, sender_id, payload, expires_at)
     SELECT g.id, g.sender_id, g.payload, g.expires_at FROM signals g
     WHERE g.recipient_id IN (SELECT user_id FROM sessions);
   INSERT INTO device_signals (device_id, seq, id, sender_id, sender_username, sender_device_id, type, session_id, created_at, expires_at)
     SELECT s.id, g.seq, g.id, g.sender_id, g.sender_username, NULL, g.type, g.session_id, g.created_at, g.expires_at
     FROM signals g JOIN sessions s ON s.user_id = g.recipient_id;
   DROP TABLE signals;
   DROP TABLE mailboxes;`,
  // Push wake-ups (docs/push.md): at most one subscription per device, ending with its session. The target
  // (endpoint and keys, or gateway URL and pushkey) is encrypted by the service, bound to the device.
  `CREATE TABLE push_subscriptions (
     device_id  TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
     user_id    TEXT NOT NULL,
     kind       TEXT NOT NULL,
     target_enc TEXT NOT NULL,
     created_at INTEGER NOT NULL
   ) STRICT, WITHOUT ROWID;`,
  // GET /health's write probe (docs/architecture.md): one row, updated in a transaction of its own, so a full disk
  // or a read-only file shows as "degraded" before a client's send finds out.
  `CREATE TABLE health_probe (
     id        INTEGER PRIMARY KEY CHECK (id = 1),
     probed_at INTEGER NOT NULL
   ) STRICT;
   INSERT INTO health_probe (id, probed_at) VALUES (1, 0);`,
  // Mailbox bounds for strangers (docs/security.md): server events count apart from signals. `event` tells
  // them apart for the two signal caps (MAILBOX_MAX, MAILBOX_PER_SENDER, signals only) and for EVENTS_MAX;
  // `pair_key` marks a connection request's events, so a new request replaces a pending one of the pair
  // and a cancel removes a pending one. Both caps stay covered by an index, no payload read.
  `ALTER TABLE device_signals ADD COLUMN event INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE device_signals ADD COLUMN pair_key TEXT;
   UPDATE device_signals SET event = 1 WHERE instr(type, '.') > 0;
   DROP INDEX device_signals_live_by_sender;
   CREATE INDEX device_signals_live_by_kind ON device_signals(device_id, event, expires_at);
   CREATE INDEX device_signals_live_by_sender ON device_signals(device_id, sender_id, event, expires_at);
   CREATE INDEX device_signals_by_pair ON device_signals(device_id, pair_key, expires_at) WHERE pair_key IS NOT NULL;`,
  // 2FA recovery codes (keyed hashes), each spent by deleting its row; they go with the factor.
  // The per-account security log, ordered by time then rowid (insertion) and purged by expires_at.
  // The one key backup per account (an armored OpenPGP message the server never reads).
  `CREATE TABLE two_factor_recovery (
     user_id   TEXT NOT NULL REFERENCES two_factor(user_id) ON DELETE CASCADE,
     code_hash TEXT NOT NULL,
     PRIMARY KEY (user_id, code_hash)
   ) STRICT, WITHOUT ROWID;
   CREATE TABLE security_events (
     id           TEXT NOT NULL UNIQUE,
     user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     type         TEXT NOT NULL,
     at           INTEGER NOT NULL,
     device_id    TEXT,
     platform_enc TEXT,
     network_enc  TEXT,
     actor        TEXT NOT NULL CHECK (actor IN ('user', 'admin')),
     expires_at   INTEGER NOT NULL
   ) STRICT;
   CREATE INDEX security_events_by_user ON security_events(user_id, at);
   CREATE INDEX security_events_by_expiry ON security_events(expires_at);
   CREATE TABLE key_backups (
     user_id    TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
     backup     TEXT NOT NULL,
     updated_at INTEGER NOT NULL
   ) STRICT;`,
  // Fewer index pages per send (bench/README.md, "Third round"): since the signal caps count through
  // device_signals_live_by_kind, the (device_id, expires_at) index served only the poll's read, which the
  // primary key (device_id, seq) serves as well, already in seq order with no sort. Every send wrote an
  // entry to it on a page of the recipient's, one more page per send in each group commit.
  `DROP INDEX device_signals_live;`,
];

/** Brings the database up to the newest schema, each step in its own transaction. */
export function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`database schema version ${current} is newer than this Signalbox (${MIGRATIONS.length}); upgrade Signalbox`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
