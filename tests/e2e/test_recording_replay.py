"""Replay and listing from real sessions: psql and an interactive OpenSSH session through
one real gateway (Postgres and SSH listeners, shared store and recorder), then the
`airlock sessions` / `airlock replay` commands an auditor runs, against its config file."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from gateway.config import parse_config
from protocols import asciicast
from tests.e2e.test_ssh_shell import Terminal
from tests.support.gateway import GatewayThread, base_config
from tests.support.pg import PgServer
from tests.support.sshd import Sshd, write_key

AIRLOCK = [sys.executable, "-m", "gateway.cli"]


def _toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(str(v))  # a JSON string is a valid TOML basic string


def to_toml(data: Mapping[str, Any], prefix: str = "") -> str:
    """Just enough TOML for a test config (no TOML writer is a dependency here)."""
    lines, nested = [], []
    for k, v in data.items():
        key = json.dumps(k)
        if isinstance(v, Mapping):
            nested.append(f"\n[{prefix}{key}]\n" + to_toml(v, f"{prefix}{key}."))
        elif isinstance(v, list) and v and all(isinstance(x, Mapping) for x in v):
            for item in v:
                nested.append(f"\n[[{prefix}{key}]]\n" + to_toml(item, f"{prefix}{key}."))
        else:
            lines.append(f"{key} = {_toml_value(v)}")
    return "\n".join(lines) + "\n" + "".join(nested)


class Env:
    def __init__(self, gw: GatewayThread, config: Path, client_key: Path, known: Path) -> None:
        self.gw, self.config, self.client_key, self.known = gw, config, client_key, known

    def airlock(self, *args: str) -> str:
        out = subprocess.run(
            [*AIRLOCK, *args, "--config", str(self.config)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        return out.stdout


@pytest.fixture(scope="module")
def env(pg: PgServer, sshd: Sshd, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    state = tmp_path_factory.mktemp("replay")
    host_key = write_key(state / "ssh_host", asyncssh.generate_private_key("ssh-ed25519"))
    client = asyncssh.generate_private_key("ssh-ed25519")
    client_key = write_key(state / "alice_ed25519", client)
    data = base_config(
        state,
        pg,
        ssh={"listen": "127.0.0.1:0", "host_key": str(host_key)},
        users={
            "alice": {
                "password_hash": base_config(state, pg)["users"]["alice"]["password_hash"],
                "groups": ["dev"],
                "ssh_keys": [client.export_public_key().decode().strip()],
            }
        },
        targets={
            "box": {"protocol": "ssh", "host": "127.0.0.1", "port": sshd.port,
                    "user": sshd.user, "key_file": str(sshd.client_key),
                    "known_hosts": str(sshd.known_hosts)},
        },
    )  # fmt: skip
    config = state / "airlock.toml"
    config.write_text(to_toml(data))
    gw = GatewayThread(parse_config(data, config))
    assert gw.bound.ssh is not None
    known = state / "known_hosts"
    pub = asyncssh.read_private_key(str(host_key)).export_public_key().decode()
    known.write_text(f"[127.0.0.1]:{gw.bound.ssh} {pub}")
    try:
        yield Env(gw, config, client_key, known)
    finally:
        gw.stop()


def psql_session(env: Env) -> str:
    """A psql session through the gateway; returns its session id (from the store)."""
    out = subprocess.run(
        ["psql", "-X", "-At", "-d", env.gw.dsn("alice", application_name="replay-psql"),
         "-c", "SELECT 40 + 2 AS answer", "-c", "SELECT * FROM no_such_table"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert out.stdout.strip() == "42" and "no_such_table" in out.stderr
    env.gw.wait_sessions_closed()
    rows = env.gw.call(env.gw.app.store.list_sessions(user="alice"))
    return next(r.id for r in reversed(rows) if r.agent == "replay-psql")


def test_replay_psql_session_text_and_json(env: Env) -> None:
    sid = psql_session(env)
    text = env.airlock("replay", sid)
    clock = r"\[\+\s*\d+\.\d{3}s\]"
    assert re.search(rf"{clock} session {sid} start: alice -> postgres:main", text), text
    assert re.search(
        rf"{clock} ALLOW \[read\] rule=allow-all-in-tests\n    SELECT 40 \+ 2 AS answer\n"
        rf"{clock}   -> SELECT 1 rows=1 \d+(\.\d+)?ms",
        text,
    ), text
    assert re.search(rf"{clock}   -> ERROR 42P01 relation \"no_such_table\" does not exist", text)
    assert re.search(rf"{clock} session end", text)

    events = [
        json.loads(line) for line in env.airlock("replay", sid, "--format", "json").splitlines()
    ]
    assert events[0]["type"] == "session_start" and events[-1]["type"] == "session_end"
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert all("hash" in e for e in events)  # raw events, as written
    statements = [e["text"] for e in events if e["type"] == "statement"]
    assert statements == ["SELECT 40 + 2 AS answer", "SELECT * FROM no_such_table"]


async def _ssh_settled(env: Env) -> None:
    """Until every SSH connection is closed and its store bookkeeping has run."""
    ssh = env.gw.app.ssh
    assert ssh is not None
    await ssh.drained()
    await ssh.settled()


async def test_replay_ssh_session_as_asciicast_and_listing(env: Env) -> None:
    psql_id = psql_session(env)
    argv = ["ssh", "-tt", "-p", str(env.gw.bound.ssh), "-F", "/dev/null",
            "-i", str(env.client_key), "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
            "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={env.known}",
            "-o", "StrictHostKeyChecking=yes", "-o", "LogLevel=ERROR",
            "alice:box@127.0.0.1"]  # fmt: skip
    term = Terminal(argv)
    await term.start()
    await term.expect(b"$ ")
    term.type(b"echo typed-$((40+2))\r")
    await term.expect(b"typed-42\r\n")
    assert await term.close() == 0
    await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(_ssh_settled(env), env.gw.loop))

    listing = json.loads(await asyncio.to_thread(env.airlock, "sessions", "--json"))
    by_id = {r["session"]: r for r in listing}
    ssh_rows = [r for r in listing if r["protocol"] == "ssh" and r["target"] == "box"]
    assert ssh_rows and psql_id in by_id
    assert by_id[psql_id]["protocol"] == "postgres" and by_id[psql_id]["user"] == "alice"
    ssh_row = ssh_rows[-1]
    assert ssh_row["user"] == "alice" and ssh_row["ended"] is not None

    cast = await asyncio.to_thread(
        env.airlock, "replay", ssh_row["session"], "--format", "asciicast"
    )
    header, events = asciicast.decode(cast)
    assert header.width > 0 and header.title and "alice@box" in header.title
    output = "".join(e.data for e in events if e.code == "o")
    typed = "".join(e.data for e in events if e.code == "i")
    assert "typed-42" in output and "echo typed-$((40+2))" in typed
    times = [e.time for e in events]
    assert times == sorted(times) and times[-1] > 0
    markers = [e.data for e in events if e.code == "m"]
    assert any("echo typed-$((40+2))" in m for m in markers)  # the checked line, as a marker


class SizedTerminal(Terminal):
    """The OpenSSH client on a pty of a given size (OpenSSH sends it in its pty request)."""

    def __init__(self, argv: list[str], cols: int, rows: int) -> None:
        super().__init__(argv)
        self.size = (cols, rows)

    async def start(self) -> None:
        import fcntl
        import os
        import struct
        import termios

        master, slave = os.openpty()
        cols, rows = self.size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        os.set_blocking(master, False)
        self.master = master
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
        )
        os.close(slave)
        asyncio.get_running_loop().add_reader(master, self._readable)


def _ssh_argv(env: Env) -> list[str]:
    return ["ssh", "-tt", "-p", str(env.gw.bound.ssh), "-F", "/dev/null",
            "-i", str(env.client_key), "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
            "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={env.known}",
            "-o", "StrictHostKeyChecking=yes", "-o", "LogLevel=ERROR",
            "alice:box@127.0.0.1"]  # fmt: skip


async def test_asciicast_has_the_clients_terminal_size(env: Env) -> None:
    term = SizedTerminal(_ssh_argv(env), 132, 43)
    await term.start()
    await term.expect(b"$ ")
    term.type(b"echo sized-$((6*7))\r")
    await term.expect(b"sized-42\r\n")
    assert await term.close() == 0
    await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(_ssh_settled(env), env.gw.loop))
    listing = json.loads(await asyncio.to_thread(env.airlock, "sessions", "--json"))
    sid = [r for r in listing if r["protocol"] == "ssh"][-1]["session"]
    cast = await asyncio.to_thread(env.airlock, "replay", sid, "--format", "asciicast")
    header, _ = asciicast.decode(cast)
    assert (header.width, header.height) == (132, 43)


def test_a_live_session_is_live_for_verify_and_sessions(env: Env) -> None:
    import psycopg

    with psycopg.connect(env.gw.dsn("alice", application_name="live-one"), autocommit=True) as c:
        c.execute("SELECT 1")
        c.execute("SELECT 2")
        rows = env.gw.call(env.gw.app.store.list_sessions(user="alice"))
        sid = next(r.id for r in rows if r.agent == "live-one" and r.ended_at is None)
        out = subprocess.run(
            [*AIRLOCK, "verify", "--all", "--json", "--config", str(env.config)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        report = json.loads(out.stdout)
        statuses = {r["session"]: r["status"] for r in report["reports"]}
        assert statuses[sid] == "live" and out.returncode == 0, statuses
        listing = env.airlock("sessions")
        assert listing.splitlines()[0].split()[0] == "SESSION"
        line = next(x for x in listing.splitlines() if x.startswith(sid))
        assert line.split()[-2] == "live"
    env.gw.wait_sessions_closed()
    listing = env.airlock("sessions")
    line = next(x for x in listing.splitlines() if x.startswith(sid))
    assert line.split()[-2:] == ["ended", "2"]
