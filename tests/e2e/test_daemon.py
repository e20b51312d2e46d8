"""The daemon as operators run it: `airlock init`, `airlock serve`, psql through it,
SIGHUP reload, SIGTERM exit."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.pg import PgServer
from tests.support.servers import free_port

AIRLOCK = [sys.executable, "-m", "gateway.cli"]


@pytest.fixture
def daemon(pg: PgServer, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path, int, str]]:
    port = free_port()
    init = subprocess.run(
        [*AIRLOCK, "init", "--dir", str(tmp_path), "--admin-password", "admin-pw",
         "--agent-password", "agent-pw", "--postgres-port", str(port), "--ssh-port", "0", "--http-port", "0",
         "--demo-postgres", f"127.0.0.1:{pg.port}", "--demo-user", "postgres"],
        capture_output=True, text=True, timeout=60, umask=0o022,
    )  # fmt: skip
    assert init.returncode == 0, init.stderr
    config = tmp_path / "airlock.toml"
    proc = subprocess.Popen(
        [*AIRLOCK, "serve", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        umask=0o022,  # the usual default: what the daemon creates must not depend on it
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the daemon says when it is ready
    assert "ready" in line, proc.stderr.read() if proc.poll() is not None else line
    try:
        yield proc, config, port, line
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def psql(
    port: int, sql: str, sslmode: str = "require", user: str = "admin"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["psql", "-X", "-At", "-d", f"host=127.0.0.1 port={port} dbname=demo user={user} sslmode={sslmode}", "-c", sql],
        capture_output=True, text=True, timeout=30, env={**os.environ, "PGPASSWORD": f"{user}-pw"},
    )  # fmt: skip


def test_init_serve_psql_reload_and_term(
    daemon: tuple[subprocess.Popen[str], Path, int, str],
) -> None:
    proc, config, port, _ = daemon
    out = psql(port, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    assert out.returncode == 0, out.stderr
    # sslmode=require succeeded, so the client leg is TLS; the demo upstream leg is plain.
    assert out.stdout.strip() == "f"
    out = psql(port, "SELECT 1", sslmode="disable")
    assert out.returncode == 0, out.stderr

    # SIGHUP: a policy that denies reads applies to new statements; a bad config is refused.
    config.write_text(
        config.read_text()
        + '\n[[policy.rules]]\nname = "no-reads"\ndecision = "deny"\ncategories = ["read"]\n'
    )
    proc.send_signal(signal.SIGHUP)
    while True:  # the daemon logs the reload; wait for that line
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert line, "daemon exited"
        if "configuration reloaded" in line:
            break
    out = psql(port, "SELECT 1")
    assert out.returncode != 0 and "denied by rule no-reads" in out.stderr

    config.write_text(config.read_text() + "\n[postgres]\nbogus = 1\n")
    proc.send_signal(signal.SIGHUP)
    while True:
        line = proc.stderr.readline()
        assert line, "daemon exited"
        if "reload rejected" in line:
            break
    assert psql(port, "SELECT 1").returncode != 0  # the old (running) policy still holds

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0

    # Issue 12 item 11: after init, sessions served and transcripts sealed, nothing in the
    # state directory is readable by others (the store holds statement texts).
    state = config.parent / "state"
    assert list(state.rglob("*.jsonl")) and (state / "airlock.db").exists()
    loose = {
        str(p.relative_to(state)): oct(stat.S_IMODE(p.stat().st_mode))
        for p in [state, *state.rglob("*")]
        if stat.S_IMODE(p.stat().st_mode) != (0o700 if p.is_dir() else 0o600)
    }
    assert loose == {}
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


def test_the_demo_flow_an_agent_waits_and_the_operator_approves(
    daemon: tuple[subprocess.Popen[str], Path, int, str], pg: PgServer
) -> None:
    """What `make run` tells a newcomer to try: the agent's GRANT waits for a request id,
    `airlock approve` as the operator releases it, and it runs upstream."""
    import re

    _, config, port, ready = daemon
    http = re.search(r"http (\d+)", ready)
    assert http is not None
    url = f"http://127.0.0.1:{http.group(1)}"
    pg.psql("DROP TABLE IF EXISTS demo_flow; CREATE TABLE demo_flow(a int)")
    agent = subprocess.Popen(
        ["psql", "-X", "-At", "-d", f"host=127.0.0.1 port={port} dbname=demo user=agent sslmode=disable",
         "-c", "GRANT SELECT ON demo_flow TO PUBLIC"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PGPASSWORD": "agent-pw"},
    )  # fmt: skip
    try:
        assert agent.stderr is not None
        notice = agent.stderr.readline()  # the gateway's NOTICE arrives while psql waits
        found = re.search(r"request ([0-9a-f]{16})", notice)
        assert found, notice
        env = {**os.environ, "AIRLOCK_TOKEN": "admin-pw"}
        listed = subprocess.run(
            [*AIRLOCK, "requests", "--config", str(config), "--url", url, "--json"],
            capture_output=True, text=True, timeout=30, env=env,
        )  # fmt: skip
        assert listed.returncode == 0 and found.group(1) in listed.stdout, listed.stderr
        approved = subprocess.run(
            [*AIRLOCK, "approve", found.group(1), "--config", str(config), "--url", url, "--reason", "demo"],
            capture_output=True, text=True, timeout=30, env=env,
        )  # fmt: skip
        assert approved.returncode == 0, approved.stdout + approved.stderr
        out, err = agent.communicate(timeout=30)
        assert agent.returncode == 0 and "GRANT" in out, err
        assert "=r/" in pg.psql("SELECT relacl::text FROM pg_class WHERE relname = 'demo_flow'")
    finally:
        agent.kill()


@pytest.mark.parametrize("listener", ["postgres", "ssh", "http"])
def test_a_busy_port_is_one_line_naming_the_key_and_address(listener: str, tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        ports = {"postgres": "0", "ssh": "0", "http": "0", listener: str(port)}
        init = subprocess.run(
            [*AIRLOCK, "init", "--dir", str(tmp_path), "--postgres-port", ports["postgres"],
             "--ssh-port", ports["ssh"], "--http-port", ports["http"]],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert init.returncode == 0, init.stderr
        out = subprocess.run(
            [*AIRLOCK, "serve", "--config", str(tmp_path / "airlock.toml")],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    errors = [line for line in out.stderr.splitlines() if not line.startswith("{")]
    assert errors == [
        f"airlock: config error: {listener}.listen: cannot listen on 127.0.0.1:{port}: "
        "Address already in use"
    ], out.stderr
