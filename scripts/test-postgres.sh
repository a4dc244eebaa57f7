#!/usr/bin/env bash
# Starts a private, throwaway PostgreSQL cluster for the PostgreSQL store tests and prints its DATABASE_URL
# on stdout (everything else goes to stderr):
#   export DATABASE_URL=$(scripts/test-postgres.sh)     # start (or reuse) the cluster
#   scripts/test-postgres.sh stop                        # stop it and delete its files
# The cluster lives in ${TMPDIR:-/tmp}/signalbox-test-pg-$PORT and listens on 127.0.0.1 only, on port
# SIGNALBOX_TEST_PG_PORT (default 25432: below Linux's ephemeral range, 32768-60999, so no outgoing
# connection on the machine can be holding it when the cluster binds; 55432 once failed CI that way) and
# a socket in its own directory. It trusts local connections (it holds nothing but test data) and is
# never the system service. Run as root (CI), the server runs as the unprivileged `postgres` user that
# Debian's `postgresql` package creates; otherwise as you.
set -euo pipefail

PORT=${SIGNALBOX_TEST_PG_PORT:-25432}
BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
DIR=${TMPDIR:-/tmp}/signalbox-test-pg-$PORT
URL="postgres://postgres@127.0.0.1:$PORT/postgres"

[ -x "$BIN/pg_ctl" ] || { echo "no PostgreSQL binaries found (apt-get install postgresql, or set PG_BIN)" >&2; exit 1; }

as_owner() { # runs a PostgreSQL binary as the cluster's owner
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ "${1:-start}" = stop ]; then
  if [ -d "$DIR/data" ]; then as_owner "$BIN/pg_ctl" -D "$DIR/data" -m immediate stop >&2 || true; fi
  rm -rf "$DIR"
  exit 0
fi

if ! as_owner "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
  rm -rf "$DIR"
  mkdir -p "$DIR"
  if [ "$(id -u)" = 0 ]; then chown postgres "$DIR"; fi
  chmod 700 "$DIR"
  as_owner "$BIN/initdb" -D "$DIR/data" -U postgres --auth=trust --no-sync -E UTF8 >"$DIR/initdb.log" 2>&1 \
    || { cat "$DIR/initdb.log" >&2; exit 1; }
  # fsync off: a test cluster holds nothing worth a flush, and the machine's disk is shared.
  as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
    -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
    start >&2 || { cat "$DIR/server.log" >&2; exit 1; }
fi
echo "$URL"
