"""Malformed and hostile input: each gets a clear error or a clean close, and the daemon
keeps serving everyone else (a concurrent session keeps working throughout)."""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import AsyncIterator

import asyncpg
import psycopg
import pytest

from protocols.pgwire import messages as m
from tests.support.gateway import PASSWORDS, GatewayThread, asyncpg_ssl


async def read_error(reader: asyncio.StreamReader) -> dict[str, str]:
    """Read messages until an ErrorResponse; return its fields."""
    while True:
        header = await asyncio.wait_for(reader.readexactly(5), 10)
        body = await reader.readexactly(int.from_bytes(header[1:], "big") - 4)
        if header[:1] == b"E":
            return m.parse_fields(header + body)


@pytest.fixture
async def witness(gateway: GatewayThread) -> AsyncIterator[psycopg.AsyncConnection]:
    """A session that must keep working while the others misbehave."""
    conn = await psycopg.AsyncConnection.connect(gateway.dsn("carol"), autocommit=True)
    yield conn
    assert await (await conn.execute("SELECT 'alive'")).fetchone() == ("alive",)
    await conn.close()


async def raw(gateway: GatewayThread) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", gateway.port)


async def test_garbage_before_startup(
    gateway: GatewayThread, witness: psycopg.AsyncConnection
) -> None:
    reader, writer = await raw(gateway)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    fields = await read_error(reader)
    assert fields["C"] == "08P01" and "startup packet" in fields["M"]
    assert await reader.read() == b""  # then a clean close
    await (await witness.execute("SELECT 1")).fetchone()


async def test_oversized_startup_length(
    gateway: GatewayThread, witness: psycopg.AsyncConnection
) -> None:
    reader, writer = await raw(gateway)
    writer.write(struct.pack("!ii", 1 << 30, m.PROTOCOL_3_0))
    fields = await read_error(reader)
    assert "invalid startup packet length" in fields["M"]
    assert await reader.read() == b""


async def test_unsupported_protocol_version(gateway: GatewayThread) -> None:
    reader, writer = await raw(gateway)
    body = struct.pack("!i", 2 << 16) + b"user\0x\0\0"
    writer.write(struct.pack("!i", len(body) + 4) + body)
    fields = await read_error(reader)
    assert fields["C"] == "0A000" and "protocol 3.0" in fields["M"]


async def test_gssenc_refused_then_startup_works(gateway: GatewayThread) -> None:
    reader, writer = await raw(gateway)
    writer.write(struct.pack("!ii", 8, m.GSSENC_REQUEST_CODE))
    assert await reader.readexactly(1) == b"N"
    writer.write(m.startup_message({"user": "alice", "database": "main"}))
    header = await reader.readexactly(9)
    assert header[:1] == b"R" and struct.unpack("!i", header[5:9])[0] == 10  # SASL offered
    writer.close()


async def test_oversized_message_after_startup(
    gateway: GatewayThread, witness: psycopg.AsyncConnection
) -> None:
    """A length beyond postgres.max_message_bytes ends that session with a clear error."""
    # Plain TCP: the raw bytes below go onto the socket beside libpq (TLS would frame them).
    conn = await psycopg.AsyncConnection.connect(
        gateway.dsn("alice", sslmode="disable"), autocommit=True
    )
    sock_fd = conn.pgconn.socket
    import os

    os.write(sock_fd, b"Q" + struct.pack("!i", 1 << 30))
    with pytest.raises(psycopg.OperationalError) as info:
        await conn.execute("SELECT 1")
    assert "exceeds the limit" in str(info.value) or "server closed" in str(info.value)
    await conn.close()
    await (await witness.execute("SELECT 1")).fetchone()


async def test_truncated_message_then_disconnect(
    gateway: GatewayThread, witness: psycopg.AsyncConnection
) -> None:
    reader, writer = await raw(gateway)
    writer.write(m.startup_message({"user": "alice", "database": "main"})[:10])
    writer.write_eof()
    assert await asyncio.wait_for(reader.read(), 10) == b""  # a clean close, no hang
    await (await witness.execute("SELECT 1")).fetchone()


async def test_stalled_startup_times_out(pg, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    from tests.support.gateway import base_config

    gw = GatewayThread.from_dict(
        base_config(tmp_path_factory.mktemp("stall"), pg, postgres={"startup_timeout_s": 0.5})
    )
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        writer.write(m.startup_message({"user": "alice", "database": "main"})[:6])
        started = time.monotonic()
        fields = await read_error(reader)
        assert fields["M"] == "airlock: startup timed out"
        assert time.monotonic() - started < 3
    finally:
        gw.stop()


async def test_unknown_target(gateway: GatewayThread) -> None:
    with pytest.raises(psycopg.OperationalError) as info:
        await psycopg.AsyncConnection.connect(gateway.dsn("alice", "nowhere"))
    assert "unknown target 'nowhere'" in str(info.value)


async def test_wrong_password_and_unknown_user_look_the_same(gateway: GatewayThread) -> None:
    timings: dict[str, float] = {}
    messages = {}
    for user, password in (("alice", "wrong"), ("mallory", "whatever")):
        for _ in range(3):  # the fastest of three: a scheduling hiccup is not a timing leak
            started = time.monotonic()
            with pytest.raises(psycopg.OperationalError) as info:
                await psycopg.AsyncConnection.connect(
                    f"host=127.0.0.1 port={gateway.port} user={user} dbname=main password={password} sslmode=disable"
                )
            elapsed = time.monotonic() - started
            timings[user] = min(timings.get(user, elapsed), elapsed)
        messages[user] = str(info.value).replace(user, "USER")
        with pytest.raises(asyncpg.InvalidPasswordError) as apg:  # asyncpg exposes SQLSTATE
            await asyncpg.connect(
                host="127.0.0.1",
                port=gateway.port,
                user=user,
                password=password,
                database="main",
                ssl=asyncpg_ssl(),
            )
        assert apg.value.sqlstate == "28P01"
    assert messages["alice"] == messages["mallory"]
    assert abs(timings["alice"] - timings["mallory"]) < 0.15
    assert min(timings.values()) >= 0.2  # the configured failure delay


async def test_upstream_down_gives_clear_error(
    gateway: GatewayThread, witness: psycopg.AsyncConnection
) -> None:
    with pytest.raises(psycopg.OperationalError) as info:
        await psycopg.AsyncConnection.connect(gateway.dsn("alice", "down"))
    assert "target 'down' is unreachable" in str(info.value)


async def test_forbidden_startup_options(gateway: GatewayThread) -> None:
    for options, expect in (
        ("-c role=postgres", "'role' is not allowed"),
        ("-c standard_conforming_strings=off", "standard_conforming_strings=off is refused"),
        ("-c session_replication_role=replica", "not allowed"),
    ):
        with pytest.raises(psycopg.OperationalError) as info:
            await psycopg.AsyncConnection.connect(gateway.dsn("alice", options=options))
        assert expect in str(info.value), options


async def test_reason_option_is_stripped_before_upstream(gateway: GatewayThread) -> None:
    conn = await psycopg.AsyncConnection.connect(
        gateway.dsn("alice", options="-c airlock.reason=rotate\\\\ keys -c statement_timeout=5000")
    )
    async with conn:
        cur = await conn.execute(
            "SELECT current_setting('statement_timeout'), current_setting('airlock.reason', true)"
        )
        assert await cur.fetchone() == ("5s", None)


async def test_cleartext_password_on_loopback_for_users_without_scram(
    gateway: GatewayThread,
) -> None:
    """A local user always gets SCRAM; the password is never sent in clear without need."""
    conn = await psycopg.AsyncConnection.connect(gateway.dsn("bob", require_auth="scram-sha-256"))
    await conn.close()
    assert PASSWORDS["bob"]


async def test_newer_minor_protocol_is_negotiated_down(gateway: GatewayThread) -> None:
    """A client asking for 3.2 is told the gateway speaks 3.0 (as the server does)."""
    reader, writer = await raw(gateway)
    body = struct.pack("!i", (3 << 16) | 2) + b"user\0alice\0database\0main\0\0"
    writer.write(struct.pack("!i", len(body) + 4) + body)
    header = await asyncio.wait_for(reader.readexactly(5), 10)
    assert header[:1] == b"v"
    body = await reader.readexactly(int.from_bytes(header[1:], "big") - 4)
    assert struct.unpack("!ii", body[:8]) == (0, 0)
    writer.close()


async def test_connection_limits_refuse_clearly(pg, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    from tests.support.gateway import base_config

    gw = GatewayThread.from_dict(
        base_config(
            tmp_path_factory.mktemp("limits"), pg, limits={"per_user": 1, "max_connections": 2}
        )
    )
    try:
        first = await psycopg.AsyncConnection.connect(gw.dsn("alice"))
        with pytest.raises(psycopg.OperationalError) as info:
            await psycopg.AsyncConnection.connect(gw.dsn("alice"))
        assert "airlock: user 'alice' already has 1 connections open (limits.per_user)" in str(
            info.value
        )
        assert "airlock: airlock:" not in str(info.value)
        second = await psycopg.AsyncConnection.connect(gw.dsn("bob"))
        with pytest.raises(psycopg.OperationalError, match=r"too many connections \(2 open\)"):
            await psycopg.AsyncConnection.connect(gw.dsn("carol"))
        await first.close()
        await second.close()
        await asyncio.to_thread(gw.wait_sessions_closed)
        again = await psycopg.AsyncConnection.connect(gw.dsn("alice"))  # the slot came back
        await again.close()
    finally:
        gw.stop()


async def test_failed_logins_are_throttled_per_user_and_address(pg, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    """The throttle HTTP and SSH use covers Postgres too: after the free failures even the
    right password is refused, for that user and from that address, without a check."""
    from tests.support.gateway import base_config

    throttle = {
        "failure_delay_s": 0,
        "free_failures": 2,
        "address_free_failures": 2,
        "backoff_s": 60,
        "max_backoff_s": 60,
    }
    gw = GatewayThread.from_dict(
        base_config(tmp_path_factory.mktemp("throttle"), pg, identity={"throttle": throttle})
    )
    try:
        for _ in range(3):  # what psql does before prompting: connect, see the SASL request,
            reader, writer = await raw(gw)  # leave; nothing was learnt, nothing counts
            writer.write(m.startup_message({"user": "alice", "database": "main"}))
            assert (await reader.readexactly(1)) == b"R"
            writer.write_eof()  # the gateway sees the end, closes: then it has settled
            await asyncio.wait_for(reader.read(), 10)
            writer.close()
        for _ in range(2):
            with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
                await psycopg.AsyncConnection.connect(gw.dsn("alice", password="wrong"))
        for user in ("alice", "bob"):
            with pytest.raises(psycopg.OperationalError) as info:
                await psycopg.AsyncConnection.connect(gw.dsn(user))
            assert "too many failed logins" in str(info.value), user
            assert "retry in 60 s" in str(info.value) or "retry in 59 s" in str(info.value)
    finally:
        gw.stop()
