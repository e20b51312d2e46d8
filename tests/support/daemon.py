"""A real `airlock serve` as a child process, and test configs written as TOML.

Shared by the drain, reload-under-load and two-node tests.
"""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psycopg

from tests.support.gateway import PASSWORDS, SSLMODE, base_config
from tests.support.pg import PgServer

ROOT = Path(__file__).resolve().parents[2]
AIRLOCK = [sys.executable, "-m", "gateway.cli"]

POLICY = {"rules": [
    {"name": "review-privilege", "decision": "review", "categories": ["privilege"],
     "approvers": ["carol"]},
    {"name": "allow-rest", "decision": "allow",
     "categories": ["read", "write", "ddl", "transaction", "session"]},
]}  # fmt: skip


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (str, Path)):
        return json.dumps(str(value))  # a JSON string is a valid TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return (
            "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
        )
    raise TypeError(f"no TOML form for {value!r}")


def to_toml(data: Mapping[str, Any], prefix: str = "") -> str:
    """Enough TOML for test configs (no TOML writer among the dependencies; a few lines)."""
    lines, tables = [], []
    for key, value in data.items():
        name = f"{prefix}.{json.dumps(key)}" if prefix else json.dumps(key)
        if isinstance(value, Mapping):
            tables.append(f"\n[{name}]\n" + to_toml(value, name))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            tables.extend(f"\n[[{name}]]\n" + to_toml(v, name) for v in value)
        else:
            lines.append(f"{json.dumps(key)} = {_toml_value(value)}\n")
    return "".join(lines) + "".join(tables)


def write_config(state: Path, pg: PgServer, **sections: Any) -> Path:
    data = base_config(state, pg, **sections)
    path = state / "airlock.toml"
    path.write_text(to_toml(data))
    return path


class Daemon:
    """`airlock serve --config PATH` as a child process; its log lines are read as they come."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.proc = subprocess.Popen(
            [*AIRLOCK, "serve", "--config", str(config)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.log: list[str] = []
        # A reader thread: the daemon must never block on a full stderr pipe.
        threading.Thread(target=self._read, args=(self.proc.stderr,), daemon=True).start()
        ready = self.proc.stdout.readline()  # the daemon says when it is ready
        if "ready" not in ready:
            self.proc.wait(10)
            raise AssertionError(f"daemon did not start: {ready!r}\n{self.stderr()}")
        ports = dict(re.findall(r"(postgres|ssh|http) (\d+)", ready))
        self.pg_port = int(ports["postgres"])
        self.http_port = int(ports["http"]) if "http" in ports else 0
        self.ssh_port = int(ports["ssh"]) if "ssh" in ports else 0

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.log.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def stderr(self) -> str:
        return "".join(self.log)

    def wait_log(self, text: str, timeout: float = 30) -> str:
        """The next log line containing `text` (lines before it are consumed)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no log line with {text!r}:\n{self.stderr()}") from None
            if line is None:
                raise AssertionError(f"daemon exited before {text!r}:\n{self.stderr()}")
            if text in line:
                return line

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def dsn(self, user: str = "alice", target: str = "main") -> str:
        return (
            f"host=127.0.0.1 port={self.pg_port} user={user} dbname={target} "
            f"password={PASSWORDS[user]} sslmode={SSLMODE} connect_timeout=10"
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def airlock(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AIRLOCK, *args], capture_output=True, text=True, timeout=60, cwd=ROOT, env=env
    )


def wait_active(pg: PgServer, query: str, timeout: float = 10) -> None:
    """Until the upstream server runs `query` (pg_stat_activity is its own account of it)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query = %s",
                (query,),
            ).fetchone()
            if row and row[0]:
                return
            time.sleep(0.01)  # polling the server's own state, not a stand-in for an event
    raise AssertionError(f"{query!r} never ran upstream")
