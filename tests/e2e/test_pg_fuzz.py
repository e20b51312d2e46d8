"""Adversarial streams against a real gateway (its own, so a crash here stays here).

Hypothesis generates malformed byte streams sent (a) instead of a startup packet and (b)
after a real SCRAM login. Each connection must end within a bound, with either a clear
ErrorResponse or a clean close, every byte it received must frame as whole backend
messages, every session handler it started must finish, and a concurrent witness session
must keep working after each example.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from scramp import ScramClient

from protocols.pgwire import messages as m
from tests.support.gateway import PASSWORDS, GatewayThread, base_config
from tests.support.pg import PgServer

BOUND_S = 10.0  # per socket operation; a hang fails the example
MAX_MESSAGE = 64 * 1024 * 1024  # postgres.max_message_bytes default
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def gw(pg: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    gateway = GatewayThread.from_dict(base_config(tmp_path_factory.mktemp("fuzz"), pg))
    try:
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture(scope="module")
def witness(gw: GatewayThread) -> Iterator[psycopg.Connection]:
    conn = psycopg.connect(gw.dsn("carol"), autocommit=True)
    try:
        yield conn
    finally:
        conn.close()


# --- helpers -------------------------------------------------------------------------


def _handlers(gw: GatewayThread) -> set[asyncio.Task[None]]:
    async def snapshot() -> set[asyncio.Task[None]]:
        assert gw.app.postgres is not None
        return set(gw.app.postgres.handlers)

    return gw.call(snapshot())


def _settle(gw: GatewayThread, before: set[asyncio.Task[None]]) -> tuple[int, int]:
    """Wait for the handlers started since `before`; (still running, live sessions)."""

    async def wait() -> tuple[int, int]:
        assert gw.app.postgres is not None
        new = set(gw.app.postgres.handlers) - before
        if new:
            await asyncio.wait(new, timeout=BOUND_S)
        return len(set(gw.app.postgres.handlers) - before), len(gw.app.postgres.live)

    return gw.call(wait(), BOUND_S + 5)


def _read_message(sock: socket.socket, reader: m.MessageReader, queue: list[bytes]) -> bytes:
    while not queue:
        data = sock.recv(65536)
        assert data, "gateway closed during the login"
        queue.extend(msg for _, msg in reader.feed(data))
    return queue.pop(0)


def login(port: int, user: str = "alice") -> socket.socket:
    """A real SCRAM-SHA-256 login (scramp's client) up to the first ReadyForQuery."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=BOUND_S)
    reader, queue = m.MessageReader(), list[bytes]()
    sock.sendall(m.startup_message({"user": user, "database": "main"}))
    assert m.parse_auth(_read_message(sock, reader, queue))[0] == 10
    client = ScramClient(["SCRAM-SHA-256"], user, PASSWORDS[user])
    sock.sendall(m.sasl_initial_response("SCRAM-SHA-256", client.get_client_first().encode()))
    code, payload = m.parse_auth(_read_message(sock, reader, queue))
    assert code == 11
    client.set_server_first(payload.decode())
    sock.sendall(m.password_message(client.get_client_final().encode()))
    code, payload = m.parse_auth(_read_message(sock, reader, queue))
    assert code == 12
    client.set_server_final(payload.decode())
    while _read_message(sock, reader, queue)[0] != ord("Z"):
        pass
    assert not queue
    return sock


def send_and_drain(sock: socket.socket, payload: bytes) -> bytes:
    """Send, half-close, and read until the gateway closes; a hang fails."""
    received = b""
    try:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        while True:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                pytest.fail(f"no close within {BOUND_S}s after {payload[:80]!r}")
            if not data:
                break
            received += data
    except (ConnectionResetError, BrokenPipeError):
        pass  # an abrupt close is still a close
    finally:
        sock.close()
    return received


def frames(data: bytes) -> list[bytes]:
    """Whole backend messages, and nothing cut in half."""
    reader = m.MessageReader()
    msgs = [msg for _, msg in reader.feed(data)]
    assert reader.pending == 0, f"a partial message reached the client: {data[-40:]!r}"
    return msgs


def errors(msgs: list[bytes]) -> list[dict[str, str]]:
    return [m.parse_fields(msg) for msg in msgs if msg[0] == ord("E")]


def check_alive(
    gw: GatewayThread, witness: psycopg.Connection, before: set[asyncio.Task[None]]
) -> None:
    running, live = _settle(gw, before)
    assert running == 0, "a session handler is still running after its client left"
    assert live == 1, "only the witness should be live"
    assert witness.execute("SELECT 'alive'").fetchone() == ("alive",)


# --- (a) before / instead of the startup packet ---------------------------------------


def expect_before_startup(data: bytes) -> tuple[bytes, str | None]:
    """What the gateway must answer: (single-byte replies, then None | SQLSTATE | kind)."""
    prefix = b""
    while True:
        if len(data) < 4:
            return prefix, None
        (length,) = struct.unpack_from("!i", data)
        if length < 8 or length > m.MAX_STARTUP_BYTES:
            return prefix, "08P01"
        if len(data) < length:
            return prefix, None
        try:
            packet = m.parse_startup(data[:length])
        except m.ProtocolError as exc:
            return prefix, exc.sqlstate
        if isinstance(packet, m.SslRequest):
            return prefix + b"S", "tls"
        if isinstance(packet, m.GssEncRequest):
            prefix += b"N"
            data = data[length:]
            continue
        if isinstance(packet, m.CancelRequest):
            return prefix, None
        return prefix, "startup"


params = st.dictionaries(
    st.sampled_from(["user", "database", "options", "application_name", "replication", "x"]),
    st.sampled_from(["alice", "main", "-c role=postgres", "-c a", "true", "", "mallory"]),
    max_size=4,
)


@st.composite
def startup_streams(draw: st.DrawFn) -> bytes:
    base = draw(
        st.one_of(
            st.binary(max_size=300),
            params.map(m.startup_message),
            st.just(m.ssl_request()),
            st.just(struct.pack("!ii", 8, m.GSSENC_REQUEST_CODE)),
            st.builds(m.cancel_request, st.integers(0, 2**31 - 1), st.integers(0, 2**31 - 1)),
        )
    )
    mutation = draw(st.sampled_from(["none", "truncate", "flip", "length", "version", "gss"]))
    data = bytearray(base)
    if mutation == "truncate" and data:
        del data[draw(st.integers(0, len(data) - 1)) :]
    elif mutation == "flip" and data:
        data[draw(st.integers(0, len(data) - 1))] ^= 1 << draw(st.integers(0, 7))
    elif mutation == "length" and len(data) >= 4:
        data[:4] = struct.pack("!i", draw(st.integers(-(2**31), 2**31 - 1)))
    elif mutation == "version" and len(data) >= 8:
        data[4:8] = struct.pack("!i", draw(st.integers(-(2**31), 2**31 - 1)))
    elif mutation == "gss":
        data[:0] = struct.pack("!ii", 8, m.GSSENC_REQUEST_CODE)
    return bytes(data) + draw(st.binary(max_size=20))


@FUZZ
@given(startup_streams())
def test_malformed_before_startup(
    gw: GatewayThread, witness: psycopg.Connection, stream: bytes
) -> None:
    before = _handlers(gw)
    sock = socket.create_connection(("127.0.0.1", gw.port), timeout=BOUND_S)
    received = send_and_drain(sock, stream)
    prefix, expect = expect_before_startup(stream)
    event(f"expect {expect}")
    assert received.startswith(prefix), (received, prefix)
    rest = received[len(prefix) :]
    if expect is None or expect == "tls":
        assert rest == b""
    elif expect == "startup":
        msgs = frames(rest)
        assert msgs, "a startup packet got no answer"
        assert msgs[0][0] in (ord("R"), ord("E"))
        for fields in errors(msgs):
            assert fields["S"] == "FATAL" and fields["C"] and fields["M"]
    else:
        msgs = frames(rest)
        assert [f["C"] for f in errors(msgs)] == [expect] and len(msgs) == 1
        assert errors(msgs)[0]["S"] == "FATAL"
    check_alive(gw, witness, before)


# --- (b) after a successful login -----------------------------------------------------

FRONTEND_TYPES = b"BCdcfDEHFPpQSX"
HARMLESS, FRAME, DECODE, OTHER, LAST = "harmless", "frame", "decode", "other", "last"


def _raw(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


sql_text = st.sampled_from(["SELECT 1", "SELEC oops", "SELECT 'é'", "BEGIN", "ROLLBACK", ""])
parts = st.one_of(
    sql_text.map(lambda s: (m.query(s), HARMLESS)),
    st.sampled_from([(m.message(b"S"), HARMLESS), (m.message(b"H"), HARMLESS)]),
    sql_text.map(lambda s: (m.parse("", s) + m.bind_unnamed() + m.execute_unnamed(), HARMLESS)),
    # bad lengths: negative, below the header, above max_message_bytes
    st.tuples(
        st.sampled_from(list(FRONTEND_TYPES)),
        st.one_of(st.integers(-(2**31), 3), st.integers(MAX_MESSAGE + 1, 2**31 - 1)),
    ).map(lambda t: (bytes([t[0]]) + struct.pack("!i", t[1]), FRAME)),
    # checked / inspected messages whose body is cut short (framing intact)
    st.sampled_from(
        [b"", b"name", b"name\0SELECT 1", b"name\0SELECT 1\0", b"name\0SELECT 1\0\0"]
    ).map(lambda b: (_raw(b"P", b), DECODE)),
    st.sampled_from([b"", b"portal", b"portal\0stmt"]).map(lambda b: (_raw(b"B", b), DECODE)),
    st.binary(max_size=40).filter(lambda b: b"\0" not in b).map(lambda b: (_raw(b"Q", b), DECODE)),
    # unknown types, fastpath calls, Execute/Close/Describe with junk: the server's business
    st.tuples(
        st.integers(0, 255).filter(lambda k: k not in FRONTEND_TYPES), st.binary(max_size=40)
    ).map(lambda t: (_raw(bytes([t[0]]), t[1]), OTHER)),
    st.tuples(st.sampled_from([b"F", b"E", b"C", b"D", b"d", b"f"]), st.binary(max_size=40)).map(
        lambda t: (_raw(*t), OTHER)
    ),
    # a huge but allowed declared size with a short body: the gateway waits, then EOF
    st.integers(100, MAX_MESSAGE).map(lambda n: (b"Q" + struct.pack("!i", n) + b"SELECT", LAST)),
    st.binary(min_size=1, max_size=60).map(lambda b: (b, LAST)),
    st.just((m.terminate(), LAST)),
)


def expect_after_login(stream_parts: list[tuple[bytes, str]]) -> str:
    """AIRLOCK when the gateway itself must refuse with an ErrorResponse, else CLOSE."""
    for _, kind in stream_parts:
        if kind == HARMLESS:
            continue
        return "airlock" if kind in (FRAME, DECODE) else "close"
    return "close"


@FUZZ
@given(st.lists(parts, min_size=1, max_size=6))
def test_malformed_after_login(
    gw: GatewayThread, witness: psycopg.Connection, stream_parts: list[tuple[bytes, str]]
) -> None:
    before = _handlers(gw)
    sock = login(gw.port)
    received = send_and_drain(sock, b"".join(p for p, _ in stream_parts))
    msgs = frames(received)
    for fields in errors(msgs):
        assert fields["C"] and fields["M"]
    expect = expect_after_login(stream_parts)
    event(f"expect {expect}")
    if expect == "airlock":
        mine = [f for f in errors(msgs) if f["M"].startswith("airlock:")]
        assert mine, f"no airlock ErrorResponse in {msgs!r}"
        assert mine[-1]["S"] == "FATAL" and mine[-1]["C"] in ("08P01", "54000")
    check_alive(gw, witness, before)


# --- examples that must behave exactly so ----------------------------------------------


@pytest.mark.parametrize(
    ("payload", "sqlstate", "text"),
    [
        (b"Q" + struct.pack("!i", 2**31 - 1), "54000", "exceeds the limit"),
        (_raw(b"P", b"stmt\0SELECT 1"), "08P01", "missing string terminator"),
        (_raw(b"P", b"\0SELECT 1\0"), "08P01", "truncated Parse"),
        (_raw(b"B", b"portal"), "08P01", "missing string terminator"),
        (m.query("SELECT 1") + _raw(b"Q", b"SELECT 2"), "08P01", "missing string terminator"),
    ],
)
def test_specific_refusals_after_login(
    gw: GatewayThread, witness: psycopg.Connection, payload: bytes, sqlstate: str, text: str
) -> None:
    before = _handlers(gw)
    sock = login(gw.port)
    sock.sendall(payload)  # no half-close: the gateway must end the session by itself
    received = b""
    while data := sock.recv(65536):
        received += data
    sock.close()
    mine = [f for f in errors(frames(received)) if f["M"].startswith("airlock:")]
    assert len(mine) == 1 and mine[0]["C"] == sqlstate and text in mine[0]["M"]
    assert mine[0]["S"] == "FATAL"
    check_alive(gw, witness, before)


def test_negative_length_is_a_protocol_violation(
    gw: GatewayThread, witness: psycopg.Connection
) -> None:
    sock = login(gw.port)
    sock.sendall(b"Q" + struct.pack("!i", -1))
    received = b""
    while data := sock.recv(65536):
        received += data
    sock.close()
    (fields,) = errors(frames(received))
    assert fields["C"] == "08P01"


def test_gateway_still_accepts_after_the_fuzz(
    gw: GatewayThread, witness: psycopg.Connection
) -> None:
    assert gw.thread.is_alive()
    assert gw.app.postgres is not None and gw.app.postgres.server is not None
    assert gw.app.postgres.server.is_serving()
    with psycopg.connect(gw.dsn("alice"), autocommit=True) as conn:
        assert conn.execute("SELECT 40 + 2").fetchone() == (42,)
    assert witness.execute("SELECT 'still here'").fetchone() == ("still here",)
