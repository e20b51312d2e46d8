"""PostgreSQL v3 wire messages: framing, typed decoding of the few we inspect, and builders.

Written here rather than taken from a library: the relay must forward the exact bytes it
received and inspect only a handful of message types without copying, and no maintained
sans-IO Postgres codec offers that. The format is in the PostgreSQL docs, "Message Formats".
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

_I32 = struct.Struct("!i")
_HDR = struct.Struct("!ci")

PROTOCOL_3_0 = 196608
SSL_REQUEST_CODE = 80877103
GSSENC_REQUEST_CODE = 80877104
CANCEL_REQUEST_CODE = 80877102
MAX_STARTUP_BYTES = 10000  # the server's own limit for a startup packet


class ProtocolError(Exception):
    """Malformed or oversized input; the relay answers with an error and closes."""

    def __init__(self, message: str, sqlstate: str = "08P01") -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class TxStatus(IntEnum):
    IDLE = ord("I")
    IN_TRANSACTION = ord("T")
    FAILED = ord("E")


# --- startup-phase packets (no type byte) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class SslRequest:
    pass


@dataclass(frozen=True, slots=True)
class GssEncRequest:
    pass


@dataclass(frozen=True, slots=True)
class CancelRequest:
    pid: int
    secret: int


@dataclass(frozen=True, slots=True)
class StartupMessage:
    version: int
    params: dict[str, str]


StartupPacket = SslRequest | GssEncRequest | CancelRequest | StartupMessage


def startup_length(header: bytes) -> int:
    """Length of a startup packet from its first four bytes; validates the bound."""
    length: int = _I32.unpack(header)[0]
    if length < 8 or length > MAX_STARTUP_BYTES:
        raise ProtocolError(f"invalid startup packet length {length}")
    return length


def parse_startup(packet: bytes) -> StartupPacket:
    """Decode a whole startup-phase packet (length word included)."""
    if len(packet) < 8:
        raise ProtocolError("startup packet too short")
    (code,) = _I32.unpack_from(packet, 4)
    if code == SSL_REQUEST_CODE and len(packet) == 8:
        return SslRequest()
    if code == GSSENC_REQUEST_CODE and len(packet) == 8:
        return GssEncRequest()
    if code == CANCEL_REQUEST_CODE and len(packet) == 16:
        pid, secret = struct.unpack_from("!ii", packet, 8)
        return CancelRequest(pid, secret)
    if code >> 16 != 3:
        raise ProtocolError(
            f"unsupported frontend protocol {code >> 16}.{code & 0xFFFF}: "
            "Airlock speaks protocol 3.0",
            "0A000",
        )
    fields = packet[8:].split(b"\0")
    if len(fields) < 2 or fields[-1] != b"" or fields[-2] != b"":
        raise ProtocolError("startup packet is not NUL-terminated")
    pairs = fields[:-2]
    if len(pairs) % 2:
        raise ProtocolError("startup packet has a parameter without a value")
    try:
        params = {pairs[i].decode(): pairs[i + 1].decode() for i in range(0, len(pairs), 2)}
    except UnicodeDecodeError as exc:
        raise ProtocolError("startup parameters must be UTF-8") from exc
    return StartupMessage(code, params)


# --- framing of typed messages ---------------------------------------------------------


class MessageReader:
    """Splits a byte stream into whole typed messages; keeps the partial tail.

    ``feed`` returns (type, message) pairs where message is the whole message including
    its type byte and length, so the relay can forward exactly what it received.
    """

    __slots__ = ("_buf", "max_size")

    def __init__(self, max_size: int = 64 * 1024 * 1024) -> None:
        self._buf = b""
        self.max_size = max_size

    @property
    def pending(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        buf = self._buf + data if self._buf else data
        out: list[tuple[int, bytes]] = []
        pos = 0
        end = len(buf)
        unpack = _I32.unpack_from
        while end - pos >= 5:
            (length,) = unpack(buf, pos + 1)
            if length < 4:
                raise ProtocolError(f"invalid message length {length}", "08P01")
            if length > self.max_size:
                # What the server says for an oversized message: program_limit_exceeded.
                raise ProtocolError(
                    f"message length {length} exceeds the limit of {self.max_size} bytes",
                    "54000",
                )
            stop = pos + 1 + length
            if stop > end:
                break
            out.append((buf[pos], buf[pos:stop]))
            pos = stop
        self._buf = buf[pos:] if pos < end else b""
        return out


# --- decoders ------------------------------------------------------------------------


def _cstring(msg: bytes, pos: int) -> tuple[str, int]:
    end = msg.find(b"\0", pos)
    if end < 0:
        raise ProtocolError("missing string terminator")
    return msg[pos:end].decode("utf-8", "surrogateescape"), end + 1


def _cbytes(msg: bytes, pos: int) -> tuple[bytes, int]:
    end = msg.find(b"\0", pos)
    if end < 0:
        raise ProtocolError("missing string terminator")
    return msg[pos:end], end + 1


def query_text(msg: bytes) -> bytes:
    """The SQL bytes of a Query ('Q') message."""
    text, _ = _cbytes(msg, 5)
    return text


@dataclass(frozen=True, slots=True)
class Parse:
    name: str
    query: bytes
    param_count: int


def parse_parse(msg: bytes) -> Parse:
    name, pos = _cstring(msg, 5)
    query, pos = _cbytes(msg, pos)
    if pos + 2 > len(msg):
        raise ProtocolError("truncated Parse message")
    (count,) = struct.unpack_from("!h", msg, pos)
    return Parse(name, query, count)


def parse_bind_names(msg: bytes) -> tuple[str, str]:
    """(portal, statement) of a Bind message."""
    portal, pos = _cstring(msg, 5)
    statement, _ = _cstring(msg, pos)
    return portal, statement


def parse_target_name(msg: bytes) -> tuple[int, str]:
    """(kind, name) of a Describe or Close message: kind is ord('S') or ord('P')."""
    if len(msg) < 6:
        raise ProtocolError("truncated Describe/Close message")
    name, _ = _cstring(msg, 6)
    return msg[5], name


def parse_execute_portal(msg: bytes) -> str:
    portal, _ = _cstring(msg, 5)
    return portal


def parse_parameter_status(msg: bytes) -> tuple[str, str]:
    name, pos = _cstring(msg, 5)
    value, _ = _cstring(msg, pos)
    return name, value


def parse_backend_key(msg: bytes) -> tuple[int, int]:
    if len(msg) != 13:
        raise ProtocolError("BackendKeyData has an unexpected length")
    pid, secret = struct.unpack_from("!ii", msg, 5)
    return pid, secret


def parse_fields(msg: bytes) -> dict[str, str]:
    """ErrorResponse / NoticeResponse fields by their one-letter codes."""
    fields: dict[str, str] = {}
    pos = 5
    while pos < len(msg) and msg[pos] != 0:
        code = chr(msg[pos])
        value, pos = _cstring(msg, pos + 1)
        fields[code] = value
    return fields


def parse_auth(msg: bytes) -> tuple[int, bytes]:
    """(auth code, payload) of an Authentication* ('R') message."""
    if len(msg) < 9:
        raise ProtocolError("truncated Authentication message")
    (code,) = _I32.unpack_from(msg, 5)
    return code, msg[9:]


def parse_password(msg: bytes) -> bytes:
    """PasswordMessage / SASLResponse payload ('p')."""
    return msg[5:]


def parse_sasl_initial(msg: bytes) -> tuple[str, bytes]:
    mechanism, pos = _cstring(msg, 5)
    if pos + 4 > len(msg):
        raise ProtocolError("truncated SASLInitialResponse")
    (length,) = _I32.unpack_from(msg, pos)
    data = msg[pos + 4 :]
    if length != -1 and length != len(data):
        raise ProtocolError("SASLInitialResponse length mismatch")
    return mechanism, data


def parse_row_description(msg: bytes) -> list[str]:
    """Column names of a RowDescription ('T')."""
    if len(msg) < 7:
        raise ProtocolError("truncated RowDescription")
    (count,) = struct.unpack_from("!h", msg, 5)
    names: list[str] = []
    pos = 7
    for _ in range(count):
        name, pos = _cstring(msg, pos)
        pos += 18  # table oid, attnum, type oid, typlen, typmod, format
        if pos > len(msg):
            raise ProtocolError("truncated RowDescription")
        names.append(name)
    return names


def parse_data_row(msg: bytes) -> list[bytes | None]:
    """Column values of a DataRow ('D'), as sent (text or binary); None for NULL."""
    if len(msg) < 7:
        raise ProtocolError("truncated DataRow")
    (count,) = struct.unpack_from("!h", msg, 5)
    values: list[bytes | None] = []
    pos = 7
    for _ in range(count):
        if pos + 4 > len(msg):
            raise ProtocolError("truncated DataRow")
        (length,) = _I32.unpack_from(msg, pos)
        pos += 4
        if length < 0:
            values.append(None)
            continue
        if pos + length > len(msg):
            raise ProtocolError("truncated DataRow")
        values.append(msg[pos : pos + length])
        pos += length
    return values


def command_tag(msg: bytes) -> str:
    tag, _ = _cstring(msg, 5)
    return tag


# --- builders ------------------------------------------------------------------------


def message(kind: bytes, body: bytes = b"") -> bytes:
    return _HDR.pack(kind, len(body) + 4) + body


def _fields(fields: dict[str, str]) -> bytes:
    parts = [
        code.encode() + value.encode("utf-8", "replace") + b"\0" for code, value in fields.items()
    ]
    return b"".join(parts) + b"\0"


def error_response(
    sqlstate: str,
    text: str,
    severity: str = "ERROR",
    detail: str | None = None,
    hint: str | None = None,
) -> bytes:
    fields = {"S": severity, "V": severity, "C": sqlstate, "M": text}
    if detail:
        fields["D"] = detail
    if hint:
        fields["H"] = hint
    return message(b"E", _fields(fields))


def notice_response(
    text: str, detail: str | None = None, sqlstate: str = "00000", hint: str | None = None
) -> bytes:
    fields = {"S": "NOTICE", "V": "NOTICE", "C": sqlstate, "M": text}
    if detail:
        fields["D"] = detail
    if hint:
        fields["H"] = hint
    return message(b"N", _fields(fields))


def raw_fields(msg: bytes) -> list[tuple[int, bytes]]:
    """An ErrorResponse's / NoticeResponse's fields as (code, raw value), in order."""
    fields: list[tuple[int, bytes]] = []
    pos = 5
    while pos < len(msg) and msg[pos] != 0:
        end = msg.find(b"\0", pos + 1)
        if end < 0:
            raise ProtocolError("unterminated field in an error or notice")
        fields.append((msg[pos], msg[pos + 1 : end]))
        pos = end + 1
    return fields


def with_fields(msg: bytes, fields: list[tuple[int, bytes]]) -> bytes:
    """A message of ``msg``'s type ('E' or 'N') with exactly these fields."""
    body = b"".join(bytes([code]) + value + b"\0" for code, value in fields)
    return message(msg[:1], body + b"\0")


def negotiate_protocol_version(minor: int, unrecognized: list[str]) -> bytes:
    """NegotiateProtocolVersion ('v'): the newest minor version we speak, and the ``_pq_``
    options we did not recognise."""
    body = struct.pack("!ii", minor, len(unrecognized))
    return message(b"v", body + b"".join(o.encode() + b"\0" for o in unrecognized))


def ready_for_query(status: int) -> bytes:
    return message(b"Z", bytes([status]))


def auth_ok() -> bytes:
    return message(b"R", _I32.pack(0))


def auth_cleartext() -> bytes:
    return message(b"R", _I32.pack(3))


def auth_sasl(mechanisms: list[str]) -> bytes:
    body = b"".join(m.encode() + b"\0" for m in mechanisms) + b"\0"
    return message(b"R", _I32.pack(10) + body)


def auth_sasl_continue(data: bytes) -> bytes:
    return message(b"R", _I32.pack(11) + data)


def auth_sasl_final(data: bytes) -> bytes:
    return message(b"R", _I32.pack(12) + data)


def backend_key_data(pid: int, secret: int) -> bytes:
    return message(b"K", struct.pack("!ii", pid, secret))


def startup_message(params: dict[str, str]) -> bytes:
    body = (
        _I32.pack(PROTOCOL_3_0)
        + b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in params.items())
        + b"\0"
    )
    return _I32.pack(len(body) + 4) + body


def ssl_request() -> bytes:
    return struct.pack("!ii", 8, SSL_REQUEST_CODE)


def cancel_request(pid: int, secret: int) -> bytes:
    return struct.pack("!iiii", 16, CANCEL_REQUEST_CODE, pid, secret)


def password_message(data: bytes) -> bytes:
    return message(b"p", data)


def sasl_initial_response(mechanism: str, data: bytes) -> bytes:
    return message(b"p", mechanism.encode() + b"\0" + _I32.pack(len(data)) + data)


def query(sql: str | bytes) -> bytes:
    raw = sql.encode() if isinstance(sql, str) else sql
    return message(b"Q", raw + b"\0")


def parse(name: str, sql: str | bytes) -> bytes:
    raw = sql.encode() if isinstance(sql, str) else sql
    return message(b"P", name.encode() + b"\0" + raw + b"\0" + b"\0\0")


def bind_unnamed() -> bytes:
    """Bind of the unnamed statement to the unnamed portal, no parameters, text results."""
    return message(b"B", b"\0\0" + b"\0\0" + b"\0\0" + b"\0\0")


def execute_unnamed() -> bytes:
    return message(b"E", b"\0" + _I32.pack(0))


def terminate() -> bytes:
    return message(b"X")
