import type pg from 'pg';
import { LockNamespace } from './db.js';

/**
 * Schema migrations, applied in order, each in its own transaction; schema_migrations records how many
 * have run. Append only: never edit a migration that has shipped.
 * Ids and usernames are COLLATE "C" (byte order, as SQLite and MongoDB compare them): the pair order
 * (low_id < high_id), the prefix search range and every sort by username or id agree with the other stores. Times are timestamptz (millisecond
 * values from JS Dates survive the round trip); every table is created in the connection's current
 * schema (search_path), so one database can hold several installations or test runs.
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE users (
     id              text COLLATE "C" PRIMARY KEY,
     username        text COLLATE "C" NOT NULL UNIQUE CHECK (username = lower(username)),
     email_index     text NOT NULL UNIQUE,
     email_enc       text NOT NULL,
     birthday_enc    text,
     password_hash   text NOT NULL,
     created_at      timestamptz NOT NULL,
     pgp_fingerprint text,
     pgp_algorithm   text,
     pgp_created_at  timestamptz,
     pgp_expires_at  timestamptz,
     pgp_public_key  text,
     disabled_at     timestamptz
   );
   CREATE TABLE sessions (
     id                  text COLLATE "C" PRIMARY KEY,
     user_id             text COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     created_at          timestamptz NOT NULL,
     expires_at          timestamptz NOT NULL,
     device_name_enc     text,
     device_platform_enc text,
     last_seen           timestamptz
   );
   CREATE INDEX sessions_by_user ON sessions (user_id, expires_at);
   CREATE INDEX sessions_by_expiry ON sessions (expires_at);
   CREATE TABLE refresh_tokens (
     hash       text PRIMARY KEY,
     session_id text NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
     used_at    timestamptz,
     expires_at timestamptz NOT NULL
   );
   CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);
   CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);
   -- Keys are HMACs of the subject (IP, username, e-mail), never the subject itself.
   CREATE TABLE rate_limits (
     key      text PRIMARY KEY,
     count    bigint NOT NULL,
     reset_at timestamptz NOT NULL
   );
   CREATE INDEX rate_limits_by_reset ON rate_limits (reset_at);
   -- One row per user: a new code replaces the old one, which is what makes only the newest valid.
   CREATE TABLE reset_codes (
     user_id    text PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
     code_hash  text NOT NULL,
     tries      integer NOT NULL DEFAULT 0,
     created_at timestamptz NOT NULL,
     expires_at timestamptz NOT NULL
   );
   CREATE INDEX reset_codes_by_expiry ON reset_codes (expires_at);
   CREATE TABLE two_factor (
     user_id    text PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
     secret_enc text NOT NULL,
     enabled    boolean NOT NULL DEFAULT false,
     last_step  bigint
   );
   CREATE TABLE two_factor_recovery (
     user_id   text NOT NULL REFERENCES two_factor(user_id) ON DELETE CASCADE,
     code_hash text NOT NULL,
     PRIMARY KEY (user_id, code_hash)
   );
   -- The connection graph: one row per unordered pair (low_id < high_id), so the two sides cannot disagree.
   CREATE TABLE connections (
     id           text PRIMARY KEY,
     low_id       text COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     high_id      text COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     state        text NOT NULL CHECK (state IN ('pending', 'accepted')),
     requester_id text NOT NULL,
     message      text,
     created_at   timestamptz NOT NULL,
     expires_at   timestamptz,
     accepted_at  timestamptz,
     CHECK (low_id < high_id),
     CHECK (requester_id IN (low_id, high_id)),
     CHECK ((state = 'pending' AND expires_at IS NOT NULL AND accepted_at IS NULL)
         OR (state = 'accepted' AND expires_at IS NULL AND accepted_at IS NOT NULL))
   );
   CREATE UNIQUE INDEX connections_by_pair ON connections (low_id, high_id);
   CREATE INDEX connections_by_high ON connections (high_id);
   CREATE INDEX connections_pending_by_requester ON connections (requester_id, expires_at) WHERE state = 'pending';
   CREATE INDEX connections_pending_by_expiry ON connections (expires_at) WHERE state = 'pending';
   CREATE TABLE presence (
     user_id       text PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
     last_seen     timestamptz NOT NULL,
     signed_out_at timestamptz
   );
   -- Per-device mailboxes: last_seq survives acknowledgement, so a device's cursor never goes back, and its
   -- row is what a write locks to number, count and bound that mailbox. The payload is stored once per
   -- send (signal_bodies) and each device holds a small copy row.
   CREATE TABLE device_mailboxes (
     device_id text PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
     last_seq  bigint NOT NULL
   );
   CREATE TABLE signal_bodies (
     id         text PRIMARY KEY,
     sender_id  text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     payload    text NOT NULL,
     expires_at timestamptz NOT NULL
   );
   CREATE INDEX signal_bodies_by_sender ON signal_bodies (sender_id);
   CREATE INDEX signal_bodies_by_expiry ON signal_bodies (expires_at);
   -- event tells server events (counted by EVENTS_MAX) from signals (MAILBOX_MAX, MAILBOX_PER_SENDER);
   -- pair_key marks a connection request's events. Every cap is counted from an index, no payload read.
   CREATE TABLE device_signals (
     device_id        text NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
     seq              bigint NOT NULL,
     id               text NOT NULL REFERENCES signal_bodies(id) ON DELETE CASCADE,
     sender_id        text NOT NULL,
     sender_username  text NOT NULL,
     sender_device_id text,
     type             text NOT NULL,
     session_id       text,
     created_at       timestamptz NOT NULL,
     expires_at       timestamptz NOT NULL,
     event            boolean NOT NULL,
     pair_key         text,
     PRIMARY KEY (device_id, seq)
   );
   CREATE INDEX device_signals_by_body ON device_signals (id);
   CREATE INDEX device_signals_live_by_kind ON device_signals (device_id, event, expires_at);
   CREATE INDEX device_signals_live_by_sender ON device_signals (device_id, sender_id, event, expires_at);
   CREATE INDEX device_signals_by_pair ON device_signals (device_id, pair_key, expires_at) WHERE pair_key IS NOT NULL;
   CREATE INDEX device_signals_by_expiry ON device_signals (expires_at);
   CREATE TABLE sent_signals (
     sender_id       text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     idempotency_key text NOT NULL,
     signal_id       text NOT NULL,
     expires_at      timestamptz NOT NULL,
     devices         integer NOT NULL,
     PRIMARY KEY (sender_id, idempotency_key)
   );
   CREATE INDEX sent_signals_by_expiry ON sent_signals (expires_at);
   CREATE TABLE push_subscriptions (
     device_id  text PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
     user_id    text NOT NULL,
     kind       text NOT NULL,
     target_enc text NOT NULL,
     created_at timestamptz NOT NULL
   );
   -- GET /health's write probe: one row, updated in a transaction of its own.
   CREATE TABLE health_probe (
     id        integer PRIMARY KEY CHECK (id = 1),
     probed_at timestamptz NOT NULL
   );
   INSERT INTO health_probe (id, probed_at) VALUES (1, now());
   -- The per-account security log, newest first by time then insertion (ord).
   CREATE TABLE security_events (
     ord          bigserial PRIMARY KEY,
     id           text NOT NULL UNIQUE,
     user_id      text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     type         text NOT NULL,
     at           timestamptz NOT NULL,
     device_id    text,
     platform_enc text,
     network_enc  text,
     actor        text NOT NULL CHECK (actor IN ('user', 'admin')),
     expires_at   timestamptz NOT NULL
   );
   CREATE INDEX security_events_by_user ON security_events (user_id, at);
   CREATE INDEX security_events_by_expiry ON security_events (expires_at);
   CREATE TABLE key_backups (
     user_id    text PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
     backup     text NOT NULL,
     updated_at timestamptz NOT NULL
   );`,
  // Every ended session (logout, device removal, password change, account deletion or disabling, a reused
  // refresh token, the DEVICES_MAX trim, expiry purge; through any instance or the admin CLI) is announced
  // at COMMIT on the schema's sessions channel, its ids in chunks: the instances holding polls of those
  // devices answer them 401 at once. One notification per 100 sessions per statement, not one per row.
  // The channel is named like the store names it (index.ts): a hash of the table's schema.
  `CREATE FUNCTION signalbox_sessions_ended() RETURNS trigger LANGUAGE plpgsql AS $$
   DECLARE
     chunk text;
     channel text := 'signalbox_sessions_' || left(encode(sha256(convert_to(TG_TABLE_SCHEMA, 'UTF8')), 'hex'), 16);
   BEGIN
     FOR chunk IN SELECT string_agg(id, ',') FROM (SELECT id, (row_number() OVER ()) / 100 AS part FROM gone) g GROUP BY part LOOP
       PERFORM pg_notify(channel, chunk);
     END LOOP;
     RETURN NULL;
   END $$;
   CREATE TRIGGER sessions_ended AFTER DELETE ON sessions REFERENCING OLD TABLE AS gone
     FOR EACH STATEMENT EXECUTE FUNCTION signalbox_sessions_ended();`,
];

/**
 * Brings the schema up to the newest version. Under a session-level advisory lock (keyed by the schema),
 * so instances starting at once on an empty database migrate it once: the first runs every step, the
 * others wait for the lock and then find nothing left to do.
 */
export async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  let ok = false;
  try {
    await client.query("SELECT pg_advisory_lock($1, hashtext('migrations:' || current_schema()))", [LockNamespace.Migrations]);
    try {
      // Created only when missing, so an up-to-date schema opens without a write (a read-only database
      // then opens, and its write probe reports read_only instead of the start failing on DDL).
      const { rows: found } = await client.query<{ table: string | null }>("SELECT to_regclass('schema_migrations')::text AS table");
      if (!found[0]?.table) {
        await client.query('CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
      }
      const { rows } = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
      const current = rows[0]?.v ?? 0;
      if (current > MIGRATIONS.length) {
        throw new Error(`database schema version ${current} is newer than this Signalbox (${MIGRATIONS.length}); upgrade Signalbox`);
      }
      for (let v = current; v < MIGRATIONS.length; v++) {
        await client.query('BEGIN');
        try {
          await client.query(MIGRATIONS[v]!);
          await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [v + 1]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {});
          throw err;
        }
      }
    } finally {
      await client.query("SELECT pg_advisory_unlock($1, hashtext('migrations:' || current_schema()))", [LockNamespace.Migrations]);
    }
    ok = true;
  } finally {
    client.release(!ok);
  }
}
