"""SSH connection limits and the login timeout, with the real OpenSSH client and sshd."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import asyncssh
import pytest
from prometheus_client import REGISTRY

from gateway.limits import ConnectionLimiter, Limits
from gateway.ssh.server import SshGateway
from tests.support.ssh_gateway import Gw, run, ssh_gateway
from tests.support.sshd import Sshd


@pytest.fixture(scope="module")
async def gw(sshd: Sshd) -> AsyncIterator[Gw]:
    async with ssh_gateway(sshd) as g:
        yield g


@pytest.fixture
async def limited(gw: Gw) -> AsyncIterator[Gw]:
    """The gateway with no limiter; each test installs its own, and every slot must return."""
    yield gw
    # A passing test has closed everything already; after a failure, don't hang on a
    # held session (disconnecting still goes through the release path checked below).
    gw.gateway.end_sessions("test over")
    await gw.gateway.drained()
    limiter = gw.gateway.limiter
    if limiter is not None:
        assert (limiter.total, dict(limiter.by_user), dict(limiter.by_target)) == (0, {}, {})
    gw.gateway.limiter = None


def rejected_total() -> float:
    value = REGISTRY.get_sample_value("airlock_connections_rejected_total", {"reason": "limit"})
    return value or 0.0


class Held:
    """A live ``ssh ... cat`` session: it holds its slot until ``end``."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def open(cls, gw: Gw, login: str = "agent:box") -> Held:
        proc = await asyncio.create_subprocess_exec(
            *gw.ssh_argv(login, "cat"),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        held = cls(proc)
        await held.ping()  # the echo proves login, routing and the upstream all happened
        return held

    async def ping(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(b"ping\n")
        await self.proc.stdin.drain()
        line = await asyncio.wait_for(self.proc.stdout.readline(), 30)
        assert line == b"ping\n"

    async def end(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return await asyncio.wait_for(self.proc.wait(), 30)


async def test_per_user_limit_refuses_the_next_session_until_one_ends(limited: Gw) -> None:
    gw = limited
    limiter = gw.gateway.limiter = ConnectionLimiter(Limits(max_connections=0, per_user=2))
    first, second = await Held.open(gw), await Held.open(gw)
    assert limiter.by_user["agent"] == 2
    before = rejected_total()

    rc, out, err = await run(gw.ssh_argv("agent:box", "echo", "hello"))
    assert rc == 255 and out == b""
    assert (
        err.decode() == "airlock: user 'agent' already has 2 connections open (limits.per_user)\n"
    )
    assert rejected_total() == before + 1
    assert limiter.by_user["agent"] == 2  # a refused login takes no slot

    conns = list(gw.gateway._conns)
    assert await first.end() == 0
    # The slot comes back when the gateway sees the connection close, not the client exit.
    await asyncio.wait([asyncio.ensure_future(c.wait_closed()) for c in conns],
                       return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
    assert limiter.by_user["agent"] == 1
    rc, out, err = await run(gw.ssh_argv("agent:box", "echo", "hello"))
    assert (rc, out) == (0, b"hello\n"), err
    await second.ping()
    assert await second.end() == 0


@pytest.mark.parametrize(
    ("limits", "caps", "message"),
    [
        (
            Limits(max_connections=1, per_user=0),
            {},
            "airlock: too many connections (1 open); try again later\n",
        ),
        (
            Limits(max_connections=0, per_user=0),
            {"box": 1},
            "airlock: target 'box' is at its connection cap (1; targets.box.max_connections)\n",
        ),
    ],
    ids=["global", "target"],
)
async def test_global_limit_and_target_cap(
    limited: Gw, limits: Limits, caps: dict[str, int], message: str
) -> None:
    gw = limited
    gw.gateway.limiter = ConnectionLimiter(limits, caps)
    held = await Held.open(gw)
    # Another user: only the global limit or the target's cap can refuse it.
    rc, _, err = await run(gw.ssh_argv("multi:box", "true"))
    assert (rc, err.decode()) == (255, message)
    assert await held.end() == 0


async def test_routing_refusal_takes_no_slot(limited: Gw) -> None:
    gw = limited
    limiter = gw.gateway.limiter = ConnectionLimiter(Limits(max_connections=1, per_user=1))
    rc, _, err = await run(gw.ssh_argv("agent:nope", "true"))
    assert rc == 255 and b"unknown target 'nope'" in err
    assert limiter.total == 0


async def test_upstream_failure_gives_the_slot_back(limited: Gw) -> None:
    gw = limited
    limiter = gw.gateway.limiter = ConnectionLimiter(Limits(max_connections=1, per_user=1))
    # badkey's upstream host key does not match: the session fails after taking its slot.
    rc, _, err = await run(gw.ssh_argv("multi:badkey", "true"))
    assert rc == 255 and err, err
    await gw.gateway.drained()
    assert limiter.total == 0
    rc, out, err = await run(gw.ssh_argv("agent:box", "echo", "hello"))
    assert (rc, out) == (0, b"hello\n"), err


async def test_a_silent_client_is_disconnected_after_the_login_timeout(gw: Gw) -> None:
    timeout = 2.0  # generous enough for a real login on a loaded machine to fit inside it
    config = dataclasses.replace(
        gw.config, ssh=dataclasses.replace(gw.config.ssh, login_timeout_s=timeout)
    )
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    gateway = SshGateway(config, gw.gateway.authenticator, gw.gateway.checkpoint, host_key=host_key)
    port = await gateway.start("127.0.0.1", 0)
    known = gw.directory / "timeout_known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {host_key.export_public_key().decode()}")
    quick = dataclasses.replace(gw, port=port, gateway=gateway, known_hosts=known)
    try:
        held = await Held.open(quick)  # logged in: the timeout no longer applies to it
        loop = asyncio.get_running_loop()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = loop.time()
        data = await asyncio.wait_for(reader.read(), timeout + 10)  # until the gateway hangs up
        elapsed = loop.time() - started
        writer.close()
        assert data.startswith(b"SSH-2.0-Airlock\r\n")
        assert timeout - 0.1 <= elapsed < timeout + 5, elapsed  # same loop: accepts may run first
        await held.ping()  # well past its own login timeout, still relaying
        assert await held.end() == 0
        await gateway.drained()
    finally:
        await gateway.close()
