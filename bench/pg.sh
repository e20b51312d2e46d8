#!/usr/bin/env bash
# Postgres benchmark: direct vs pgbouncer (session mode) vs Airlock, interleaved in rounds.
#
#   bench/pg.sh                       (ROUNDS=3 DURATION=15 by default)
#   ROUNDS=1 DURATION=5 bench/pg.sh   (quick check)
#
# Sets everything up itself in a temp dir and tears it down on exit: a PostgreSQL 15 cluster
# (Debian binaries from `pg_config --bindir`, run as `postgres` when we are root; TCP only;
# fsync/synchronous_commit/full_page_writes OFF: this measures the relays, not the disk),
# `pgbench -i -s 10`, pgbouncer and `airlock serve` (uvloop, default policy, recording on).
#
# Every path authenticates the client the same way: user `admin`, SCRAM-SHA-256, no TLS
# (PGSSLMODE=disable; Airlock would otherwise negotiate TLS since it has a certificate).
# With TLS=1 every client leg is TLS instead (PGSSLMODE=require): PostgreSQL itself,
# pgbouncer (client_tls_*) and Airlock all present the same kind of self-signed certificate.
# Upstream, pgbouncer and Airlock log in as `postgres` with trust, over plain TCP.
#
# Workloads (all `-c 8 -j 2 -n`; VACUUM/TRUNCATE of pgbench_history is done directly before
# each TPC-B run, because pgbench's own pre-run TRUNCATE is `destructive` under Airlock policy):
#   select-simple    pgbench -S -M simple
#   select-extended  pgbench -S -M extended
#   tpcb             pgbench (TPC-B-like default script, -M simple)
#   connect          pgbench -C -S -M simple (a new connection per transaction)
#
# Environment:
#   ROUNDS, DURATION          rounds (each runs every workload on every path) and seconds per run
#   WORKLOADS                 space-separated subset of the names above
#   AIRLOCK_EXTRA_CONFIG      TOML snippet deep-merged into airlock.toml, e.g.
#                             $'[recording]\ndurability = "fsync"'
#   KEEP=1                    keep the temp dir (logs, transcripts, raw pgbench output)
#   TLS=1                     clients connect over TLS to every path (see above)
#   PIN=1                     pin PostgreSQL and pgbench to CPU 0 and every proxy to CPU 1
#                             (taskset), so a proxy never shares its core with the load it
#                             serves: run-to-run noise drops from ~10% to a few percent
#   PYSPY=DIR                 sample Airlock with py-spy during its runs (`.venv/bin/pip install
#                             py-spy`); writes DIR/WORKLOAD-rROUND.txt, collapsed stacks;
#                             PYSPY_FLAGS (default --nonblocking; e.g. --native) go to py-spy
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/.venv/bin/python
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-15}
WORKLOADS=${WORKLOADS:-select-simple select-extended tpcb connect}
PASSWORD=bench-pw
BINDIR=$(pg_config --bindir)
[[ -x $BINDIR/initdb ]] || { echo "no initdb in $BINDIR" >&2; exit 1; }
command -v pgbouncer >/dev/null || { echo "pgbouncer not installed (apt-get install pgbouncer)" >&2; exit 1; }

LOAD_CPU=() PROXY_CPU=()
if [[ ${PIN:-0} == 1 ]]; then
    [[ $(nproc) -ge 2 ]] || { echo "PIN=1 needs at least 2 CPUs" >&2; exit 1; }
    LOAD_CPU=(taskset -c 0) PROXY_CPU=(taskset -c 1)
fi

TMP=$(mktemp -d /tmp/airlock-bench.XXXXXX)
chmod 755 "$TMP"
AIRLOCK_PID=
AS_PG=()
if [[ $(id -u) == 0 ]]; then
    AS_PG=(runuser -u postgres --)
    mkdir "$TMP/pg" "$TMP/bouncer"
    chown postgres: "$TMP/pg" "$TMP/bouncer"
fi

cleanup() {
    set +e
    [[ -n $AIRLOCK_PID ]] && kill "$AIRLOCK_PID" 2>/dev/null && wait "$AIRLOCK_PID" 2>/dev/null
    for p in "${VARIANT_PID[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    [[ -s $TMP/bouncer/pgbouncer.pid ]] && kill "$(cat "$TMP/bouncer/pgbouncer.pid")" 2>/dev/null
    [[ -f $TMP/pg/data/postmaster.pid ]] && "${AS_PG[@]}" "$BINDIR/pg_ctl" -D "$TMP/pg/data" -m immediate stop >/dev/null 2>&1
    if [[ ${KEEP:-0} == 1 ]]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mapfile -t PORTS < <("$PY" bench/lib/freeports.py 3)
PG_PORT=${PORTS[0]} BOUNCER_PORT=${PORTS[1]} AIRLOCK_PORT=${PORTS[2]}

wait_ready() {  # port dbname what logfile
    for _ in $(seq 1 200); do
        pg_isready -q -h 127.0.0.1 -p "$1" -d "$2" -U admin && return 0
        sleep 0.1
    done
    echo "$3 did not become ready on port $1; log:" >&2
    tail -n 30 "$4" >&2
    exit 1
}

# --- PostgreSQL ---------------------------------------------------------------------------
"${AS_PG[@]}" "$BINDIR/initdb" -D "$TMP/pg/data" -U postgres -A trust -E UTF8 >"$TMP/pg/initdb.log"
cat >>"$TMP/pg/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = ''
max_connections = 100
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
SSLMODE=disable
if [[ ${TLS:-0} == 1 ]]; then
    SSLMODE=require
    mkdir -p "$TMP/tls"
    "$PY" -c 'import sys; from pathlib import Path; from gateway.keys import write_tls_certificate as w; w(Path(sys.argv[1]), Path(sys.argv[2]), ("localhost", "127.0.0.1"))' \
        "$TMP/tls/server.crt" "$TMP/tls/server.key"
    chmod 600 "$TMP/tls/server.key"
    [[ ${#AS_PG[@]} -gt 0 ]] && chown -R postgres: "$TMP/tls"
    printf "ssl = on\nssl_cert_file = '%s'\nssl_key_file = '%s'\n" "$TMP/tls/server.crt" \
        "$TMP/tls/server.key" >>"$TMP/pg/data/postgresql.conf"
fi
cat >"$TMP/pg/data/pg_hba.conf" <<EOF
host all postgres 127.0.0.1/32 trust
host all all      127.0.0.1/32 scram-sha-256
EOF
"${LOAD_CPU[@]}" "${AS_PG[@]}" "$BINDIR/pg_ctl" -D "$TMP/pg/data" -l "$TMP/pg/server.log" -w start >/dev/null
PSQL_SU=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres)
"${PSQL_SU[@]}" -c "CREATE ROLE admin LOGIN SUPERUSER PASSWORD '$PASSWORD'"
pgbench -i -q -s 10 -h 127.0.0.1 -p "$PG_PORT" -U postgres postgres 2>"$TMP/pg/pgbench-init.log"
SCRAM_SECRET=$("${PSQL_SU[@]}" -At -c "SELECT rolpassword FROM pg_authid WHERE rolname = 'admin'")

# --- pgbouncer (session mode; same SCRAM secret as the server) ----------------------------
B=$TMP/bouncer
printf '"admin" "%s"\n' "$SCRAM_SECRET" >"$B/userlist.txt"
cat >"$B/pgbouncer.ini" <<EOF
[databases]
demo = host=127.0.0.1 port=$PG_PORT dbname=postgres user=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $B/userlist.txt
pool_mode = session
max_client_conn = 200
default_pool_size = 20
logfile = $B/pgbouncer.log
pidfile = $B/pgbouncer.pid
log_connections = 0
log_disconnections = 0
EOF
if [[ ${TLS:-0} == 1 ]]; then
    printf 'client_tls_sslmode = prefer\nclient_tls_cert_file = %s\nclient_tls_key_file = %s\n' \
        "$TMP/tls/server.crt" "$TMP/tls/server.key" >>"$B/pgbouncer.ini"
fi
[[ ${#AS_PG[@]} -gt 0 ]] && chown -R postgres: "$B"
"${PROXY_CPU[@]}" "${AS_PG[@]}" pgbouncer -d -q "$B/pgbouncer.ini"
wait_ready "$BOUNCER_PORT" demo pgbouncer "$B/pgbouncer.log"

# --- Airlock --------------------------------------------------------------------------------
A=$TMP/airlock
.venv/bin/airlock init --dir "$A" --demo-postgres "127.0.0.1:$PG_PORT" --demo-user postgres \
    --admin admin --admin-password "$PASSWORD" >/dev/null
"$PY" bench/lib/airlock_config.py "$A/airlock.toml" "127.0.0.1:$AIRLOCK_PORT" "${AIRLOCK_EXTRA_CONFIG:-}"
"${PROXY_CPU[@]}" .venv/bin/airlock serve --config "$A/airlock.toml" >"$A/airlock.log" 2>&1 &
AIRLOCK_PID=$!
wait_ready "$AIRLOCK_PORT" demo airlock "$A/airlock.log"

# Variants (AIRLOCK_VARIANTS="passthrough norecord"): the same daemon with parts switched off
# by bench/lib/variant_serve.py, each on its own port, measured as targets airlock-VARIANT.
declare -A VARIANT_PID=() VARIANT_PORT=()
for v in ${AIRLOCK_VARIANTS:-}; do
    V=$TMP/airlock-$v
    mkdir -p "$V"
    cp -r "$A/state" "$V/state"
    vport=$("$PY" bench/lib/freeports.py 1)
    sed "s/^listen = \"127.0.0.1:$AIRLOCK_PORT\"/listen = \"127.0.0.1:$vport\"/" "$A/airlock.toml" >"$V/airlock.toml"
    "${PROXY_CPU[@]}" .venv/bin/python bench/lib/variant_serve.py "$v" --config "$V/airlock.toml" >"$V/airlock.log" 2>&1 &
    VARIANT_PID[$v]=$!
    VARIANT_PORT[$v]=$vport
    wait_ready "$vport" demo "airlock-$v" "$V/airlock.log"
done

# --- measure --------------------------------------------------------------------------------
export PGPASSWORD=$PASSWORD PGSSLMODE=$SSLMODE
declare -A PORT=([direct]=$PG_PORT [pgbouncer]=$BOUNCER_PORT [airlock]=$AIRLOCK_PORT)
declare -A DB=([direct]=postgres [pgbouncer]=demo [airlock]=demo)
TARGETS=(direct pgbouncer airlock)
for v in ${AIRLOCK_VARIANTS:-}; do
    PORT[airlock-$v]=${VARIANT_PORT[$v]}
    DB[airlock-$v]=demo
    TARGETS+=("airlock-$v")
done
declare -A ARGS=(
    [select-simple]="-S -M simple"
    [select-extended]="-S -M extended"
    [tpcb]="-M simple"
    [connect]="-C -S -M simple"
)
for t in "${TARGETS[@]}"; do  # fail early if a path does not work at all
    psql -X -q -At -h 127.0.0.1 -p "${PORT[$t]}" -U admin -d "${DB[$t]}" \
        -c "SELECT count(*) FROM pgbench_branches" >/dev/null \
        || { echo "$t: cannot query through it" >&2; exit 1; }
done

# CPU seconds (user sys) used so far by the proxy process of a path; direct has none.
TICK=$(getconf CLK_TCK)
proxy_pid() {
    case $1 in
        airlock) echo "$AIRLOCK_PID" ;;
        airlock-*) echo "${VARIANT_PID[${1#airlock-}]}" ;;
        pgbouncer) cat "$TMP/bouncer/pgbouncer.pid" ;;
        *) echo "" ;;
    esac
}
cpu_ticks() {  # pid -> "utime stime" in clock ticks (fields 14, 15 of /proc/PID/stat)
    [[ -z $1 ]] && { echo "0 0"; return; }
    sed 's/.*) //' "/proc/$1/stat" | awk '{print $12, $13}'
}

RESULTS=$TMP/results.tsv
: >"$RESULTS"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "pg.sh: $ROUNDS round(s) x $DURATION s; PostgreSQL $PG_PORT, pgbouncer $BOUNCER_PORT, Airlock $AIRLOCK_PORT; load $LOAD_BEFORE" >&2
for round in $(seq 1 "$ROUNDS"); do
    for w in $WORKLOADS; do
        # rotate the path order each round so no path always runs first (warm caches, load)
        n=${#TARGETS[@]}
        for i in $(seq 0 $((n - 1))); do
            t=${TARGETS[$(((i + round - 1) % n))]}
            if [[ $w == tpcb ]]; then
                "${PSQL_SU[@]}" -c "TRUNCATE pgbench_history" -c "VACUUM pgbench_branches" \
                    -c "VACUUM pgbench_tellers"
            fi
            out=$TMP/run-$round-$w-$t.txt
            pid=$(proxy_pid "$t")
            read -r u0 s0 < <(cpu_ticks "$pid")
            spy=
            if [[ -n ${PYSPY:-} && $t == airlock* ]]; then
                mkdir -p "$PYSPY"
                .venv/bin/py-spy record ${PYSPY_FLAGS:---nonblocking} -r 200 -f raw -d "$DURATION" -p "$pid" \
                    -o "$PYSPY/$w-$t-r$round.txt" >"$PYSPY/$w-$t-r$round.log" 2>&1 &
                spy=$!
            fi
            # shellcheck disable=SC2086  # ARGS holds several words on purpose
            if ! "${LOAD_CPU[@]}" pgbench -n ${ARGS[$w]} -c 8 -j 2 -T "$DURATION" -h 127.0.0.1 -p "${PORT[$t]}" \
                -U admin "${DB[$t]}" >"$out" 2>&1; then
                echo "pgbench failed: round $round $w $t" >&2
                tail -n 20 "$out" >&2
                exit 1
            fi
            read -r u1 s1 < <(cpu_ticks "$pid")
            if [[ -n $spy ]]; then wait "$spy" || echo "py-spy failed (exit $?)" >&2; fi
            tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$out" | head -n1)
            lat=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' "$out" | head -n1)
            txs=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
            cpu_user=$(awk -v a="$u0" -v b="$u1" -v t="$TICK" 'BEGIN {print (b - a) / t}')
            cpu_sys=$(awk -v a="$s0" -v b="$s1" -v t="$TICK" 'BEGIN {print (b - a) / t}')
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$t" "$w" "$tps" "$lat" "$txs" \
                "$cpu_user" "$cpu_sys" >>"$RESULTS"
            printf '  round %s %-16s %-10s tps %8.0f  lat %6.2f ms  proxy cpu %5.2f+%5.2f s\n' \
                "$round" "$w" "$t" "$tps" "$lat" "$cpu_user" "$cpu_sys" >&2
        done
    done
done
echo
"$PY" bench/lib/report.py "$RESULTS"
echo
echo "load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"
echo "Airlock extra config: ${AIRLOCK_EXTRA_CONFIG:-(none)}; client legs: sslmode=$SSLMODE"
