#!/usr/bin/env bash
# Instructions per transaction of each Airlock variant, counted by valgrind's callgrind:
# unlike tps and CPU seconds on a shared 2-core VM (±10% from run to run), an instruction
# count is the same every run, whatever else the machine is doing. It prices code, not
# cache misses or scheduling, so it complements bench/pg.sh rather than replacing it.
#
#   bench/instructions.sh                      (VARIANTS="norecord full", TX=400)
#   VARIANTS="passthrough norecord full" TX=1000 bench/instructions.sh
#
# For each variant (bench/lib/variant_serve.py) the daemon runs under callgrind; after a
# warm-up, counters are zeroed, `pgbench -S -M simple -c 4 -t TX` runs, counters are dumped,
# and the total is divided by the 4 x TX transactions. Takes about a minute per variant.
# KEEP=1 keeps the temp dir: callgrind_annotate its callgrind-VARIANT.out.N files.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/.venv/bin/python
VARIANTS=${VARIANTS:-norecord full}
TX=${TX:-400}
MODE=${MODE:-simple}
BINDIR=$(pg_config --bindir)
command -v valgrind >/dev/null || { echo "valgrind not installed (apt-get install valgrind)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/airlock-instr.XXXXXX)
chmod 755 "$TMP"
AS_PG=()
if [[ $(id -u) == 0 ]]; then
    AS_PG=(runuser -u postgres --)
    mkdir "$TMP/pg" && chown postgres: "$TMP/pg"
fi
DAEMON=
cleanup() {
    set +e
    [[ -n $DAEMON ]] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
    [[ -f $TMP/pg/data/postmaster.pid ]] && "${AS_PG[@]}" "$BINDIR/pg_ctl" -D "$TMP/pg/data" -m immediate stop >/dev/null 2>&1
    if [[ ${KEEP:-0} == 1 ]]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

mapfile -t PORTS < <("$PY" bench/lib/freeports.py 2)
PG_PORT=${PORTS[0]} AIRLOCK_PORT=${PORTS[1]}
"${AS_PG[@]}" "$BINDIR/initdb" -D "$TMP/pg/data" -U postgres -A trust -E UTF8 >/dev/null
cat >>"$TMP/pg/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = ''
fsync = off
EOF
"${AS_PG[@]}" "$BINDIR/pg_ctl" -D "$TMP/pg/data" -l "$TMP/pg/server.log" -w start >/dev/null
psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "CREATE ROLE admin LOGIN SUPERUSER PASSWORD 'pw'"
pgbench -i -q -s 1 -h 127.0.0.1 -p "$PG_PORT" -U postgres postgres 2>/dev/null

A=$TMP/airlock
.venv/bin/airlock init --dir "$A" --demo-postgres "127.0.0.1:$PG_PORT" --demo-user postgres \
    --admin admin --admin-password pw >/dev/null
"$PY" bench/lib/airlock_config.py "$A/airlock.toml" "127.0.0.1:$AIRLOCK_PORT"
export PGPASSWORD=pw PGSSLMODE=disable

printf '%-14s %16s %12s\n' variant instructions per-tx
for v in $VARIANTS; do
    out=$TMP/callgrind-$v.out
    valgrind --tool=callgrind --callgrind-out-file="$out" "$PY" bench/lib/variant_serve.py "$v" \
        --config "$A/airlock.toml" >"$TMP/airlock-$v.log" 2>&1 &
    DAEMON=$!
    for _ in $(seq 1 600); do
        pg_isready -q -h 127.0.0.1 -p "$AIRLOCK_PORT" -d demo -U admin && break
        sleep 0.2
    done
    pgbench -n -S -M "$MODE" -c 4 -t 50 -h 127.0.0.1 -p "$AIRLOCK_PORT" -U admin demo >/dev/null 2>&1
    callgrind_control -z "$DAEMON" >/dev/null 2>&1
    pgbench -n -S -M "$MODE" -c 4 -t "$TX" -h 127.0.0.1 -p "$AIRLOCK_PORT" -U admin demo >"$TMP/pgbench-$v.txt" 2>&1 \
        || { cat "$TMP/pgbench-$v.txt" >&2; exit 1; }
    callgrind_control -d "$DAEMON" >/dev/null 2>&1
    kill "$DAEMON" && wait "$DAEMON" 2>/dev/null || true
    DAEMON=
    # the dump after zeroing is the highest-numbered part file
    dump=$(ls -1 "$out".* 2>/dev/null | sort -t. -k3 -n | tail -n1)
    total=$(sed -n 's/^summary: \([0-9]*\).*/\1/p' "$dump" | head -n1)
    [[ -n $total ]] || total=$(sed -n 's/^totals: \([0-9]*\).*/\1/p' "$dump" | head -n1)
    printf '%-14s %16s %12.0f\n' "$v" "$total" "$(awk -v t="$total" -v n="$((4 * TX))" 'BEGIN {print t / n}')"
done
