#!/usr/bin/env bash
# Installs Signalbox as a system service on Debian/Ubuntu: the `signalbox` system user, /opt/signalbox
# (the code, owned by root so the service cannot change it), /etc/signalbox/signalbox.env (from
# .env.example, only when missing, mode 0640 root:signalbox), the hardened unit, and a daemon-reload.
# Idempotent: run it again after an upgrade; it never overwrites your configuration.
#   sudo scripts/install.sh            do it
#   scripts/install.sh --dry-run       print what it would do and change nothing (no root needed)
#   scripts/install.sh --print-env     print the env file it would write (to stdout) and exit
# See docs/deploy.md for the whole path from a bare host to a running service behind nginx.
set -euo pipefail

DRY_RUN=0
case "${1:-}" in
  "") ;;
  --dry-run|-n) DRY_RUN=1 ;;
  --print-env) DRY_RUN=2 ;;
  -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: $0 [--dry-run | --print-env]" >&2; exit 64 ;;
esac

SRC="$(cd "$(dirname "$0")/.." && pwd)"
APP_DIR=/opt/signalbox
CONF_DIR=/etc/signalbox
ENV_FILE=$CONF_DIR/signalbox.env
UNIT_FILE=/etc/systemd/system/signalbox.service
SERVICE_USER=signalbox

# .env.example as the service's env file: DATA_DIR is the state directory (systemd lets EnvironmentFile
# override the unit's Environment=, so the example's relative ./data must not stay), and every non-empty
# value is double-quoted with \ " $ ` escaped. systemd's EnvironmentFile parser and sh's `.` then read the
# same value, e.g. MAIL_FROM="Signalbox <no-reply@localhost>", which unquoted is a redirection to sh.
render_env() {
  awk '
    /^[A-Za-z_][A-Za-z0-9_]*=/ {
      eq = index($0, "="); name = substr($0, 1, eq - 1); value = substr($0, eq + 1)
      if (name == "DATA_DIR") value = "/var/lib/signalbox"
      if (value == "") { print name "="; next }
      gsub(/[\\"$`]/, "\\\\&", value)
      print name "=\"" value "\""; next
    }
    { print }
  ' "$SRC/.env.example"
}
if [ "$DRY_RUN" = 2 ]; then render_env; exit 0; fi

# Every change goes through `act`, so --dry-run prints exactly the commands a real run would execute.
act() {
  if [ "$DRY_RUN" = 1 ]; then
    printf '[dry-run] %s\n' "$*"
  else
    printf '+ %s\n' "$*"
    "$@"
  fi
}
note() { printf '%s\n' "$*"; }

if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
  echo "install.sh: run as root (sudo), or with --dry-run to see what it would do" >&2
  exit 77
fi

# 1. The service user: a system account without a shell or a home of its own; its data is StateDirectory.
if getent passwd "$SERVICE_USER" >/dev/null; then
  note "user $SERVICE_USER exists"
else
  act useradd --system --user-group --no-create-home --home-dir /var/lib/signalbox --shell /usr/sbin/nologin "$SERVICE_USER"
fi

# 2. The code directory. Root-owned: the service reads it but can never rewrite its own code.
if [ -d "$APP_DIR" ]; then
  note "$APP_DIR exists"
else
  act install -d -m 0755 -o root -g root "$APP_DIR"
fi
if [ "$SRC" != "$APP_DIR" ]; then
  note "note: this checkout is $SRC; the unit runs $APP_DIR/dist/app/main.js (docs/deploy.md: clone into $APP_DIR)"
fi

# 3. The configuration: created once from .env.example; later runs leave the operator's file alone.
if [ -d "$CONF_DIR" ]; then
  note "$CONF_DIR exists"
else
  act install -d -m 0750 -o root -g "$SERVICE_USER" "$CONF_DIR"
fi
if [ -e "$ENV_FILE" ]; then
  note "$ENV_FILE exists; not touched"
else
  RENDERED_ENV="$(mktemp)"
  trap 'rm -f "$RENDERED_ENV"' EXIT
  render_env >"$RENDERED_ENV"
  act install -m 0640 -o root -g "$SERVICE_USER" "$RENDERED_ENV" "$ENV_FILE"
fi

# 4. The unit, replaced on every run so upgrades bring the current hardening.
if [ -e "$UNIT_FILE" ] && cmp -s "$SRC/systemd/signalbox.service" "$UNIT_FILE"; then
  note "$UNIT_FILE is current"
else
  act install -m 0644 -o root -g root "$SRC/systemd/signalbox.service" "$UNIT_FILE"
fi
if [ -d /run/systemd/system ]; then
  act systemctl daemon-reload
else
  note "systemd is not running here; skipping daemon-reload"
fi

cat <<NEXT

Next steps:
  1. Put the built code in $APP_DIR (as root):
       git clone <repository> $APP_DIR && cd $APP_DIR && npm ci && npm run build && npm prune --omit=dev
     Node.js 22 LTS (20.19 or newer) must be at /usr/bin/node: docs/deploy.md section 1.
  2. Edit $ENV_FILE: HOST=127.0.0.1, TRUST_PROXY=true behind nginx, SMTP_URL, STUN_URLS/TURN_URLS/TURN_SECRET.
  3. sudo systemctl enable --now signalbox && curl http://127.0.0.1:8080/health
  4. nginx with TLS in front, coturn, backups: docs/deploy.md
NEXT
if [ "$DRY_RUN" = 1 ]; then note "(dry run: nothing was changed)"; fi
