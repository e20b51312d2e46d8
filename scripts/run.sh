#!/usr/bin/env bash
# `make run`: initialise a state directory once, start a throwaway demo PostgreSQL where
# the server binaries exist, print how to connect, and run the gateway in the foreground.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE="${STATE:-.airlock}"
DEMO_PORT="${DEMO_PORT:-5499}"
PG_PORT="${PG_PORT:-6432}" SSH_PORT="${SSH_PORT:-2222}" HTTP_PORT="${HTTP_PORT:-8080}"
BIN="$(cd "${AIRLOCK_BIN:-.venv/bin}" && pwd)"
mkdir -p "$STATE"
STATE="$(cd "$STATE" && pwd)"

demo=""
if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/postgres" ]; then
  PGBIN="$(pg_config --bindir)"
  DATA="$STATE/demo-pg"
  as_pg=()
  if [ "$(id -u)" -eq 0 ]; then as_pg=(runuser -u postgres --); fi
  if [ ! -s "$DATA/PG_VERSION" ]; then
    mkdir -p "$DATA"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$DATA"
    (cd "$DATA" && "${as_pg[@]}" "$PGBIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 >/dev/null)
    printf "\nlisten_addresses = '127.0.0.1'\nport = %s\nunix_socket_directories = ''\n" "$DEMO_PORT" \
      >> "$DATA/postgresql.conf"
  fi
  if ! (cd "$DATA" && "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1); then
    (cd "$DATA" && "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w start >/dev/null)
  fi
  # The demo server lives as long as the gateway: stopped on every way out of this script.
  stop_demo() {
    (cd "$DATA" && "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1) || true
    echo "airlock: demo PostgreSQL stopped"
  }
  trap stop_demo EXIT
  demo="127.0.0.1:$DEMO_PORT"
  echo "airlock: demo PostgreSQL running on $demo (data in $DATA; stopped when the gateway stops)"
fi

if [ ! -f "$STATE/airlock.toml" ]; then
  gen() { "$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(12))'; }
  admin_pw="$(gen)" agent_pw="$(gen)"
  args=(init --dir "$STATE" --admin-password "$admin_pw" --agent-password "$agent_pw"
        --postgres-port "$PG_PORT" --ssh-port "$SSH_PORT" --http-port "$HTTP_PORT")
  [ -n "$demo" ] && args+=(--demo-postgres "$demo" --demo-user postgres)
  "$BIN/airlock" "${args[@]}"
  (umask 077 && echo "$admin_pw" > "$STATE/admin-password" && echo "$agent_pw" > "$STATE/agent-password")
fi

cat <<MSG

  Airlock is starting with $STATE/airlock.toml (ports: Postgres $PG_PORT, SSH $SSH_PORT, HTTP $HTTP_PORT)
  Users: 'agent' password $(cat "$STATE/agent-password")   'admin' (approver) password $(cat "$STATE/admin-password")

  As the agent, through the gateway:
      PGPASSWORD=$(cat "$STATE/agent-password") psql "host=127.0.0.1 port=$PG_PORT dbname=demo user=agent"
      demo=> SELECT now();                                  -- runs
      demo=> GRANT ALL ON SCHEMA public TO PUBLIC;          -- held: prints a request id
  As the approver, in another terminal (or http://127.0.0.1:$HTTP_PORT/approvals/ID):
      export AIRLOCK_CONFIG=$STATE/airlock.toml AIRLOCK_TOKEN=$(cat "$STATE/admin-password")
      $BIN/airlock requests --watch
      $BIN/airlock approve ID
  Stop with Ctrl-C.

MSG
# Not exec: the EXIT trap stops the demo server after the gateway has drained.
status=0
"$BIN/airlock" serve --config "$STATE/airlock.toml" || status=$?
exit "$status"
