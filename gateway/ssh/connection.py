"""Per-connection state shared by every channel of one authenticated SSH client."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import asyncssh

from gateway import audit, metrics
from gateway.checkpoint import Checkpoint, SessionContext
from gateway.config import Target
from gateway.model import Notify, Session, SessionStats
from gateway.ssh.upstream import UpstreamError, connect_upstream

if TYPE_CHECKING:
    from gateway.recording.writer import TranscriptWriter

log = logging.getLogger("airlock.ssh")

#: Environment variables a client may set upstream; everything else is dropped so agents
#: cannot steer the remote shell (LD_PRELOAD, BASH_ENV, PROMPT_COMMAND...).
_ENV_ALLOWED = re.compile(r"LANG|LC_[A-Z_]+|TERM|AIRLOCK_REASON")


def allowed_env(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if _ENV_ALLOWED.fullmatch(k)}


@dataclass(eq=False)
class SshConnection:
    """One client connection: who, which target, its transcript and the upstream login."""

    session: Session
    target: Target
    checkpoint: Checkpoint
    recorder: TranscriptWriter | None = None
    abort: Callable[[], None] | None = None  # closes the client connection
    unrecordable: bool = False  # a transcript write failed: nothing more reaches the client
    _upstream: asyncio.Task[asyncssh.SSHClientConnection] | None = field(default=None)
    channels: int = 0
    #: Bytes relayed (channels count them) for the store and metrics.
    stats: SessionStats = field(default_factory=SessionStats)
    _contexts: list[SessionContext] = field(default_factory=list)

    @property
    def statements(self) -> int:
        """Actions decided over every channel of this connection."""
        return sum(ctx.decided for ctx in self._contexts)

    def start_upstream(self) -> None:
        """Begin the upstream login while the client is still opening its channel."""
        if self._upstream is None:
            self._upstream = asyncio.get_running_loop().create_task(connect_upstream(self.target))
            # Errors are surfaced to each channel that awaits upstream(); here they are
            # counted and audited once per connection.
            self._upstream.add_done_callback(self._upstream_done)

    def _upstream_done(self, task: asyncio.Task[asyncssh.SSHClientConnection]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, UpstreamError):
            metrics.upstream_error("ssh", self.target.name, "connect")
            audit.emit(
                audit.Event.UPSTREAM_FAILED,
                protocol="ssh",
                target=self.target.name,
                user=self.session.identity.user,
                session=self.session.id,
                error=str(exc),
            )

    async def upstream(self) -> asyncssh.SSHClientConnection:
        """The shared upstream connection; raises UpstreamError with a client message."""
        self.start_upstream()
        assert self._upstream is not None
        return await asyncio.shield(self._upstream)

    def context(self, reason: str, notify: Notify) -> SessionContext:
        """A checkpoint context for one channel: the channel's stated reason and stderr."""
        session = dataclasses.replace(self.session, reason=reason) if reason else self.session
        ctx = SessionContext(session=session, recorder=self.recorder, notify=notify)
        self._contexts.append(ctx)
        return ctx

    def record(self, method: str, *args: object, **fields: object) -> None:
        """Transcript helper for stream events (statements go via the checkpoint).

        A session that cannot be recorded does not continue (fail closed): the client
        connection is closed.
        """
        if self.recorder is None:
            return
        try:
            getattr(self.recorder, method)(*args, **fields)
        except Exception:
            log.exception("transcript write failed; closing the SSH connection")
            self.recorder = None
            self.unrecordable = True
            if self.abort is not None:
                self.abort()

    def close(self) -> None:
        task = self._upstream
        if task is None:
            return
        if not task.done():
            task.cancel()
        elif not task.cancelled() and task.exception() is None:
            task.result().close()
        if self.recorder is not None:
            with contextlib.suppress(Exception):
                self.recorder.close()
