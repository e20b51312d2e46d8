"""SSH password logins against guessing: the failure delay hides whether the user exists,
and the shared throttle refuses further tries per user and per address."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import asyncssh
import pytest

from gateway.identity.throttle import ThrottleSettings
from tests.support.ssh_gateway import PASSWORD, Gw, run, ssh_gateway
from tests.support.sshd import Sshd


@pytest.fixture
async def gw(sshd: Sshd) -> AsyncIterator[Gw]:
    async with ssh_gateway(sshd) as g:
        yield g


async def _password_login(gw: Gw, user: str, password: str) -> bool:
    try:
        conn = await asyncssh.connect(
            "127.0.0.1", gw.port, username=user, password=password, known_hosts=None,
            client_keys=None, agent_path=None, preferred_auth="password",
        )  # fmt: skip
    except asyncssh.PermissionDenied:
        return False
    conn.close()
    await conn.wait_closed()
    return True


async def test_unknown_user_and_wrong_password_look_the_same(gw: Gw) -> None:
    gw.gateway.authenticator.throttle.reconfigure(
        ThrottleSettings(failure_delay_s=0.25, free_failures=100)
    )
    timings: dict[str, float] = {}
    for user, password in (("agent", "wrong"), ("mallory", "whatever")):
        for _ in range(3):  # the fastest of three: a scheduling hiccup is not a timing leak
            started = time.monotonic()
            assert not await _password_login(gw, f"{user}:box", password)
            elapsed = time.monotonic() - started
            timings[user] = min(timings.get(user, elapsed), elapsed)
    assert abs(timings["agent"] - timings["mallory"]) < 0.15
    assert min(timings.values()) >= 0.2  # the configured failure delay


async def test_failed_password_logins_are_throttled(gw: Gw) -> None:
    gw.gateway.authenticator.throttle.reconfigure(
        ThrottleSettings(
            failure_delay_s=0,
            free_failures=2,
            address_free_failures=2,
            backoff_s=60,
            max_backoff_s=60,
        )
    )
    assert await _password_login(gw, "agent:box", PASSWORD)
    for _ in range(2):
        assert not await _password_login(gw, "agent:box", "wrong")
    # Now even the right password is refused for agent, and from this address at all...
    assert not await _password_login(gw, "agent:box", PASSWORD)
    assert not await _password_login(gw, "multi:box", "anything")
    # ...while a public-key login (nothing to guess) still works.
    rc, out, err = await run(gw.ssh_argv("agent:box", "echo", "key-ok"))
    assert (rc, out) == (0, b"key-ok\n"), err
