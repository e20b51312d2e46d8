"""Local port forwarding (direct-tcpip, ``ssh -L`` / ``-W``), only where policy allows it.

A tunnel carries bytes the gateway cannot classify, so every forward is an action of kind
``forward`` with category ``forwarding`` and object ``host:HOST:PORT``; the built-in policy
reviews it (and, without an approval channel, refuses). An allowed forward is opened from
the target host, exactly as ``ssh -L`` to the target itself would. Remote forwarding, agent
and X11 forwarding are always refused (see server.py).
"""

from __future__ import annotations

import asyncssh

from gateway.model import Action, ActionKind
from gateway.ssh.connection import SshConnection
from gateway.ssh.upstream import UpstreamError
from protocols.classification import Category, Classification


def classify_forward(host: str, port: int) -> Classification:
    return Classification(
        ("direct-tcpip",),
        frozenset({Category.FORWARDING}),
        (f"host:{host}:{port}",),
        ("forwarding: a tunnel carries traffic the gateway cannot inspect",),
    )


class _Half(asyncssh.SSHTCPSession[bytes]):
    """One side of a channel-to-channel bridge; buffers until the other side exists."""

    def __init__(self) -> None:
        self.chan: asyncssh.SSHTCPChannel[bytes] | None = None
        self.peer: _Half | None = None
        self._early = bytearray()
        self._early_eof = False

    def connection_made(self, chan: asyncssh.SSHTCPChannel[bytes]) -> None:  # type: ignore[override]
        self.chan = chan
        peer = self.peer
        if peer is not None and (peer._early or peer._early_eof):
            chan.write(bytes(peer._early))
            peer._early.clear()
            if peer._early_eof:
                chan.write_eof()

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        other = self.peer.chan if self.peer else None
        if other is None:
            self._early += data
        else:
            other.write(data)

    def eof_received(self) -> bool:
        other = self.peer.chan if self.peer else None
        if other is None:
            self._early_eof = True
        else:
            other.write_eof()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None and self.peer.chan is not None:
            self.peer.chan.close()

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.chan is not None:
            self.peer.chan.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.chan is not None:
            self.peer.chan.resume_reading()


async def _no_notify(_: str) -> None:
    return None


async def open_forward(conn: SshConnection, host: str, port: int) -> _Half:
    """Decide, then bridge a client channel to a direct-tcpip channel from the target."""
    text = f"forward {host}:{port}"
    action = Action(ActionKind.FORWARD, text.encode(), text, classify_forward(host, port))
    outcome = await conn.checkpoint.decide(conn.context("", _no_notify), action)
    if not outcome.allowed:
        raise asyncssh.ChannelOpenError(
            asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, outcome.message or "airlock: refused"
        )
    try:
        upstream = await conn.upstream()
    except UpstreamError as exc:
        raise asyncssh.ChannelOpenError(asyncssh.OPEN_CONNECT_FAILED, str(exc)) from exc
    down, up = _Half(), _Half()
    down.peer, up.peer = up, down
    try:
        await upstream.create_connection(lambda: up, host, port)
    except asyncssh.ChannelOpenError as exc:
        raise asyncssh.ChannelOpenError(exc.code, f"airlock: target: {exc.reason}") from exc
    conn.record("write", "forward", host=host, port=port, allowed=True)
    return down
