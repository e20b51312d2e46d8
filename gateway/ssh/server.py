"""The SSH listener: authentication, routing by ``USER@TARGET`` or ``USER:TARGET``, refusals.

An unknown or forbidden target is reported after authentication, on the channel's stderr
with exit status 255 (what OpenSSH users see for connection-level failures): rejecting the
login instead would show only "Permission denied", and telling unauthenticated clients
which targets exist would leak the inventory. Connection limits refuse the same way, after
routing and before the upstream login, so the upstream never sees a refused attempt.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncssh

from gateway import audit, metrics
from gateway.checkpoint import Checkpoint
from gateway.config import Config, Target
from gateway.identity.authenticator import Authenticator
from gateway.identity.sessions import SessionRegistry
from gateway.identity.throttle import Throttled
from gateway.limits import ConnectionLimiter
from gateway.model import Identity, Session, WireProtocol
from gateway.ssh.channel import GatewayChannel
from gateway.ssh.connection import SshConnection
from gateway.ssh.forward import open_forward
from gateway.ssh.session_channel import EXIT_GATEWAY
from gateway.store.base import SessionRow, Store

CLIENT_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr", "aes256-ctr")

if TYPE_CHECKING:
    from gateway.recording.writer import TranscriptFactory, TranscriptWriter

log = logging.getLogger("airlock.ssh")


def split_login(login: str, targets: Collection[str] = ()) -> tuple[str, str | None]:
    """The user and the target a login names.

    ``alice:web`` (Warpgate's form) -> (alice, web). ``alice@web`` -> (alice, web) when
    ``web`` is a configured target: scp and sftp read ``alice:web@gateway`` as a host
    name, but split ``alice@web@gateway`` at its last ``@``, so this form needs no
    ``-o User=``. A name that merely contains ``@`` (``alice@corp.example``) stays a user
    name unless its last part is a target. ``alice`` -> (alice, None).
    """
    user, sep, target = login.partition(":")
    if sep:
        return user, target
    user, sep, target = login.rpartition("@")
    if sep and user and target in targets:
        return user, target
    return login, None


def resolve_target(config: Config, user: str, wanted: str | None) -> Target | str:
    """The target this login routes to, or a message saying why there is none."""
    spec = config.users.get(user)
    names = spec.targets if spec and spec.targets else tuple(config.targets)
    mine = sorted(n for n in names if config.targets[n].protocol == "ssh")
    listing = ", ".join(mine) or "none"
    if wanted is None:
        if len(mine) == 1:
            return config.targets[mine[0]]
        return (
            f"airlock: name a target: ssh -p PORT {user}@TARGET@gateway "
            f"(or '{user}:TARGET@gateway'; sftp/scp: -P PORT {user}@TARGET@gateway) "
            f"(your SSH targets: {listing})"
        )
    target = config.targets.get(wanted)
    if target is None:
        return f"airlock: unknown target {wanted!r} (your SSH targets: {listing})"
    if target.protocol != "ssh":
        return f"airlock: target {wanted!r} is a {target.protocol} target, not SSH"
    if wanted not in mine:
        return f"airlock: user {user!r} may not use target {wanted!r} (your SSH targets: {listing})"
    return target


class _RefusedChannel(asyncssh.SSHServerSession[bytes]):
    """Tells the client why its connection has nowhere to go, then exits 255."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.chan: asyncssh.SSHServerChannel[bytes] | None = None

    def connection_made(self, chan: asyncssh.SSHServerChannel[bytes]) -> None:  # type: ignore[override]
        self.chan = chan

    def pty_requested(self, *_: Any) -> bool:
        return True

    def shell_requested(self) -> bool:
        return True

    def exec_requested(self, command: str) -> bool:
        return True

    def subsystem_requested(self, subsystem: str) -> bool:
        return True

    def session_started(self) -> None:
        assert self.chan is not None
        nl = "\r\n" if self.chan.get_terminal_type() else "\n"
        self.chan.write_stderr((self.message + nl).encode())
        self.chan.exit(EXIT_GATEWAY)


class _Server(asyncssh.SSHServer):
    """One instance per client connection (asyncssh's server factory)."""

    def __init__(self, gateway: SshGateway) -> None:
        self.gw = gateway
        self.conn: asyncssh.SSHServerConnection | None = None
        self.identity: Identity | None = None
        self.state: SshConnection | None = None
        self.refusal = ""
        self._forget: Callable[[], None] | None = None
        # The limiter that granted this connection's slot, with its (user, target) key.
        self._slot: tuple[ConnectionLimiter, str, str] | None = None
        self._login = ""  # the SSH user name asked for, for the audit log
        self._login_failed = False

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        self.gw._conns.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        self._release_slot()
        if self._forget is not None:
            self._forget()
        if self.state is not None:
            recorder = self.state.recorder
            self.state.close()
            self.gw.session_ended(self.state.session, recorder, self.state)
        elif self.identity is None and self._login and not self._login_failed:
            self._audit_login(ok=False)
        if self.conn is not None:
            self.gw._conns.discard(self.conn)

    def _release_slot(self) -> None:
        """Every path out of a connection ends here; clearing makes it exactly once."""
        slot, self._slot = self._slot, None
        if slot is not None:
            limiter, user, target = slot
            limiter.release(user, target)

    def begin_auth(self, username: str) -> bool:
        self._login = username
        return True

    def _audit_login(self, ok: bool) -> None:
        self._login_failed = self._login_failed or not ok
        peer = self.conn.get_extra_info("peername") if self.conn is not None else None
        audit.emit(
            audit.Event.LOGIN_OK if ok else audit.Event.LOGIN_FAILED,
            protocol="ssh",
            user=split_login(self._login, self.gw.config.targets)[0],
            source=f"{peer[0]}:{peer[1]}" if peer else "",
            method=self.identity.source if ok and self.identity is not None else "",
        )

    def password_auth_supported(self) -> bool:
        return True

    async def validate_password(self, username: str, password: str) -> bool:
        # API tokens arrive here too: the authenticator accepts them as passwords. `login`
        # throttles failures per user and per address, and answers a failure no sooner
        # than the failure delay whether or not the user exists.
        user, _ = split_login(username, self.gw.config.targets)
        assert self.conn is not None
        peer = self.conn.get_extra_info("peername") or ("",)
        result = await self.gw.authenticator.login(user, password, str(peer[0]))
        if isinstance(result, Throttled):
            self.conn.send_auth_banner(
                f"airlock: too many failed logins; retry in {math.ceil(result.retry_after_s)} s\n"
            )
            self._audit_login(ok=False)
            return False
        self.identity = result
        if result is None:
            self._audit_login(ok=False)
        return result is not None

    def public_key_auth_supported(self) -> bool:
        return True

    async def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        user, _ = split_login(username, self.gw.config.targets)
        wanted = key.public_data
        for line in await self.gw.authenticator.authorized_keys(user):
            try:
                if asyncssh.import_public_key(line).public_data == wanted:
                    self.identity = await self.gw.authenticator.identity(user)
                    return self.identity is not None
            except (asyncssh.KeyImportError, ValueError):
                log.warning("unparseable ssh key configured for user %s", user)
        return False

    def auth_completed(self) -> None:
        assert self.conn is not None and self.identity is not None
        self._audit_login(ok=True)
        user, wanted = split_login(
            self.conn.get_extra_info("username") or "", self.gw.config.targets
        )
        target = resolve_target(self.gw.config, user, wanted)
        if isinstance(target, str):
            self.refusal = target
            return
        limiter = self.gw.limiter
        if limiter is not None:
            refused = limiter.try_acquire(self.identity.user, target.name)
            if refused is not None:
                metrics.rejected("limit")
                log.info("ssh login refused: %s", refused)
                self.refusal = refused
                return
            self._slot = (limiter, self.identity.user, target.name)
        peer = self.conn.get_extra_info("peername") or ("", 0)
        session = Session(
            id=uuid.uuid4().hex,
            protocol=WireProtocol.SSH,
            identity=self.identity,
            target=target.name,
            client_addr=f"{peer[0]}:{peer[1]}",
            agent=str(self.conn.get_extra_info("client_version") or ""),
            node=self.gw.config.node,
        )
        recorder = self.gw.recorder_factory(session) if self.gw.recorder_factory else None
        self.state = SshConnection(
            session, target, self.gw.checkpoint, recorder, abort=self.conn.close
        )
        self.state.start_upstream()
        self.gw.session_started(session, self.state)
        if self.gw.sessions is not None and session.identity.token_id:
            conn = self.conn
            self._forget = self.gw.sessions.register(
                session.id,
                session.identity.token_id,
                lambda why: conn.disconnect(asyncssh.DISC_BY_APPLICATION, why),
            )

    def session_requested(self) -> asyncssh.SSHServerSession[bytes]:
        if self.state is None:
            return _RefusedChannel(self.refusal or "airlock: not routed")
        return GatewayChannel(self.state)

    # A tunnel would bypass classification: local forwards go through the checkpoint
    # (category `forwarding`, reviewed by default); every other kind is refused outright.
    def connection_requested(
        self, dest_host: str, dest_port: int, orig_host: str, orig_port: int
    ) -> Any:
        if self.state is None:
            return False
        # asyncssh awaits this coroutine before confirming the channel: a refusal is a
        # clean "open failed: administratively prohibited: <why>" on the client.
        return open_forward(self.state, dest_host, dest_port)

    def server_requested(self, *args: Any) -> bool:
        self._refused_forward("tcpip-forward", args)
        return False

    def unix_connection_requested(self, *args: Any) -> bool:
        self._refused_forward("direct-streamlocal", args)
        return False

    def unix_server_requested(self, *args: Any) -> bool:
        self._refused_forward("streamlocal-forward", args)
        return False

    # Layer 3/2 tunnels (`ssh -w`): asyncssh's default refuses too, but invariant 8 wants
    # the refusal stated here, not left to a library default.
    def tun_requested(self, *args: Any) -> bool:
        self._refused_forward("tun", args)
        return False

    def tap_requested(self, *args: Any) -> bool:
        self._refused_forward("tap", args)
        return False

    def _refused_forward(self, kind: str, args: Sequence[Any]) -> None:
        if self.state is not None:
            self.state.record(
                "write", "forward", kind=kind, args=[str(a) for a in args], allowed=False
            )


class SshGateway:
    """The SSH side of Airlock: ``await start(host, port)`` then ``await close()``."""

    def __init__(
        self,
        config: Config,
        authenticator: Authenticator,
        checkpoint: Checkpoint,
        recorder_factory: TranscriptFactory | None = None,
        host_key: asyncssh.SSHKey | Path | None = None,
        store: Store | None = None,
        sessions: SessionRegistry | None = None,
        limiter: ConnectionLimiter | None = None,
    ) -> None:
        self.config = config
        self.limiter = limiter
        self.authenticator = authenticator
        self.checkpoint = checkpoint
        self.recorder_factory = recorder_factory
        self.store = store
        self.sessions = sessions
        self._host_key = host_key if host_key is not None else config.ssh.host_key
        self._server: asyncssh.SSHAcceptor | None = None
        self._conns: set[asyncssh.SSHServerConnection] = set()
        self._bookkeeping: set[asyncio.Task[None]] = set()
        self._started: dict[str, float] = {}
        self._metrics: dict[str, metrics.SessionMetrics] = {}

    def _later(self, coro: Any) -> None:
        """Store writes off the SSH callbacks (which are synchronous); awaited on close."""
        task = asyncio.ensure_future(coro)
        self._bookkeeping.add(task)
        task.add_done_callback(self._bookkeeping.discard)

    async def settled(self) -> None:
        """Until the store writes for sessions that started or ended so far are done."""
        if self._bookkeeping:
            await asyncio.gather(*self._bookkeeping, return_exceptions=True)

    def session_started(self, session: Session, conn: SshConnection | None = None) -> None:
        started = self._started[session.id] = time.time()
        self._metrics[session.id] = metrics.session_started("ssh", session.target)
        audit.emit(audit.Event.SESSION_START, **audit.session_fields(session))
        if self.store is not None:
            row = SessionRow.opened(session, started)
            self._later(self._store_call(self.store.session_started(row)))

    def session_ended(
        self, session: Session, recorder: TranscriptWriter | None, conn: SshConnection | None = None
    ) -> None:
        self._started.pop(session.id, None)
        stats = conn.stats if conn is not None else None
        bytes_in, bytes_out = (stats.bytes_in, stats.bytes_out) if stats else (0, 0)
        statements = conn.statements if conn is not None else 0
        session_metrics = self._metrics.pop(session.id, None)
        if session_metrics is not None:
            session_metrics.bytes_in(bytes_in)
            session_metrics.bytes_out(bytes_out)
            session_metrics.ended()
        audit.emit(
            audit.Event.SESSION_END,
            **audit.session_fields(session),
            bytes_in=bytes_in,
            bytes_out=bytes_out,
            statements=statements,
        )
        if self.store is None:
            return
        store = self.store

        async def finish() -> None:
            await store.session_ended(session.id, time.time(), bytes_in, bytes_out, statements)
            if recorder is not None:
                seq, head = recorder.head
                await store.set_head(session.id, seq, head)

        self._later(self._store_call(finish()))

    @staticmethod
    async def _store_call(coro: Any) -> None:
        try:
            await coro
        except Exception:
            log.exception("session bookkeeping in the store failed")

    def _load_host_key(self) -> asyncssh.SSHKey:
        if self._host_key is None:
            raise ValueError("ssh.host_key: not configured (run `airlock init`)")
        if isinstance(self._host_key, Path):
            return asyncssh.read_private_key(str(self._host_key))
        return self._host_key

    async def start(self, host: str, port: int) -> int:
        """Listen; returns the bound port (pass 0 to let the kernel choose)."""

        def factory() -> _Server:
            return _Server(self)

        self._server = await asyncssh.create_server(
            factory,
            host,
            port,
            server_host_keys=[self._load_host_key()],
            encoding=None,
            agent_forwarding=False,
            x11_forwarding=False,
            allow_scp=False,
            server_version="Airlock",
            # AES-GCM only on the client leg: asyncssh's chacha20-poly1305 costs several
            # library calls per packet; AES-GCM is one (AES-NI). Measured in bench/ssh.sh.
            encryption_algs=CLIENT_CIPHERS,
            # Key exchange and authentication must finish in this: a client that connects
            # and stalls would otherwise hold a socket (and a handshake task) indefinitely.
            login_timeout=self.config.ssh.login_timeout_s,
            keepalive_interval=30,
            keepalive_count_max=4,
        )
        sockets = self._server.sockets
        return int(sockets[0].getsockname()[1])

    def stop_accepting(self) -> None:
        """Drain: stop listening; connections already accepted carry on."""
        if self._server is not None:
            self._server.close()

    async def drained(self) -> None:
        """Return once every client connection has closed (transcripts closed, signed)."""
        while self._conns:
            conns = list(self._conns)
            await asyncio.gather(*(c.wait_closed() for c in conns), return_exceptions=True)
            # asyncssh calls connection_lost (which forgets the connection) before it
            # sets the close event, so every awaited connection is gone from the set now.
            self._conns.difference_update(conns)

    def end_sessions(self, text: str) -> int:
        """Drain deadline: disconnect every client, telling it why."""
        conns = list(self._conns)
        for conn in conns:
            conn.disconnect(asyncssh.DISC_BY_APPLICATION, text)
        return len(conns)

    async def close(self) -> None:
        self.stop_accepting()
        conns = list(self._conns)
        for conn in conns:
            conn.close()
        await asyncio.gather(*(c.wait_closed() for c in conns), return_exceptions=True)
        if self._server is not None:
            # After the connections: from Python 3.12 wait_closed also waits for them.
            await self._server.wait_closed()
            self._server = None
        if self._bookkeeping:
            await asyncio.gather(*self._bookkeeping, return_exceptions=True)
