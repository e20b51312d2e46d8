"""Connect to a Postgres target with injected credentials, TLS as the target demands."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass

from gateway.config import Target
from protocols.pgwire import messages as m
from protocols.pgwire.auth import AuthFailed, UpstreamAuth


class UpstreamError(Exception):
    """The target could not be reached or refused us; the message is safe to show clients."""

    def __init__(self, message: str, sqlstate: str = "08006") -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@dataclass(slots=True)
class Upstream:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    params: list[bytes]  # ParameterStatus messages, exactly as the server sent them
    pid: int
    secret: int
    status: int  # transaction status from the first ReadyForQuery
    notices: list[bytes]


def tls_context(target: Target) -> ssl.SSLContext | None:
    if target.sslmode == "disable":
        return None
    ctx = ssl.create_default_context(cafile=str(target.sslrootcert) if target.sslrootcert else None)
    if target.sslmode == "require":
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif target.sslmode == "verify-ca":
        ctx.check_hostname = False
    return ctx


async def read_message(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    header = await reader.readexactly(5)
    length = int.from_bytes(header[1:5], "big")
    if length < 4 or length > 1 << 24:
        raise UpstreamError("upstream sent a malformed message during startup", "08P01")
    body = await reader.readexactly(length - 4)
    return header[0], header + body


async def connect(target: Target, params: dict[str, str]) -> Upstream:
    """Open, authenticate and wait for the first ReadyForQuery; everything bounded in time."""
    try:
        return await asyncio.wait_for(_connect(target, params), target.connect_timeout_s)
    except TimeoutError:
        raise UpstreamError(
            f"target {target.name!r} did not answer within {target.connect_timeout_s:g}s"
        ) from None
    except asyncio.IncompleteReadError:
        raise UpstreamError(
            f"target {target.name!r} closed the connection during startup"
        ) from None
    except OSError as exc:
        raise UpstreamError(
            f"target {target.name!r} is unreachable: {exc.strerror or exc}"
        ) from None


async def _connect(target: Target, params: dict[str, str]) -> Upstream:
    reader, writer = await asyncio.open_connection(target.host, target.port)
    try:
        ctx = tls_context(target)
        if ctx is not None:
            writer.write(m.ssl_request())
            answer = await reader.readexactly(1)
            if answer != b"S":
                raise UpstreamError(
                    f"target {target.name!r} does not offer TLS (sslmode={target.sslmode})"
                )
            try:
                await writer.start_tls(ctx, server_hostname=target.host)
            except ssl.SSLError as exc:
                raise UpstreamError(
                    f"TLS to target {target.name!r} failed: {exc.reason or exc}"
                ) from None
        startup = {"user": target.user, "database": target.database, **params}
        writer.write(m.startup_message(startup))
        auth = UpstreamAuth(target.user, target.password)
        status_msgs: list[bytes] = []
        notices: list[bytes] = []
        pid = secret = 0
        while True:
            kind, msg = await read_message(reader)
            if kind == ord("R"):
                code, payload = m.parse_auth(msg)
                try:
                    reply = auth.respond(code, payload)
                except AuthFailed as exc:
                    raise UpstreamError(
                        f"authentication to target {target.name!r} failed: {exc}"
                    ) from None
                if reply:
                    writer.write(reply)
            elif kind == ord("S"):
                status_msgs.append(msg)
            elif kind == ord("K"):
                pid, secret = m.parse_backend_key(msg)
            elif kind == ord("N"):
                notices.append(msg)
            elif kind == ord("E"):
                fields = m.parse_fields(msg)
                raise UpstreamError(
                    f"target {target.name!r} refused the connection: {fields.get('M', '?')}",
                    fields.get("C", "08006"),
                )
            elif kind == ord("Z"):
                return Upstream(reader, writer, status_msgs, pid, secret, msg[5], notices)
            else:
                raise UpstreamError(
                    f"unexpected message {chr(kind)!r} from target during startup", "08P01"
                )
    except BaseException:
        writer.close()
        raise


async def send_cancel(target: Target, pid: int, secret: int) -> None:
    """Forward a cancel to the upstream backend; best effort, like libpq's own."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(target.host, target.port), target.connect_timeout_s
        )
    except (OSError, TimeoutError):
        return
    try:
        ctx = tls_context(target)
        if ctx is not None:
            writer.write(m.ssl_request())
            if await reader.readexactly(1) != b"S":
                return
            await writer.start_tls(ctx, server_hostname=target.host)
        writer.write(m.cancel_request(pid, secret))
        await writer.drain()
        await asyncio.wait_for(reader.read(1), 5)  # the server closes when done
    except (OSError, TimeoutError, asyncio.IncompleteReadError, ssl.SSLError):
        pass
    finally:
        writer.close()
