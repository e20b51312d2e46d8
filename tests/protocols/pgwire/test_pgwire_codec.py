"""Decoders and builders of protocols/pgwire/messages.py: exact bytes (from the PostgreSQL
docs' "Message Formats") and round trips through the decoders."""

from __future__ import annotations

import struct

import pytest

from protocols.pgwire import messages as m


def _i32(n: int) -> bytes:
    return struct.pack("!i", n)


# --- builders: exact bytes -----------------------------------------------------------


def test_message_header() -> None:
    assert m.message(b"S") == b"S\0\0\0\x04"
    assert m.message(b"Q", b"ab") == b"Q\0\0\0\x06ab"


def test_simple_builders_exact_bytes() -> None:
    assert m.auth_ok() == b"R" + _i32(8) + _i32(0)
    assert m.auth_cleartext() == b"R" + _i32(8) + _i32(3)
    assert m.auth_sasl(["SCRAM-SHA-256"]) == b"R" + _i32(23) + _i32(10) + b"SCRAM-SHA-256\0\0"
    assert m.auth_sasl_continue(b"r=x") == b"R" + _i32(11) + _i32(11) + b"r=x"
    assert m.auth_sasl_final(b"v=y") == b"R" + _i32(11) + _i32(12) + b"v=y"
    assert m.backend_key_data(7, -2) == b"K" + _i32(12) + _i32(7) + _i32(-2)
    assert m.ready_for_query(m.TxStatus.IN_TRANSACTION) == b"Z\0\0\0\x05T"
    assert m.ssl_request() == _i32(8) + _i32(80877103)
    assert m.cancel_request(1, 2) == _i32(16) + _i32(80877102) + _i32(1) + _i32(2)
    assert m.password_message(b"pw\0") == b"p\0\0\0\x07pw\0"
    assert m.sasl_initial_response("M", b"abc") == b"p" + _i32(13) + b"M\0" + _i32(3) + b"abc"
    assert m.query("SELECT 1") == b"Q" + _i32(13) + b"SELECT 1\0"
    assert m.query(b"\xff") == b"Q" + _i32(6) + b"\xff\0"
    assert m.parse("s", "x") == b"P" + _i32(10) + b"s\0x\0\0\0"
    assert m.parse("", b"y") == b"P" + _i32(9) + b"\0y\0\0\0"
    assert m.bind_unnamed() == b"B" + _i32(12) + b"\0" * 8
    assert m.execute_unnamed() == b"E" + _i32(9) + b"\0" + _i32(0)
    assert m.terminate() == b"X\0\0\0\x04"
    assert m.startup_message({"user": "u"}) == _i32(16) + _i32(196608) + b"user\0u\0\0"


def test_tx_status_values() -> None:
    assert (m.TxStatus.IDLE, m.TxStatus.IN_TRANSACTION, m.TxStatus.FAILED) == (73, 84, 69)


# --- builders through decoders --------------------------------------------------------


def test_error_response_round_trip() -> None:
    msg = m.error_response("42501", "denied", "FATAL", detail="why", hint="ask")
    assert msg[0] == ord("E")
    assert m.parse_fields(msg) == {
        "S": "FATAL",
        "V": "FATAL",
        "C": "42501",
        "M": "denied",
        "D": "why",
        "H": "ask",
    }
    assert m.MessageReader().feed(msg) == [(ord("E"), msg)]


def test_error_response_defaults_omit_detail_and_hint() -> None:
    fields = m.parse_fields(m.error_response("08P01", "bad"))
    assert fields == {"S": "ERROR", "V": "ERROR", "C": "08P01", "M": "bad"}


def test_error_response_unencodable_text_is_replaced_not_raised() -> None:
    fields = m.parse_fields(m.error_response("08P01", "a\udcffb"))
    assert fields["M"] == "a?b"


def test_notice_response_round_trip() -> None:
    msg = m.notice_response("held", detail="request 1")
    assert msg[0] == ord("N")
    assert m.parse_fields(msg) == {
        "S": "NOTICE",
        "V": "NOTICE",
        "C": "00000",
        "M": "held",
        "D": "request 1",
    }
    assert "D" not in m.parse_fields(m.notice_response("x", sqlstate="01000"))
    assert m.parse_fields(m.notice_response("x", sqlstate="01000"))["C"] == "01000"


def test_query_text() -> None:
    assert m.query_text(m.query("SELECT 'é'")) == "SELECT 'é'".encode()
    # The server reads up to the first NUL; so does the decoder.
    assert m.query_text(m.message(b"Q", b"SELECT 1\0DROP TABLE t\0")) == b"SELECT 1"
    with pytest.raises(m.ProtocolError, match="terminator"):
        m.query_text(m.message(b"Q", b"SELECT 1"))


def test_parse_round_trip_and_param_count() -> None:
    assert m.parse_parse(m.parse("stmt", "SELECT $1")) == m.Parse("stmt", b"SELECT $1", 0)
    body = b"s\0SELECT $1, $2\0" + struct.pack("!h", 2) + _i32(23) + _i32(25)
    assert m.parse_parse(m.message(b"P", body)) == m.Parse("s", b"SELECT $1, $2", 2)


def test_parse_non_utf8_name_is_kept_not_raised() -> None:
    parsed = m.parse_parse(m.message(b"P", b"\xff\0q\0\0\0"))
    assert parsed.name == "\udcff" and parsed.query == b"q"


@pytest.mark.parametrize(
    "body",
    [
        b"",  # nothing
        b"name",  # name unterminated
        b"name\0SELECT",  # query unterminated
        b"name\0SELECT\0",  # no parameter count
        b"name\0SELECT\0\0",  # half a parameter count
    ],
)
def test_truncated_parse(body: bytes) -> None:
    with pytest.raises(m.ProtocolError):
        m.parse_parse(m.message(b"P", body))


def test_bind_names() -> None:
    assert m.parse_bind_names(m.bind_unnamed()) == ("", "")
    assert m.parse_bind_names(m.message(b"B", b"p1\0s1\0\0\0\0\0\0\0")) == ("p1", "s1")
    for body in (b"", b"portal", b"portal\0stmt"):
        with pytest.raises(m.ProtocolError):
            m.parse_bind_names(m.message(b"B", body))


def test_target_name() -> None:
    assert m.parse_target_name(m.message(b"D", b"Sstmt\0")) == (ord("S"), "stmt")
    assert m.parse_target_name(m.message(b"C", b"P\0")) == (ord("P"), "")
    with pytest.raises(m.ProtocolError, match="truncated"):
        m.parse_target_name(m.message(b"D"))
    with pytest.raises(m.ProtocolError, match="terminator"):
        m.parse_target_name(m.message(b"D", b"Sname"))


def test_execute_portal() -> None:
    assert m.parse_execute_portal(m.execute_unnamed()) == ""
    assert m.parse_execute_portal(m.message(b"E", b"p\0" + _i32(10))) == "p"
    with pytest.raises(m.ProtocolError):
        m.parse_execute_portal(m.message(b"E"))


def test_parameter_status() -> None:
    msg = m.message(b"S", b"client_encoding\0UTF8\0")
    assert m.parse_parameter_status(msg) == ("client_encoding", "UTF8")
    with pytest.raises(m.ProtocolError):
        m.parse_parameter_status(m.message(b"S", b"client_encoding\0UTF8"))


def test_backend_key() -> None:
    assert m.parse_backend_key(m.backend_key_data(4242, -1)) == (4242, -1)
    with pytest.raises(m.ProtocolError, match="unexpected length"):
        m.parse_backend_key(m.message(b"K", b"\0" * 7))
    with pytest.raises(m.ProtocolError):  # protocol 3.2's longer keys are not ours
        m.parse_backend_key(m.message(b"K", b"\0" * 36))


def test_fields_edge_cases() -> None:
    assert m.parse_fields(m.message(b"E", b"\0")) == {}
    assert m.parse_fields(m.message(b"E")) == {}  # no terminator at all: nothing to read
    assert m.parse_fields(m.message(b"E", b"Mx\0Cy\0")) == {"M": "x", "C": "y"}  # no final NUL
    with pytest.raises(m.ProtocolError):
        m.parse_fields(m.message(b"E", b"Mx"))


def test_auth() -> None:
    assert m.parse_auth(m.auth_ok()) == (0, b"")
    assert m.parse_auth(m.auth_sasl(["A", "B"])) == (10, b"A\0B\0\0")
    assert m.parse_auth(m.message(b"R", _i32(5) + b"salt")) == (5, b"salt")
    with pytest.raises(m.ProtocolError, match="truncated"):
        m.parse_auth(m.message(b"R", b"\0\0\0"))


def test_password() -> None:
    assert m.parse_password(m.password_message(b"secret\0")) == b"secret\0"
    assert m.parse_password(m.message(b"p")) == b""


def test_sasl_initial() -> None:
    msg = m.sasl_initial_response("SCRAM-SHA-256", b"n,,n=,r=abc")
    assert m.parse_sasl_initial(msg) == ("SCRAM-SHA-256", b"n,,n=,r=abc")
    no_data = m.message(b"p", b"SCRAM-SHA-256\0" + _i32(-1))
    assert m.parse_sasl_initial(no_data) == ("SCRAM-SHA-256", b"")
    with pytest.raises(m.ProtocolError, match="truncated"):
        m.parse_sasl_initial(m.message(b"p", b"SCRAM-SHA-256\0\0\0"))
    with pytest.raises(m.ProtocolError, match="mismatch"):
        m.parse_sasl_initial(m.message(b"p", b"M\0" + _i32(5) + b"abc"))
    with pytest.raises(m.ProtocolError, match="terminator"):
        m.parse_sasl_initial(m.message(b"p", b"SCRAM"))


def test_command_tag() -> None:
    assert m.command_tag(m.message(b"C", b"INSERT 0 3\0")) == "INSERT 0 3"
    with pytest.raises(m.ProtocolError):
        m.command_tag(m.message(b"C", b"SELECT"))


def test_protocol_error_default_and_custom_sqlstate() -> None:
    assert m.ProtocolError("x").sqlstate == "08P01"
    assert m.ProtocolError("x", "0A000").sqlstate == "0A000"


def _field(name: bytes) -> bytes:
    return name + b"\0" + struct.pack("!ihihih", 16384, 1, 23, 4, -1, 0)


def test_row_description() -> None:
    body = struct.pack("!h", 2) + _field(b"id") + _field("naïve".encode())
    assert m.parse_row_description(m.message(b"T", body)) == ["id", "naïve"]
    assert m.parse_row_description(m.message(b"T", b"\0\0")) == []


@pytest.mark.parametrize(
    "body",
    [
        b"",  # no count
        b"\0",  # half a count
        struct.pack("!h", 1),  # a field promised, none sent
        struct.pack("!h", 1) + b"id",  # name unterminated
        struct.pack("!h", 1) + _field(b"id")[:-1],  # field attributes cut short
        struct.pack("!h", 2) + _field(b"id"),  # second field missing
    ],
)
def test_truncated_row_description(body: bytes) -> None:
    with pytest.raises(m.ProtocolError):
        m.parse_row_description(m.message(b"T", body))


def test_data_row() -> None:
    body = struct.pack("!h", 3) + _i32(2) + b"42" + _i32(-1) + _i32(0)
    assert m.parse_data_row(m.message(b"D", body)) == [b"42", None, b""]
    assert m.parse_data_row(m.message(b"D", b"\0\0")) == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\0",
        struct.pack("!h", 1),  # a value promised, none sent
        struct.pack("!h", 1) + b"\0\0",  # half a length
        struct.pack("!h", 1) + _i32(5) + b"abc",  # value shorter than its length
        struct.pack("!h", 2) + _i32(1) + b"a",  # second value missing
    ],
)
def test_truncated_data_row(body: bytes) -> None:
    with pytest.raises(m.ProtocolError):
        m.parse_data_row(m.message(b"D", body))
