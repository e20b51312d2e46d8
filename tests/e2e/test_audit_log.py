"""The audit log and the approval metrics of a real `airlock serve`: one JSON line per
login, session, request transition, self-approval attempt, upstream failure and reload,
on stderr and in ``[audit] file``; /metrics moves with what really happened."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.daemon import POLICY, Daemon, write_config
from tests.support.gateway import PASSWORDS
from tests.support.pg import PgServer


@pytest.fixture(scope="module")
def daemon(pg: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    state = tmp_path_factory.mktemp("audit")
    config = write_config(
        state,
        pg,
        policy=POLICY,
        http={"listen": "127.0.0.1:0"},
        approvals={"approvers": ["carol"]},
        audit={"file": str(state / "audit" / "audit.jsonl")},
    )
    pg.psql("DROP TABLE IF EXISTS audit_t; CREATE TABLE audit_t(x int)")
    d = Daemon(config)
    yield d
    d.stop()


def event(d: Daemon, name: str) -> dict[str, Any]:
    line = d.wait_log(f'"event": "{name}"')
    doc: dict[str, Any] = json.loads(line)
    assert doc["audit"] is True and doc["logger"] == "airlock.audit"
    return doc


def psql(
    d: Daemon, sql: str, user: str = "alice", target: str = "main", password: str = ""
) -> subprocess.Popen[str]:
    dsn = (
        f"host=127.0.0.1 port={d.pg_port} user={user} dbname={target} sslmode=disable "
        "connect_timeout=10"
    )
    env = {**os.environ, "PGPASSWORD": password or PASSWORDS[user]}
    return subprocess.Popen(
        ["psql", "-X", "-At", "-d", dsn, "-c", sql],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def held_request(proc: subprocess.Popen[str]) -> str:
    assert proc.stderr is not None
    notice = proc.stderr.readline()  # the gateway's NOTICE arrives while psql waits
    found = re.search(r"request ([0-9a-f]{16})", notice)
    assert found, notice
    return found.group(1)


def api(d: Daemon, user: str, path: str, body: dict[str, Any]) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{d.http_port}/api/v1{path}", json.dumps(body).encode(), method="POST"
    )
    secret = base64.b64encode(f"{user}:{PASSWORDS[user]}".encode()).decode()
    request.add_header("Authorization", f"Basic {secret}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 - a local test URL
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def metric(d: Daemon, name: str, **labels: str) -> float:
    request = urllib.request.Request(f"http://127.0.0.1:{d.http_port}/metrics")
    secret = base64.b64encode(f"carol:{PASSWORDS['carol']}".encode()).decode()
    request.add_header("Authorization", f"Basic {secret}")  # /metrics needs a login
    with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 - a local test URL
        text = resp.read().decode()
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        if series == (f"{name}{{{want}}}" if labels else name):
            return float(value)
    return 0.0


def test_logins_sessions_and_upstream_failures_are_audited(daemon: Daemon) -> None:
    ok = psql(daemon, "SELECT 1")
    assert ok.wait(30) == 0
    login = event(daemon, "login.ok")
    assert login["user"] == "alice" and login["protocol"] == "postgres"
    assert login["source"].startswith("127.0.0.1:") and login["method"] == "local"
    start = event(daemon, "session.start")
    end = event(daemon, "session.end")
    assert start["session"] == end["session"] and end["target"] == "main"
    assert end["statements"] >= 1 and end["bytes_in"] > 0 and end["bytes_out"] > 0

    bad = psql(daemon, "SELECT 1", password="not-the-password")
    assert bad.wait(30) != 0
    failed = event(daemon, "login.failed")
    assert failed["user"] == "alice" and failed["source"].startswith("127.0.0.1:")

    down = psql(daemon, "SELECT 1", target="down")
    assert down.wait(30) != 0
    upstream = event(daemon, "upstream.failed")
    assert upstream["target"] == "down" and upstream["user"] == "alice" and upstream["error"]


def test_request_transitions_self_approval_and_metrics(daemon: Daemon) -> None:
    pending0 = metric(daemon, "airlock_approval_requests_pending")
    approved0 = metric(daemon, "airlock_approval_latency_seconds_count", outcome="approved")
    proc = psql(daemon, "GRANT SELECT ON audit_t TO PUBLIC")
    rid = held_request(proc)
    created = event(daemon, "request.created")
    assert created["request"] == rid and created["user"] == "alice"
    assert created["categories"] == ["privilege"] and "GRANT" in created["text"]
    assert metric(daemon, "airlock_approval_requests_pending") == pending0 + 1

    assert api(daemon, "alice", f"/requests/{rid}/approve", {}) == 403
    attempt = event(daemon, "request.self_approval")
    assert attempt["request"] == rid and attempt["user"] == "alice"

    assert api(daemon, "carol", f"/requests/{rid}/approve", {"reason": "ok"}) == 200
    approved = event(daemon, "request.approved")
    assert approved["request"] == rid and approved["decided_by"] == "carol"
    assert approved["latency_s"] >= 0
    assert proc.wait(30) == 0
    assert metric(daemon, "airlock_approval_requests_pending") == pending0
    count = metric(daemon, "airlock_approval_latency_seconds_count", outcome="approved")
    assert count == approved0 + 1

    proc = psql(daemon, "GRANT SELECT ON audit_t TO PUBLIC")
    rid = held_request(proc)
    assert api(daemon, "carol", f"/requests/{rid}/deny", {"reason": "not today"}) == 200
    denied = event(daemon, "request.denied")
    assert denied["request"] == rid and denied["decision_reason"] == "not today"
    assert proc.wait(30) != 0

    proc = psql(daemon, "GRANT SELECT ON audit_t TO PUBLIC")
    rid = held_request(proc)
    proc.send_signal(signal.SIGINT)  # psql sends a cancel: the request is moot
    proc.wait(30)
    withdrawn = event(daemon, "request.withdrawn")
    assert withdrawn["request"] == rid
    assert metric(daemon, "airlock_approval_requests_pending") == pending0
    assert metric(daemon, "airlock_bytes_total", protocol="postgres", target="main",
                  direction="in") > 0  # fmt: skip


def test_reload_is_audited_and_the_file_holds_the_same_lines(daemon: Daemon) -> None:
    daemon.signal(signal.SIGHUP)
    reloaded = event(daemon, "config.reloaded")
    assert reloaded["path"] == str(daemon.config)
    path = daemon.config.parent / "audit" / "audit.jsonl"
    in_file = [json.loads(line) for line in path.read_text().splitlines()]
    on_stderr = [json.loads(line) for line in daemon.log if '"audit": true' in line]
    assert [e["event"] for e in in_file] == [e["event"] for e in on_stderr]
    assert {"login.ok", "login.failed", "session.start", "session.end", "request.created",
            "request.self_approval", "request.approved", "request.denied", "request.withdrawn",
            "upstream.failed", "config.reloaded"} <= {e["event"] for e in in_file}  # fmt: skip
    everything = path.read_text() + daemon.stderr()
    for password in PASSWORDS.values():
        assert password not in everything
    assert "not-the-password" not in everything
