"""Record before forward, proved against PostgreSQL's own log: a real `airlock serve` is
killed with SIGKILL in the middle of two pgbench runs (select-only over the extended
protocol, TPC-B-like over the simple one). Afterwards every statement the server logged
for the gateway's upstream user is in a transcript, byte for byte, and `airlock verify
--all` finds every transcript intact up to its last event: unclosed, never tampered."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.recording.reader import read_events
from gateway.recording.verify import transcripts
from tests.support.pg import PgServer
from tests.support.servers import free_port, require_binary

AIRLOCK = [sys.executable, "-m", "gateway.cli"]
UP_USER, UP_DB = "up_crash", "crashbench"
# log_line_prefix is '%m [%p] %u@%d ': "2024-05-01 12:00:00.123 UTC [42] user@db LOG:  ..."
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \S+ \[\d+\] (\S*)@(\S*) (\w+):  (.*)$")
STATEMENT = re.compile(r"^(?:statement|execute [^:]*): (.*)$", re.S)


def logged_statements(log: Path, offset: int) -> list[str]:
    """Statements PostgreSQL logged for UP_USER@UP_DB after ``offset``; continuation lines
    of a multi-line message start with a tab."""
    messages: list[tuple[str, str, str]] = []
    with log.open("rb") as fh:
        fh.seek(offset)
        for raw in fh.read().decode("utf-8", "replace").splitlines():
            m = LOG_LINE.match(raw)
            if m:
                messages.append((f"{m[1]}@{m[2]}", m[3], m[4]))
            elif raw.startswith("\t") and messages:
                who, level, text = messages[-1]
                messages[-1] = (who, level, f"{text}\n{raw[1:]}")
    out = []
    for who, level, text in messages:
        if who == f"{UP_USER}@{UP_DB}" and level == "LOG":
            m = STATEMENT.match(text)
            if m:
                out.append(m[1])
    return out


@pytest.fixture
def daemon(pg: PgServer, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path, int]]:
    if not pg.psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{UP_USER}'").strip():
        pg.psql(f"CREATE ROLE {UP_USER} LOGIN SUPERUSER")
    if not pg.psql(f"SELECT 1 FROM pg_database WHERE datname = '{UP_DB}'").strip():
        pg.psql(f"CREATE DATABASE {UP_DB} OWNER {UP_USER}")
    pgbench = require_binary(str(pg.bindir / "pgbench"), "pgbench (postgresql-contrib)")
    init = subprocess.run(
        [pgbench, "-i", "-q", "-s", "1", "-h", pg.host, "-p", str(pg.port), "-U", "postgres",
         UP_DB], capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert init.returncode == 0, init.stderr
    port = free_port()
    init = subprocess.run(
        [*AIRLOCK, "init", "--dir", str(tmp_path), "--admin-password", "admin-pw",
         "--postgres-port", str(port), "--ssh-port", "0", "--http-port", "0"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert init.returncode == 0, init.stderr
    config = tmp_path / "airlock.toml"
    with config.open("a") as fh:
        fh.write(
            f'\n[targets.bench]\nprotocol = "postgres"\nhost = "{pg.host}"\nport = {pg.port}\n'
            f'database = "{UP_DB}"\nuser = "{UP_USER}"\n'
        )
    proc = subprocess.Popen(
        [*AIRLOCK, "serve", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the daemon says when it is ready
    assert "ready" in line, line
    try:
        yield proc, config, port
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def start_pgbench(pg: PgServer, port: int, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PGPASSWORD": "admin-pw", "PGSSLMODE": "disable"}
    return subprocess.Popen(
        [str(pg.bindir / "pgbench"), "-h", "127.0.0.1", "-p", str(port), "-U", "admin",
         "-T", "120", "-P", "1", *args, "bench"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def wait_progress(bench: subprocess.Popen[str]) -> None:
    """Block until pgbench reports progress (its first interval has run), or fail."""
    assert bench.stderr is not None
    seen = []
    for line in bench.stderr:
        seen.append(line)
        if line.startswith("progress:"):
            return
    raise AssertionError(f"pgbench ended before making progress: {''.join(seen)[-2000:]}")


def airlock_verify(config: Path, *extra: str) -> tuple[int, dict[str, object]]:
    out = subprocess.run(
        [*AIRLOCK, "verify", "--all", "--json", "--config", str(config), *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 2, out.stderr
    return out.returncode, json.loads(out.stdout)


def test_kill_9_mid_pgbench_loses_no_statement(
    daemon: tuple[subprocess.Popen[str], Path, int], pg: PgServer
) -> None:
    proc, config, port = daemon
    offset = pg.log.stat().st_size
    select_only = start_pgbench(pg, port, "-n", "-S", "-M", "extended", "-c", "2", "-j", "1")
    tpcb = start_pgbench(pg, port, "-n", "-c", "2", "-j", "1")
    try:
        wait_progress(select_only)
        wait_progress(tpcb)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
        # With the gateway gone every client aborts; pgbench exits on its own.
        for bench in (select_only, tpcb):
            assert bench.stderr is not None
            bench.stderr.read()
            assert bench.wait(60) != 0
    finally:
        for bench in (select_only, tpcb):
            if bench.poll() is None:
                bench.kill()
                bench.wait()

    # Every statement the server has logged so far reached it through the gateway.
    logged = logged_statements(pg.log, offset)
    assert len(logged) > 200, logged[:5]
    assert any(s.startswith("UPDATE pgbench_accounts") for s in logged)  # TPC-B ran
    assert any(s.startswith("SELECT abalance") and "$1" in s for s in logged)  # extended

    directory = load_config(config).recording.directory
    files = transcripts(directory)
    recorded: set[str] = set()
    for path in files.values():
        recorded.update(str(e["text"]) for e in read_events(path) if e.get("type") == "statement")
    missing = [s for s in logged if s not in recorded]
    assert not missing, (
        f"{len(missing)} of {len(logged)} logged statements unrecorded: {missing[:5]}"
    )

    print(f"crash: {len(logged)} statements logged upstream, all among {len(recorded)} recorded")
    code, report = airlock_verify(config)
    reports = report["reports"]
    assert isinstance(reports, list)
    statuses = {r["session"]: r["status"] for r in reports}
    assert report["tampered"] == 0, [r for r in reports if r["status"] == "tampered"]
    unclosed = [r for r in reports if r["status"] == "unclosed"]
    assert len(unclosed) >= 4, statuses  # the four pgbench connections, cut by the kill
    for r in unclosed:
        assert r["events"] > 0 and all(not p["tamper"] for p in r["problems"]), r
        assert {p["kind"] for p in r["problems"]} == {"truncated"}
    assert set(statuses.values()) <= {"verified", "unclosed"}
    print(f"crash: verify --all: {len(unclosed)} unclosed of {len(reports)}, exit {code}")
    assert code == 3  # unclosed, nothing tampered: its own exit code...
    code, _ = airlock_verify(config, "--allow-unclosed")
    assert code == 0  # ...which the operator can accept explicitly

    # Tampering with a crash-cut transcript is still tampering.
    victim = next(Path(str(r["path"])) for r in unclosed)
    lines = victim.read_bytes().splitlines(keepends=True)
    del lines[1]
    victim.write_bytes(b"".join(lines))
    code, report = airlock_verify(config, "--allow-unclosed")
    assert code == 1 and report["tampered"] == 1
