"""The SFTP allowlist: what asyncssh may dispatch, and a server whose defaults all refuse.

asyncssh's ``SFTPServer`` is a local file server: every method it does not see overridden
acts on the filesystem of the process that runs it, which for Airlock is the gateway host
(its audit key, store and transcripts). ``lsetstat@openssh.com`` reached exactly that
default once. Invariant 8 says every request is relayed to the target or refused, so the
rule is held in two places, each enough on its own:

1. The handler. Its dispatch table holds only the requests in :data:`RELAYED_REQUESTS`;
   any other packet type or extension name (a new asyncssh release's, a v5/v6 one, one
   nobody has invented yet) is answered ``SSH_FX_OP_UNSUPPORTED`` before a server method
   runs. Its version reply advertises only relayed extensions.
2. The server base. :class:`RefusingSFTPServer` replaces every public method of asyncssh's
   ``SFTPServer`` with one that raises ``SFTPOpUnsupported``: a dispatch path that reaches
   a method the relay does not define itself refuses instead of falling to the library.

tests/gateway/ssh/test_sftp_allowlist.py enumerates asyncssh's tables and methods and fails
on anything that is in neither set.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, cast

import asyncssh
from asyncssh.constants import (
    FXP_BLOCK,
    FXP_CLOSE,
    FXP_FSETSTAT,
    FXP_FSTAT,
    FXP_LINK,
    FXP_LSTAT,
    FXP_MKDIR,
    FXP_OPEN,
    FXP_OPENDIR,
    FXP_READ,
    FXP_READDIR,
    FXP_READLINK,
    FXP_REALPATH,
    FXP_REMOVE,
    FXP_RENAME,
    FXP_RMDIR,
    FXP_SETSTAT,
    FXP_STAT,
    FXP_SYMLINK,
    FXP_UNBLOCK,
    FXP_WRITE,
)
from asyncssh.sftp import (  # the handler and its limits are not re-exported
    MAX_SFTP_PACKET_LEN,
    MAX_SFTP_READ_LEN,
    MAX_SFTP_WRITE_LEN,
    SFTPLimits,
    SFTPServerHandler,
)
from asyncssh.stream import SSHReader, SSHServerStreamSession, SSHWriter

if TYPE_CHECKING:
    from asyncssh.packet import SSHPacket

#: Requests the relay answers through the checkpoint (or, for handle I/O, under the
#: decision taken at open), by packet type or extension name.
RELAYED_REQUESTS: frozenset[int | bytes] = frozenset(
    {
        FXP_OPEN, FXP_CLOSE, FXP_READ, FXP_WRITE, FXP_LSTAT, FXP_FSTAT, FXP_SETSTAT,
        FXP_FSETSTAT, FXP_OPENDIR, FXP_READDIR, FXP_REMOVE, FXP_MKDIR, FXP_RMDIR,
        FXP_REALPATH, FXP_STAT, FXP_RENAME, FXP_READLINK, FXP_SYMLINK,
        b"posix-rename@openssh.com", b"statvfs@openssh.com", b"fstatvfs@openssh.com",
        b"hardlink@openssh.com", b"fsync@openssh.com", b"lsetstat@openssh.com",
        # Answered from the target's own limits (see _process_limits): no file involved.
        b"limits@openssh.com",
    }
)  # fmt: skip

#: Requests asyncssh can dispatch that are refused: v6-only link and byte-range locks
#: (the session is SFTP v3), server-side copy and sparse ranges (not relayed).
REFUSED_REQUESTS: frozenset[int | bytes] = frozenset(
    {FXP_LINK, FXP_BLOCK, FXP_UNBLOCK, b"copy-data", b"ranges@asyncssh.com"}
)

#: Informational entries of asyncssh's version reply that are not requests. Not sent:
#: vendor-id names the gateway's library version, newline describes the gateway host.
NOT_ADVERTISED_INFO: frozenset[bytes] = frozenset({b"newline", b"vendor-id"})

#: SFTPServer members the relay defines itself and that answer from the target.
RELAYED_METHODS: frozenset[str] = frozenset(
    {
        "open", "read", "write", "close", "fstat", "fsetstat", "fsync", "fstatvfs", "stat",
        "lstat", "setstat", "lsetstat", "scandir", "remove", "rmdir", "mkdir", "rename",
        "posix_rename", "realpath", "readlink", "symlink", "link", "statvfs", "exit",
    }
)  # fmt: skip

#: SFTPServer members that touch no filesystem at all: path mapping (identity: paths are
#: the target's), attribute conversion and long-name formatting (numeric ids, never the
#: gateway's passwd/group files), and the channel accessors.
PURE_MEMBERS: frozenset[str] = frozenset(
    {
        "map_path", "reverse_map_path", "convert_attrs", "format_longname", "format_user",
        "format_group", "channel", "connection", "env", "logger",
    }
)  # fmt: skip

#: SFTPServer methods that always refuse (and every public method asyncssh adds later).
REFUSED_METHODS: frozenset[str] = frozenset({"open56", "lock", "unlock"})


def unsupported(what: str) -> asyncssh.SFTPOpUnsupported:
    return asyncssh.SFTPOpUnsupported(f"airlock: sftp {what} is not supported")


def _refuser(name: str) -> Callable[..., NoReturn]:
    # Synchronous on purpose: asyncssh calls some server methods without awaiting (scandir,
    # map_path), so raising at call time is the one form that refuses on every call site.
    def refused(self: object, *args: object, **kwargs: object) -> NoReturn:
        raise unsupported(name)

    refused.__name__ = refused.__qualname__ = name
    return refused


class RefusingSFTPServer(asyncssh.SFTPServer):
    """asyncssh's SFTPServer with every public method refusing: subclasses opt in."""


for _name, _member in inspect.getmembers(asyncssh.SFTPServer, inspect.isfunction):
    if not _name.startswith("_"):
        setattr(RefusingSFTPServer, _name, _refuser(_name))


class AllowlistSFTPHandler(SFTPServerHandler):
    """asyncssh's SFTP server handler, dispatching only :data:`RELAYED_REQUESTS`."""

    async def _process_limits(self, packet: SSHPacket) -> SFTPLimits:
        """The target's read/write sizes, capped by ours; no open-file count (ours is local)."""
        packet.check_end()
        upstream: SFTPLimits = cast("Any", self._server).client.limits
        return SFTPLimits(
            MAX_SFTP_PACKET_LEN,
            min(upstream.max_read_len or MAX_SFTP_READ_LEN, MAX_SFTP_READ_LEN),
            min(upstream.max_write_len or MAX_SFTP_WRITE_LEN, MAX_SFTP_WRITE_LEN),
            0,
        )


def _allowlisted_dispatch() -> dict[int | bytes, Any]:
    table: dict[int | bytes, Any] = {
        key: handler
        for key, handler in SFTPServerHandler._packet_handlers.items()
        if key in RELAYED_REQUESTS
    }
    table[b"limits@openssh.com"] = AllowlistSFTPHandler._process_limits
    return table


AllowlistSFTPHandler._packet_handlers = _allowlisted_dispatch()
AllowlistSFTPHandler._extensions = [
    (name, data) for name, data in SFTPServerHandler._extensions if name in RELAYED_REQUESTS
]


class AllowlistSFTPSession(SSHServerStreamSession[bytes]):
    """asyncssh's stream session for the sftp subsystem, running the allowlist handler.

    asyncssh's own session would build its stock handler (full dispatch table); this is its
    ``session_started`` for the sftp case only (GatewayChannel creates it for the sftp
    subsystem alone), with nothing else reachable: no scp, no shell.
    """

    def __init__(self, factory: Callable[[asyncssh.SSHServerChannel[bytes]], Any]) -> None:
        super().__init__(None, factory, sftp_version=3)  # type: ignore[arg-type]

    def session_started(self) -> None:
        chan = self._chan
        assert chan is not None and self._conn is not None
        reader = SSHReader[bytes](self, chan)
        writer = SSHWriter[bytes](self, chan)
        self._conn.create_task(self._run(reader, writer), reader.logger)

    async def _run(self, reader: SSHReader[bytes], writer: SSHWriter[bytes]) -> None:
        server = self._init_sftp_server()
        if inspect.isawaitable(server):
            server = await server
        await AllowlistSFTPHandler(server, reader, writer, self._sftp_version).run()
