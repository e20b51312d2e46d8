"""What the shell gate and the SFTP relay use of a client session channel.

gateway.ssh.channel starts both (a shell request makes a ShellGate, an ``sftp``
subsystem an SFTP relay), and both act back on the channel (pause it, write to stderr,
fail it with an exit status). They depend on this contract instead of on channel.py,
which keeps the three modules free of an import cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import asyncssh

if TYPE_CHECKING:
    from gateway.ssh.connection import SshConnection

#: Exit status for "refused by policy" (the contract) and for gateway-level failures
#: (unknown target, unreachable upstream): 255 is what OpenSSH itself uses for the latter.
EXIT_REFUSED = 126
EXIT_GATEWAY = 255


class SessionChannel(Protocol):
    """The client side of one session channel (gateway.ssh.channel.GatewayChannel)."""

    conn: SshConnection
    chan: asyncssh.SSHServerChannel[bytes] | None
    pty: tuple[str, tuple[int, int, int, int], Any] | None
    #: False once a whole interactive session was approved (its lines are not checked).
    checked_lines: bool
    number: int

    async def notify(self, text: str) -> None:
        """Checkpoint messages (held, request id) for the client."""

    def write_stderr(self, text: str) -> None: ...

    def fail(self, message: str, status: int) -> None:
        """Tell the client why, record the exit status and close the channel."""

    def env(self) -> dict[str, str]:
        """The client's environment variables that may pass (AIRLOCK_REASON, LANG, ...)."""

    def pause(self, reason: str) -> None:
        """Stop reading from the client until ``resume(reason)``."""

    def resume(self, reason: str) -> None: ...

    def send_upstream(self, data: bytes) -> None: ...
