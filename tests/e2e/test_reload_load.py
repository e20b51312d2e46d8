"""SIGHUP under load: pgbench runs through a real `airlock serve` while the config is
reloaded several times (alternating a policy change); no transaction fails, every client
finishes, and statements after the reload, in a session opened before it, see the new policy.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.daemon import POLICY, Daemon, to_toml
from tests.support.gateway import PASSWORDS, base_config
from tests.support.pg import PgServer
from tests.support.servers import require_binary

BENCH_DB = "airlock_reload_bench"
NO_DDL = {"name": "no-ddl", "decision": "deny", "categories": ["ddl"]}
RELOADS = 6
CLIENTS = {"select": 4, "tpcb": 2}


@pytest.fixture
def loaded(pg: PgServer, tmp_path: Path) -> Iterator[tuple[Daemon, dict[str, object]]]:
    pgbench = require_binary("pgbench", "pgbench (postgresql-client)")
    pg.psql(f"DROP DATABASE IF EXISTS {BENCH_DB}")
    pg.psql(f"CREATE DATABASE {BENCH_DB}")
    # Initialised directly on the server: -i drops and truncates, which policy would review.
    subprocess.run(
        [pgbench, "-i", "-q", "-s", "1", "-h", pg.host, "-p", str(pg.port), "-U", "postgres",
         BENCH_DB],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    state = tmp_path / "state"
    state.mkdir()
    data = base_config(
        state, pg, policy=POLICY, gateway={"node": "reloader", "state_dir": str(state)},
        targets={"bench": {"protocol": "postgres", "host": pg.host, "port": pg.port,
                           "user": "postgres", "database": BENCH_DB}},
    )  # fmt: skip
    config = state / "airlock.toml"
    config.write_text(to_toml(data))
    daemon = Daemon(config)
    try:
        yield daemon, data
    finally:
        daemon.stop()
        pg.psql(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")


def _pgbench(port: int, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["pgbench", "-h", "127.0.0.1", "-p", str(port), "-U", "alice", "-n", "-T", "4",
         "-j", "2", *args, "bench"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PGPASSWORD": PASSWORDS["alice"], "PGSSLMODE": "disable"},
    )  # fmt: skip


def _check(run: subprocess.Popen[str], clients: int) -> int:
    out, err = run.communicate(timeout=60)
    assert run.returncode == 0, out + err
    assert f"number of clients: {clients}" in out, out
    assert re.search(r"number of failed transactions: 0 \(", out), out
    assert "aborted" not in out + err, out + err
    done = re.search(r"number of transactions actually processed: (\d+)", out)
    assert done is not None and int(done.group(1)) > 0, out
    return int(done.group(1))


def test_reload_under_pgbench_fails_nothing(loaded: tuple[Daemon, dict[str, object]]) -> None:
    daemon, data = loaded
    live = psycopg.connect(daemon.dsn(target="bench"), autocommit=True)
    live.execute("CREATE TABLE IF NOT EXISTS before_reload (x int)")  # ddl allowed before
    policies = [
        {"rules": [NO_DDL, *POLICY["rules"]]},  # odd reloads deny DDL
        POLICY,
    ]
    select = _pgbench(daemon.pg_port, "-S", "-c", str(CLIENTS["select"]))
    # TPC-B with a new connection per transaction: authentication runs across the reloads.
    tpcb = _pgbench(daemon.pg_port, "-C", "-c", str(CLIENTS["tpcb"]))
    for i in range(RELOADS - 1):
        daemon.config.write_text(to_toml({**data, "policy": policies[i % 2]}))
        daemon.signal(signal.SIGHUP)
        daemon.wait_log("configuration reloaded")
    # The last reload leaves DDL denied; both benchmarks are still running through it.
    daemon.config.write_text(to_toml({**data, "policy": policies[0]}))
    daemon.signal(signal.SIGHUP)
    daemon.wait_log("configuration reloaded")
    assert select.poll() is None and tpcb.poll() is None, "pgbench ended before the reloads"

    # A session that was open all along sees the new policy on its next statement.
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="denied by rule no-ddl"):
        live.execute("CREATE TABLE IF NOT EXISTS after_reload (x int)")
    assert live.execute("SELECT count(*) FROM pgbench_branches").fetchone() == (1,)
    live.close()
    # And a new session too.
    with (
        psycopg.connect(daemon.dsn(target="bench"), autocommit=True) as fresh,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="no-ddl"),
    ):
        fresh.execute("CREATE TABLE IF NOT EXISTS fresh (x int)")

    selected = _check(select, CLIENTS["select"])
    tpcb_done = _check(tpcb, CLIENTS["tpcb"])
    print(f"\nreload under load: {RELOADS} reloads; pgbench -S {selected} tx, TPC-B -C {tpcb_done}")
    assert "reload rejected" not in daemon.stderr()
