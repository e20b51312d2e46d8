"""SIGTERM drain of a real `airlock serve`: listeners close at once, a running statement
finishes, a held one is withdrawn with a message, an idle session is cut at the deadline,
the process exits 0 and every transcript verifies, signed.
"""

from __future__ import annotations

import json
import queue
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncssh
import psycopg
import pytest

from tests.support.daemon import POLICY, Daemon, airlock, to_toml, wait_active, write_config
from tests.support.gateway import base_config
from tests.support.pg import PgServer
from tests.support.sshd import Sshd, write_key


@pytest.fixture
def drain_daemon(pg: PgServer, tmp_path: Path) -> Iterator[Daemon]:
    state = tmp_path / "state"
    state.mkdir()
    config = write_config(
        state, pg, policy=POLICY,
        gateway={"node": "drainer", "state_dir": str(state), "drain_timeout_s": 3},
        http={"listen": "127.0.0.1:0"},
    )  # fmt: skip
    daemon = Daemon(config)
    try:
        yield daemon
    finally:
        daemon.stop()


LONG = "SELECT 'long', pg_sleep(0.8)"
GRANT = "GRANT SELECT ON drain_t TO PUBLIC"


def test_sigterm_drains_and_every_transcript_verifies(drain_daemon: Daemon, pg: PgServer) -> None:
    d = drain_daemon
    pg.psql("DROP TABLE IF EXISTS drain_t; CREATE TABLE drain_t(x int)")
    notices: queue.Queue[str] = queue.Queue()
    long_conn = psycopg.connect(d.dsn(), autocommit=True)
    held_conn = psycopg.connect(d.dsn(), autocommit=True)
    held_conn.add_notice_handler(lambda diag: notices.put(diag.message_primary or ""))
    idle_conn = psycopg.connect(d.dsn("bob"), autocommit=True)
    assert idle_conn.execute("SELECT 1").fetchone() == (1,)

    def held() -> BaseException | None:
        try:
            held_conn.execute(GRANT)
        except psycopg.Error as exc:
            return exc
        return None

    with ThreadPoolExecutor(2) as pool:
        held_result = pool.submit(held)
        assert "approval required" in notices.get(timeout=10)  # the GRANT is held now
        long_result = pool.submit(lambda: long_conn.execute(LONG).fetchone())
        wait_active(pg, LONG)

        d.signal(signal.SIGTERM)
        d.wait_log("draining: listeners closed")
        # New connections are refused on every listener, at once.
        with pytest.raises(psycopg.OperationalError, match="refused"):
            psycopg.connect(d.dsn(), connect_timeout=5)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", d.http_port), timeout=5).close()

        # The held statement is withdrawn with a message saying why.
        exc = held_result.result(10)
        assert isinstance(exc, psycopg.errors.AdminShutdown), exc
        assert "withdrawn: the gateway is shutting down" in str(exc)
        # The running statement finishes during the drain.
        assert long_result.result(10) == ("long", "")
    # The two sessions that were told or finished leave; the idle one is cut at the deadline.
    long_conn.close()
    held_conn.close()
    assert d.proc.wait(15) == 0, d.stderr()
    assert "deadline reached, ending 1 sessions" in d.stderr()
    with pytest.raises(psycopg.OperationalError):
        idle_conn.execute("SELECT 1")
    idle_conn.close()

    # Every transcript verifies and is signed, the cut one too.
    state = d.config.parent
    out = airlock(
        "verify", "--all", "--json", "--dir", str(state / "transcripts"),
        "--public-key", str(state / "keys" / "audit_ed25519.pub"),
    )  # fmt: skip
    report = json.loads(out.stdout)
    assert out.returncode == 0 and report["ok"], out.stdout + out.stderr
    assert report["checked"] == 3
    assert all(r["signed"] for r in report["reports"]), report
    via_store = airlock("verify", "--all", "--config", str(d.config))
    assert via_store.returncode == 0, via_store.stdout + via_store.stderr
    assert "3 of 3 transcripts verified" in via_store.stdout


def test_second_sigterm_ends_the_drain_at_once(pg: PgServer, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    config = write_config(
        state, pg, policy=POLICY,
        gateway={"node": "drainer", "state_dir": str(state), "drain_timeout_s": 600},
    )  # fmt: skip
    daemon = Daemon(config)
    try:
        idle = psycopg.connect(daemon.dsn(), autocommit=True)
        idle.execute("SELECT 1")
        daemon.signal(signal.SIGTERM)
        daemon.wait_log("draining: listeners closed")
        started = time.monotonic()
        daemon.signal(signal.SIGTERM)
        assert daemon.proc.wait(15) == 0, daemon.stderr()
        assert time.monotonic() - started < 10  # not the 600 s deadline
        assert "deadline reached, ending 1 sessions" in daemon.stderr()
        with pytest.raises(psycopg.OperationalError, match="shutting down"):
            idle.execute("SELECT 1")
        idle.close()
    finally:
        daemon.stop()


def test_sigterm_answers_a_held_ssh_exec(pg: PgServer, sshd: Sshd, tmp_path: Path) -> None:
    state = tmp_path / "state"
    (state / "keys").mkdir(parents=True)
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    write_key(state / "keys" / "ssh_host", host_key)
    client = asyncssh.generate_private_key("ssh-ed25519")
    client_key = write_key(tmp_path / "alice_ed25519", client)
    data = base_config(
        state, pg, policy=POLICY,
        gateway={"node": "drainer", "state_dir": str(state), "drain_timeout_s": 10},
        ssh={"listen": "127.0.0.1:0", "host_key": str(state / "keys" / "ssh_host")},
        http={"listen": "127.0.0.1:0"},
        targets={"box": {"protocol": "ssh", "host": "127.0.0.1", "port": sshd.port,
                         "user": sshd.user, "key_file": str(sshd.client_key),
                         "known_hosts": str(sshd.known_hosts)}},
    )  # fmt: skip
    data["users"]["alice"]["ssh_keys"] = [client.export_public_key().decode().strip()]
    (state / "airlock.toml").write_text(to_toml(data))
    daemon = Daemon(state / "airlock.toml")
    try:
        known = tmp_path / "known_hosts"
        known.write_text(f"[127.0.0.1]:{daemon.ssh_port} {host_key.export_public_key().decode()}")
        ssh = subprocess.Popen(
            ["ssh", "-F", "/dev/null", "-p", str(daemon.ssh_port), "-i", str(client_key),
             "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "BatchMode=yes",
             "-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes",
             "alice:box@127.0.0.1", "sudo -n true"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert ssh.stderr is not None
        first = ssh.stderr.readline()  # the hold notice: the exec waits for a human now
        assert "approval required" in first, first + daemon.stderr()
        daemon.signal(signal.SIGTERM)
        rest = ssh.stderr.read()
        assert ssh.wait(10) == 126, rest
        assert "withdrawn: the gateway is shutting down" in rest, rest
        assert daemon.proc.wait(15) == 0, daemon.stderr()
        assert "every session ended" in daemon.stderr()
    finally:
        daemon.stop()
    out = airlock(
        "verify", "--all", "--json", "--dir", str(state / "transcripts"),
        "--public-key", str(state / "keys" / "audit_ed25519.pub"),
    )  # fmt: skip
    report = json.loads(out.stdout)
    assert out.returncode == 0 and report["checked"] == 1, out.stdout + out.stderr
    assert all(r["signed"] for r in report["reports"]), report
