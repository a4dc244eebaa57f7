import type Database from 'better-sqlite3';

/**
 * Schema migrations, applied in order; PRAGMA user_version records how many have run.
 * Append only: never edit a migration that has shipped.
 */
const MIGRATIONS: string[] = [
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
