"""SFTP terminated by asyncssh and relayed, operation by operation, to the target's SFTP.

Every operation is classified by its effect and passed through the checkpoint before it
reaches the upstream: opening a file for reading is an ``export`` of that path, writing is
``write``, removing/overwriting is ``destructive``, setuid/setgid bits and owner changes
are ``privilege``, and a modified path gets what the shell classifier gives writing it
(``~/.ssh/authorized_keys`` is ``privilege``, ``/etc/cron.d/*`` ``admin``); all carry
``file-transfer`` except pure metadata reads. A file's reads and writes are decided once,
at open (the decision covers the bytes that follow), and the byte counts are recorded at
close. Refusals reach the client as SFTP permission errors; requests that are not relayed
at all get "operation unsupported" (gateway/ssh/sftp_allowlist.py: nothing falls to
asyncssh's defaults, which would act on the gateway's own disk).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import asyncssh
from asyncssh import SFTPAttrs, SFTPName, SFTPVFSAttrs

from gateway.model import Action, ActionKind
from gateway.ssh.session_channel import SessionChannel
from gateway.ssh.sftp_allowlist import AllowlistSFTPSession, RefusingSFTPServer
from gateway.ssh.upstream import UpstreamError
from protocols.classification import Category, Classification
from protocols.shell.paths import write_categories

if TYPE_CHECKING:
    from gateway.checkpoint import SessionContext

_WRITE_FLAGS = asyncssh.FXF_WRITE | asyncssh.FXF_APPEND | asyncssh.FXF_CREAT | asyncssh.FXF_TRUNC
_SPECIAL_BITS = 0o7000  # setuid, setgid, sticky

C = Category
_MODIFYING = frozenset(
    {"write", "write-truncate", "mkdir", "symlink", "link", "rename", "posix-rename", "remove",
     "rmdir", "setstat", "lsetstat"}
)  # fmt: skip


def classify_op(op: str, paths: tuple[str, ...], detail: str = "") -> Classification:
    """What one SFTP operation does, for policy (pure; tested directly)."""
    cats: set[Category]
    reasons: list[str] = []
    if op in ("stat", "lstat", "realpath", "readlink", "statvfs", "listdir"):
        cats = {C.READ}
    elif op == "read":
        cats = {C.EXPORT, C.FILE_TRANSFER}
        reasons.append("export: sftp download reads a file off the host")
    elif op in ("write", "mkdir", "symlink", "link", "rename"):
        cats = {C.WRITE, C.FILE_TRANSFER}
    elif op == "write-truncate":
        cats = {C.WRITE, C.DESTRUCTIVE, C.FILE_TRANSFER}
        reasons.append("destructive: sftp open with truncate replaces a file's contents")
    elif op in ("remove", "rmdir", "posix-rename"):
        cats = {C.DESTRUCTIVE, C.FILE_TRANSFER}
        reasons.append(f"destructive: sftp {op} deletes or replaces {paths[-1]}")
    elif op in ("setstat", "lsetstat"):
        cats = {C.WRITE}
        if detail:
            cats.add(C.PRIVILEGE)
            reasons.append(f"privilege: sftp {op} {detail}")
    else:
        return Classification.unknown(f"unknown: sftp operation {op}", (f"sftp-{op}",))
    if op in _MODIFYING:
        # The same sensitive targets as in a shell: uploading ~/.ssh/authorized_keys is
        # privilege, /etc/cron.d admin... Every path counts, a link's target included (a
        # later write through the link lands there).
        for path in paths:
            extra = write_categories(path) - {C.WRITE, C.UNKNOWN}
            if extra:
                cats |= extra
                names = ", ".join(sorted(c.value for c in extra))
                reasons.append(f"{names}: sftp {op} touches {path}")
    return Classification(
        (f"sftp-{op}",),
        frozenset(cats),
        tuple(f"path:{p}" for p in paths),
        tuple(reasons),
    )


def _privileged_attrs(attrs: SFTPAttrs) -> str:
    """Why a setstat counts as privilege ('' if it does not)."""
    why = []
    if attrs.permissions is not None and attrs.permissions & _SPECIAL_BITS:
        why.append(f"sets mode {attrs.permissions & 0o7777:o}")
    if attrs.uid is not None or attrs.gid is not None or attrs.owner or attrs.group:
        why.append("changes owner/group")
    return ", ".join(why)


@dataclass(slots=True)
class _File:
    handle: asyncssh.SFTPClientFile
    path: str
    op: str
    read: int = 0
    written: int = 0


def _path(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


class RelaySFTPServer(RefusingSFTPServer):
    """asyncssh's SFTP server interface, answered by the upstream's SFTP server.

    Every method asyncssh's handler may call is defined here (relayed, or pure and local to
    the SFTP protocol); anything else is the refusing base's (see sftp_allowlist).
    """

    def __init__(
        self,
        chan: asyncssh.SSHServerChannel[bytes],
        channel: SessionChannel,
        ctx: SessionContext,
        client: asyncssh.SFTPClient,
    ) -> None:
        super().__init__(chan)
        self.relay = channel
        self.ctx = ctx
        self.client = client

    async def _check(self, op: str, *paths: bytes, detail: str = "") -> None:
        names = tuple(_path(p) for p in paths)
        text = f"sftp {op} " + " ".join(names)
        action = Action(ActionKind.SFTP, text.encode(), text, classify_op(op, names, detail))
        outcome = await self.relay.conn.checkpoint.decide(self.ctx, action)
        if not outcome.allowed:
            message = outcome.message or "airlock: refused"
            # sftp/scp print only "Permission denied" for the status; stderr says why.
            self.relay.write_stderr(message)
            raise asyncssh.SFTPPermissionDenied(message)

    def _record(self, op: str, path: str, nbytes: int | None = None) -> None:
        self.relay.conn.record("sftp", op, path, nbytes, channel=self.relay.number)

    # Paths are the upstream's: no local mapping at all.
    def map_path(self, path: bytes) -> bytes:
        return path

    def reverse_map_path(self, path: bytes) -> bytes:
        return path

    # Pure conversions: asyncssh's own, with ids shown as numbers. The defaults look them up
    # in the gateway's passwd/group files, which describe the wrong host anyway.
    convert_attrs = asyncssh.SFTPServer.convert_attrs
    format_longname = asyncssh.SFTPServer.format_longname

    def format_user(self, uid: int | None) -> str:
        return "" if uid is None else str(uid)

    def format_group(self, gid: int | None) -> str:
        return "" if gid is None else str(gid)

    async def open(self, path: bytes, pflags: int, attrs: SFTPAttrs) -> object:
        if pflags & _WRITE_FLAGS:
            op = "write"
            if pflags & asyncssh.FXF_TRUNC and await self._has_content(path):
                op = "write-truncate"  # replacing existing contents is destructive
        else:
            op = "read"
        await self._check(op, path)
        handle = await self.client.open(path, pflags, attrs, encoding=None)
        self._record("open", _path(path), None)
        return _File(handle, _path(path), op)

    async def _has_content(self, path: bytes) -> bool:
        try:
            attrs = await self.client.stat(path)
        except asyncssh.SFTPNoSuchFile:
            return False
        return bool(attrs.size)

    async def read(self, file_obj: object, offset: int, size: int) -> bytes:
        assert isinstance(file_obj, _File)
        data: bytes = await file_obj.handle.read(size, offset)
        file_obj.read += len(data)
        return data

    async def write(self, file_obj: object, offset: int, data: bytes) -> int:
        assert isinstance(file_obj, _File)
        await file_obj.handle.write(data, offset)
        file_obj.written += len(data)
        return len(data)

    async def close(self, file_obj: object) -> None:
        assert isinstance(file_obj, _File)
        await file_obj.handle.close()
        nbytes = file_obj.read if file_obj.op == "read" else file_obj.written
        self._record("download" if file_obj.op == "read" else "upload", file_obj.path, nbytes)

    async def fstat(self, file_obj: object) -> SFTPAttrs:
        assert isinstance(file_obj, _File)
        return await file_obj.handle.stat()

    async def fsetstat(self, file_obj: object, attrs: SFTPAttrs) -> None:
        assert isinstance(file_obj, _File)
        await self._check("setstat", file_obj.path.encode(), detail=_privileged_attrs(attrs))
        await file_obj.handle.setstat(attrs)

    async def fsync(self, file_obj: object) -> None:
        assert isinstance(file_obj, _File)
        await file_obj.handle.fsync()

    async def fstatvfs(self, file_obj: object) -> SFTPVFSAttrs:
        assert isinstance(file_obj, _File)
        return await file_obj.handle.statvfs()

    async def stat(self, path: bytes) -> SFTPAttrs:
        await self._check("stat", path)
        return await self.client.stat(path)

    async def lstat(self, path: bytes) -> SFTPAttrs:
        await self._check("lstat", path)
        return await self.client.lstat(path)

    async def setstat(self, path: bytes, attrs: SFTPAttrs) -> None:
        await self._check("setstat", path, detail=_privileged_attrs(attrs))
        await self.client.setstat(path, attrs)
        self._record("setstat", _path(path))

    async def lsetstat(self, path: bytes, attrs: SFTPAttrs) -> None:
        """`chmod -h`/`chown -h`: the link itself, on the target (never asyncssh's default)."""
        await self._check("lsetstat", path, detail=_privileged_attrs(attrs))
        await self.client.setstat(path, attrs, follow_symlinks=False)
        self._record("lsetstat", _path(path))

    async def scandir(self, path: bytes) -> AsyncIterator[SFTPName]:  # type: ignore[override]
        await self._check("listdir", path)
        async for name in self.client.scandir(path):
            yield name

    async def remove(self, path: bytes) -> None:
        await self._check("remove", path)
        await self.client.remove(path)
        self._record("remove", _path(path))

    async def rmdir(self, path: bytes) -> None:
        await self._check("rmdir", path)
        await self.client.rmdir(path)
        self._record("rmdir", _path(path))

    async def mkdir(self, path: bytes, attrs: SFTPAttrs) -> None:
        await self._check("mkdir", path)
        await self.client.mkdir(path, attrs)
        self._record("mkdir", _path(path))

    async def rename(self, oldpath: bytes, newpath: bytes) -> None:
        await self._check("rename", oldpath, newpath)
        await self.client.rename(oldpath, newpath)
        self._record("rename", f"{_path(oldpath)} -> {_path(newpath)}")

    async def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        await self._check("posix-rename", oldpath, newpath)
        await self.client.posix_rename(oldpath, newpath)
        self._record("posix-rename", f"{_path(oldpath)} -> {_path(newpath)}")

    async def realpath(self, path: bytes) -> bytes:
        await self._check("realpath", path)
        result = await self.client.realpath(path)
        return result if isinstance(result, bytes) else result.encode()

    async def readlink(self, path: bytes) -> bytes:
        await self._check("readlink", path)
        result = await self.client.readlink(path)
        return result if isinstance(result, bytes) else result.encode()

    async def symlink(self, oldpath: bytes, newpath: bytes) -> None:
        await self._check("symlink", oldpath, newpath)
        await self.client.symlink(oldpath, newpath)

    async def link(self, oldpath: bytes, newpath: bytes) -> None:
        await self._check("link", oldpath, newpath)
        await self.client.link(oldpath, newpath)

    async def statvfs(self, path: bytes) -> SFTPVFSAttrs:
        await self._check("statvfs", path)
        return await self.client.statvfs(path)

    def exit(self) -> None:
        self.client.exit()
        # scp and sftp check the subsystem's exit status, as sshd sends one.
        chan = self.relay.chan
        if chan is not None:
            chan.exit(0)


def sftp_session(channel: SessionChannel) -> asyncssh.SSHServerSession[bytes]:
    """The sftp subsystem: the allowlist handler, with a server that relays upstream."""

    async def factory(chan: asyncssh.SSHServerChannel[bytes]) -> RelaySFTPServer:
        env = channel.env()
        ctx = channel.conn.context(env.get("AIRLOCK_REASON", ""), channel.notify)
        try:
            upstream = await channel.conn.upstream()
            client = await upstream.start_sftp_client()
        except (UpstreamError, asyncssh.Error) as exc:
            channel.write_stderr(str(exc))
            asyncio.get_running_loop().call_soon(chan.exit, 255)
            raise
        return RelaySFTPServer(chan, channel, ctx, client)

    return AllowlistSFTPSession(factory)
