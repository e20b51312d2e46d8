"""Property tests: decoders raise only ProtocolError on any bytes, and framing is recovered
whatever the chunking."""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.pgwire import messages as m
from protocols.pgwire.auth import AuthFailed, ScramKeys, ScramServerExchange

DECODERS: list[Callable[[bytes], Any]] = [
    m.query_text,
    m.parse_parse,
    m.parse_bind_names,
    m.parse_target_name,
    m.parse_execute_portal,
    m.parse_parameter_status,
    m.parse_backend_key,
    m.parse_fields,
    m.parse_auth,
    m.parse_password,
    m.parse_sasl_initial,
    m.parse_row_description,
    m.parse_data_row,
    m.command_tag,
]

kinds = st.sampled_from(b"QPBEDCSHXFpdcfRKZNTDI123")
bodies = st.binary(max_size=64)
valid_messages = st.builds(lambda k, b: m.message(bytes([k]), b), kinds, bodies)


@given(st.binary(max_size=256), st.integers(min_value=4, max_value=1 << 20))
def test_reader_raises_only_protocol_error(data: bytes, max_size: int) -> None:
    reader = m.MessageReader(max_size)
    try:
        got = reader.feed(data)
    except m.ProtocolError:
        return
    assert b"".join(msg for _, msg in got) + data[len(data) - reader.pending :] == data


@given(st.binary(max_size=256))
def test_parse_startup_raises_only_protocol_error(data: bytes) -> None:
    with contextlib.suppress(m.ProtocolError):
        m.parse_startup(data)


@given(st.binary(max_size=4).filter(lambda b: len(b) == 4))
def test_startup_length_raises_only_protocol_error(header: bytes) -> None:
    with contextlib.suppress(m.ProtocolError):
        assert 8 <= m.startup_length(header) <= m.MAX_STARTUP_BYTES


@given(st.sampled_from(DECODERS), kinds, bodies)
def test_decoders_raise_only_protocol_error(
    decode: Callable[[bytes], Any], kind: int, body: bytes
) -> None:
    with contextlib.suppress(m.ProtocolError):
        decode(m.message(bytes([kind]), body))


@given(
    st.lists(valid_messages, max_size=12),
    st.lists(st.integers(min_value=1, max_value=40), max_size=30),
)
def test_framing_survives_any_chunking(msgs: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(msgs)
    reader = m.MessageReader()
    got: list[bytes] = []
    pos = 0
    for size in cuts:
        got.extend(msg for _, msg in reader.feed(stream[pos : pos + size]))
        pos += size
    got.extend(msg for _, msg in reader.feed(stream[pos:]))
    assert got == msgs
    assert reader.pending == 0


@given(st.lists(valid_messages, min_size=1, max_size=5), st.integers(min_value=1))
def test_a_truncated_last_message_stays_pending(msgs: list[bytes], cut: int) -> None:
    stream = b"".join(msgs)
    cut = 1 + cut % len(msgs[-1])  # drop 1..len bytes of the last message
    truncated = stream[: len(stream) - cut]
    reader = m.MessageReader()
    got = [msg for _, msg in reader.feed(truncated)]
    assert got == msgs[:-1]
    assert reader.pending == len(msgs[-1]) - cut


@given(
    st.dictionaries(
        st.text(st.characters(blacklist_characters="\0", blacklist_categories=["Cs"]), min_size=1),
        st.text(st.characters(blacklist_characters="\0", blacklist_categories=["Cs"])),
        max_size=6,
    )
)
def test_startup_message_round_trips(params: dict[str, str]) -> None:
    packet = m.startup_message(params)
    if len(packet) <= m.MAX_STARTUP_BYTES:
        assert m.startup_length(packet[:4]) == len(packet)
    assert m.parse_startup(packet) == m.StartupMessage(m.PROTOCOL_3_0, params)


@given(st.integers(-(2**31), 2**31 - 1), st.integers(-(2**31), 2**31 - 1))
def test_cancel_and_backend_key_round_trip(pid: int, secret: int) -> None:
    assert m.parse_startup(m.cancel_request(pid, secret)) == m.CancelRequest(pid, secret)
    assert m.parse_backend_key(m.backend_key_data(pid, secret)) == (pid, secret)


_KEYS = ScramKeys(b"s" * 16, b"k" * 32, b"v" * 32, 4096)


@settings(max_examples=200)
@given(st.binary(max_size=120), st.binary(max_size=160))
def test_scram_server_raises_only_protocol_error_or_auth_failed(first: bytes, final: bytes) -> None:
    exchange = ScramServerExchange([_KEYS], "srv")
    try:
        exchange.server_first("SCRAM-SHA-256", first)
        exchange.server_final(final)
    except (m.ProtocolError, AuthFailed):
        pass
    assert exchange.matched is None


@given(st.from_regex(rb"\A[ny],,n=[a-z]*,r=[A-Za-z0-9]{1,8}\Z"), st.binary(max_size=80))
def test_scram_server_structured_garbage(first: bytes, tail: bytes) -> None:
    exchange = ScramServerExchange([_KEYS], "srv")
    exchange.server_first("SCRAM-SHA-256", first)
    for final in (tail, b"c=biws,r=" + tail, b"c=biws,r=x,p=" + tail):
        with contextlib.suppress(m.ProtocolError, AuthFailed):
            exchange.server_final(final)
    assert exchange.matched is None


def test_properties_use_real_lengths() -> None:
    """Sanity for the strategies above: message() frames as the reader expects."""
    msg = m.message(b"Q", b"x")
    assert struct.unpack("!i", msg[1:5])[0] == len(msg) - 1
