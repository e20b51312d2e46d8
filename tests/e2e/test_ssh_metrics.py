"""SSH sessions move the metrics and the audit log as they really happen: the active gauge
goes back down, bytes are counted both ways, statements are counted, logins and upstream
failures are audited (the real OpenSSH client through SshGateway to a real sshd)."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from tests.support.ssh_gateway import Gw, run, ssh_gateway
from tests.support.sshd import Sshd, run_sshd


@pytest.fixture(scope="module")
def sshd() -> Iterator[Sshd]:
    with run_sshd(Path(tempfile.mkdtemp(prefix="airlock-sshd-"))) as server:
        yield server


@pytest.fixture(scope="module")
async def gw(sshd: Sshd) -> AsyncIterator[Gw]:
    async with ssh_gateway(sshd) as g:
        yield g


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def audited(caplog: pytest.LogCaptureFixture, event: str) -> list[dict[str, Any]]:
    return [
        vars(r) for r in caplog.records if r.name == "airlock.audit" and vars(r)["event"] == event
    ]


async def test_ssh_session_gauge_bytes_and_statements(
    gw: Gw, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="airlock.audit")
    box = {"protocol": "ssh", "target": "box"}
    active = value("airlock_sessions_active", **box)
    bytes_in = value("airlock_bytes_total", direction="in", **box)
    bytes_out = value("airlock_bytes_total", direction="out", **box)
    payload = b"x" * 5000
    rc, out, err = await run(gw.ssh_argv("agent:box", "cat"), stdin=payload)
    assert (rc, out) == (0, payload), err
    await gw.gateway.drained()  # the server side has seen the connection end
    assert value("airlock_sessions_active", **box) == active
    assert value("airlock_bytes_total", direction="in", **box) - bytes_in >= len(payload)
    assert value("airlock_bytes_total", direction="out", **box) - bytes_out >= len(payload)
    [login] = audited(caplog, "login.ok")
    assert login["user"] == "agent" and login["source"].startswith("127.0.0.1:")
    [start] = audited(caplog, "session.start")
    [end] = audited(caplog, "session.end")
    assert start["session"] == end["session"] and end["target"] == "box"
    assert end["statements"] == 1 and end["bytes_in"] >= len(payload)


async def test_ssh_upstream_failure_is_counted_and_audited(
    gw: Gw, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="airlock.audit")
    labels = {"protocol": "ssh", "target": "badkey", "kind": "connect"}
    before = value("airlock_upstream_errors_total", **labels)
    rc, _, err = await run(gw.ssh_argv("multi:badkey", "true"))
    assert rc == 255, err
    await gw.gateway.drained()
    assert value("airlock_upstream_errors_total", **labels) == before + 1
    [failed] = audited(caplog, "upstream.failed")
    assert failed["target"] == "badkey" and failed["user"] == "multi"


async def test_ssh_failed_password_login_is_audited(
    gw: Gw, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncssh

    caplog.set_level(logging.INFO, logger="airlock.audit")
    with pytest.raises(asyncssh.PermissionDenied):
        await asyncssh.connect(
            "127.0.0.1", gw.port, username="agent", password="wrong password",
            known_hosts=str(gw.known_hosts), client_keys=None, agent_path=None, config=None,
        )  # fmt: skip
    await gw.gateway.drained()
    failed = audited(caplog, "login.failed")
    assert failed and all(f["user"] == "agent" for f in failed)
    assert "wrong password" not in caplog.text
