"""MessageReader framing and startup-phase packets (protocols/pgwire/messages.py)."""

from __future__ import annotations

import struct

import pytest

from protocols.pgwire import messages as m

STREAM = (
    m.query("SELECT 1")
    + m.parse("s1", "SELECT $1")
    + m.bind_unnamed()
    + m.execute_unnamed()
    + m.message(b"S")
    + m.message(b"H")
    + m.terminate()
)
EXPECTED = [
    m.query("SELECT 1"),
    m.parse("s1", "SELECT $1"),
    m.bind_unnamed(),
    m.execute_unnamed(),
    m.message(b"S"),
    m.message(b"H"),
    m.terminate(),
]


def _feed_all(reader: m.MessageReader, chunks: list[bytes]) -> list[bytes]:
    out: list[bytes] = []
    for chunk in chunks:
        out.extend(msg for _, msg in reader.feed(chunk))
    return out


# --- MessageReader -------------------------------------------------------------------


def test_one_read_many_messages_with_types() -> None:
    got = m.MessageReader().feed(STREAM)
    assert [msg for _, msg in got] == EXPECTED
    assert [kind for kind, _ in got] == [msg[0] for msg in EXPECTED]
    assert b"".join(msg for _, msg in got) == STREAM  # exact bytes, nothing re-generated


@pytest.mark.parametrize("cut", range(len(STREAM) + 1))
def test_split_at_every_byte_boundary(cut: int) -> None:
    reader = m.MessageReader()
    assert _feed_all(reader, [STREAM[:cut], STREAM[cut:]]) == EXPECTED
    assert reader.pending == 0


def test_byte_by_byte() -> None:
    reader = m.MessageReader()
    assert _feed_all(reader, [bytes([b]) for b in STREAM]) == EXPECTED
    assert reader.pending == 0


def test_partial_tail_is_kept_until_completed() -> None:
    reader = m.MessageReader()
    msg = m.query("SELECT 42")
    assert reader.feed(msg[:3]) == []  # not even a header yet
    assert reader.pending == 3
    assert reader.feed(msg[3:7]) == []  # header known, body missing
    assert reader.pending == 7
    assert reader.feed(msg[7:] + m.message(b"S")[:2]) == [(ord("Q"), msg)]
    assert reader.pending == 2
    assert reader.feed(m.message(b"S")[2:]) == [(ord("S"), m.message(b"S"))]
    assert reader.pending == 0


def test_empty_feed() -> None:
    reader = m.MessageReader()
    assert reader.feed(b"") == []
    assert reader.pending == 0


def test_minimum_length_message() -> None:
    assert m.MessageReader().feed(b"S\0\0\0\x04") == [(ord("S"), b"S\0\0\0\x04")]


@pytest.mark.parametrize("length", [-1, -(2**31), 0, 3])
def test_too_small_or_negative_length_raises(length: int) -> None:
    with pytest.raises(m.ProtocolError) as info:
        m.MessageReader().feed(b"Q" + struct.pack("!i", length))
    assert info.value.sqlstate == "08P01"
    assert "invalid message length" in str(info.value)


def test_oversized_length_raises_before_the_body_arrives() -> None:
    reader = m.MessageReader(max_size=100)
    assert reader.feed(b"Q" + struct.pack("!i", 100) + b"x" * 96) == [
        (ord("Q"), b"Q" + struct.pack("!i", 100) + b"x" * 96)
    ]
    with pytest.raises(m.ProtocolError, match="limit of 100 bytes") as info:
        reader.feed(b"Q" + struct.pack("!i", 101))
    assert info.value.sqlstate == "54000"


def test_bad_length_after_good_messages_raises() -> None:
    reader = m.MessageReader()
    with pytest.raises(m.ProtocolError):
        reader.feed(m.message(b"S") + b"Q" + struct.pack("!i", -5))


def test_default_max_size() -> None:
    assert m.MessageReader().max_size == 64 * 1024 * 1024


# --- startup_length / parse_startup -------------------------------------------------


@pytest.mark.parametrize("length", [8, 100, m.MAX_STARTUP_BYTES])
def test_startup_length_accepts(length: int) -> None:
    assert m.startup_length(struct.pack("!i", length)) == length


@pytest.mark.parametrize("length", [-1, 0, 7, m.MAX_STARTUP_BYTES + 1, 2**31 - 1])
def test_startup_length_rejects(length: int) -> None:
    with pytest.raises(m.ProtocolError, match="invalid startup packet length"):
        m.startup_length(struct.pack("!i", length))


def test_ssl_request() -> None:
    assert m.parse_startup(m.ssl_request()) == m.SslRequest()


def test_gssenc_request() -> None:
    assert m.parse_startup(struct.pack("!ii", 8, m.GSSENC_REQUEST_CODE)) == m.GssEncRequest()


def test_cancel_request_round_trip() -> None:
    assert m.parse_startup(m.cancel_request(1234, -5)) == m.CancelRequest(1234, -5)


def test_startup_message_round_trip() -> None:
    params = {"user": "alice", "database": "main", "options": "-c a=b", "x": ""}
    packet = m.startup_message(params)
    assert m.startup_length(packet[:4]) == len(packet)
    assert m.parse_startup(packet) == m.StartupMessage(m.PROTOCOL_3_0, params)


def test_startup_message_utf8_params() -> None:
    packet = m.startup_message({"user": "zoë", "application_name": "日本"})
    assert m.parse_startup(packet) == m.StartupMessage(
        m.PROTOCOL_3_0, {"user": "zoë", "application_name": "日本"}
    )


def test_startup_with_no_params() -> None:
    assert m.parse_startup(m.startup_message({})) == m.StartupMessage(m.PROTOCOL_3_0, {})


def test_startup_minor_version_is_kept() -> None:
    body = struct.pack("!i", (3 << 16) | 2) + b"user\0a\0\0"
    packet = struct.pack("!i", len(body) + 4) + body
    assert m.parse_startup(packet) == m.StartupMessage((3 << 16) | 2, {"user": "a"})


@pytest.mark.parametrize("packet", [b"", b"\0\0\0\x08", b"\0\0\0\x08\0\x03\0"])
def test_too_short(packet: bytes) -> None:
    with pytest.raises(m.ProtocolError, match="too short"):
        m.parse_startup(packet)


@pytest.mark.parametrize(
    ("version", "shown"),
    [(2 << 16, "2.0"), (4 << 16, "4.0"), (1234 << 16 | 1, "1234.1"), (0, "0.0")],
)
def test_unsupported_versions(version: int, shown: str) -> None:
    body = struct.pack("!i", version) + b"user\0a\0\0"
    with pytest.raises(m.ProtocolError) as info:
        m.parse_startup(struct.pack("!i", len(body) + 4) + body)
    assert info.value.sqlstate == "0A000"
    assert f"unsupported frontend protocol {shown}" in str(info.value)


@pytest.mark.parametrize("code", [m.SSL_REQUEST_CODE, m.GSSENC_REQUEST_CODE, m.CANCEL_REQUEST_CODE])
def test_special_codes_with_wrong_length_are_unsupported_versions(code: int) -> None:
    packet = struct.pack("!iii", 12, code, 0)
    with pytest.raises(m.ProtocolError) as info:
        m.parse_startup(packet)
    assert info.value.sqlstate == "0A000"


def _startup(body: bytes) -> bytes:
    full = struct.pack("!i", m.PROTOCOL_3_0) + body
    return struct.pack("!i", len(full) + 4) + full


@pytest.mark.parametrize(
    "body",
    [
        b"",  # no terminator at all
        b"user",  # no NUL
        b"user\0alice",  # value not terminated
        b"user\0alice\0",  # list not terminated
        b"user\0alice\0junk",  # junk after the last pair
    ],
)
def test_missing_nuls(body: bytes) -> None:
    with pytest.raises(m.ProtocolError, match="not NUL-terminated"):
        m.parse_startup(_startup(body))


def test_parameter_without_value() -> None:
    with pytest.raises(m.ProtocolError, match="without a value"):
        m.parse_startup(_startup(b"user\0\0"))


def test_empty_value_is_fine() -> None:
    assert m.parse_startup(_startup(b"user\0\0\0")) == m.StartupMessage(
        m.PROTOCOL_3_0, {"user": ""}
    )


def test_duplicate_parameter_last_wins() -> None:
    parsed = m.parse_startup(_startup(b"user\0a\0user\0b\0\0"))
    assert parsed == m.StartupMessage(m.PROTOCOL_3_0, {"user": "b"})


@pytest.mark.parametrize("body", [b"user\0\xff\0\0", b"\xc3\0a\0\0"])
def test_non_utf8_params(body: bytes) -> None:
    with pytest.raises(m.ProtocolError, match="UTF-8") as info:
        m.parse_startup(_startup(body))
    assert info.value.sqlstate == "08P01"
