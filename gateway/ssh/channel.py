"""One client session channel (exec, shell or sftp) relayed to one upstream channel.

The relay is callback-driven (asyncssh session objects on both sides, no per-chunk
coroutine) because that is what keeps bulk throughput and echo latency at a plain jump
host's level. Flow control is SSH's own: when one side's send buffer passes its high-water
mark, reading from the other side is paused, so windows stop opening and the sender waits.

Decisions never happen in asyncssh's synchronous request callbacks: the channel starts
paused, and a task awaits the checkpoint (which may hold for a human) before anything is
opened upstream. Only this channel waits (invariant 7).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncssh

from gateway.model import Action, ActionKind
from gateway.ssh.connection import SshConnection, allowed_env
from gateway.ssh.session_channel import EXIT_GATEWAY, EXIT_REFUSED
from gateway.ssh.sftp import sftp_session
from gateway.ssh.shell import ShellGate, open_shell_allowed
from gateway.ssh.upstream import UpstreamError

log = logging.getLogger("airlock.ssh")


class StdinTap:
    """Exec stdin on its way to the transcript, cut at line ends.

    The redactor works on one event's text, so a secret split across two SSH packets
    would escape it: complete lines are recorded as they arrive, a partial line waits for
    its end, and an open PEM private-key block waits for its END line (each bounded by
    HOLD bytes, past which the redactor masks an unterminated block to its end).
    """

    HOLD = 64 * 1024

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> bytes:
        """Take bytes from the client; return what may be recorded now."""
        buf = self._buf
        buf += data
        cut = buf.rfind(b"\n") + 1
        begin = buf.rfind(b"-----BEGIN", 0, cut)
        if begin >= 0 and buf.find(b"-----END", begin) < 0:
            cut = begin
        if len(buf) - cut > self.HOLD:
            cut = len(buf)
        ready = bytes(buf[:cut])
        del buf[:cut]
        return ready

    def rest(self) -> bytes:
        """Whatever is still held (at EOF or when the channel ends)."""
        rest, self._buf = bytes(self._buf), bytearray()
        return rest


class _UpstreamSession(asyncssh.SSHClientSession[bytes]):
    """Upstream side: hands everything to the client-facing channel."""

    def __init__(self, down: GatewayChannel) -> None:
        self.down = down

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        self.down.from_upstream(data, datatype)

    def eof_received(self) -> bool:
        # Defer the client's EOF until the exit status is known (see upstream_closed).
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.down.upstream_closed(exc)

    def pause_writing(self) -> None:
        self.down.pause("upstream-full")

    def resume_writing(self) -> None:
        self.down.resume("upstream-full")


class GatewayChannel(asyncssh.SSHServerSession[bytes]):
    """Client side of one session channel."""

    def __init__(self, conn: SshConnection) -> None:
        self.conn = conn
        self.chan: asyncssh.SSHServerChannel[bytes] | None = None
        self.up: asyncssh.SSHClientChannel[bytes] | None = None
        self.kind = ""  # exec | shell | sftp
        self.command = ""
        self.pty: tuple[str, tuple[int, int, int, int], Any] | None = None
        self._pauses: set[str] = set()
        self._inner: asyncssh.SSHServerSession[bytes] | None = None  # sftp handler
        self._task: asyncio.Task[None] | None = None
        self._client_eof = False
        self._early = bytearray()  # input asyncssh delivered before the upstream existed
        self._closed = False
        self.shell: ShellGate | None = None
        self.checked_lines = True  # False once a whole interactive session was approved
        self._stdin = StdinTap()
        #: The command reads a password from stdin: record only that there was input
        #: (True until that marker is written, then None).
        self._stdin_secret: bool | None = False
        self.number = conn.channels
        conn.channels += 1

    # -- requests (synchronous: only record what was asked) ------------------------------
    def connection_made(self, chan: asyncssh.SSHServerChannel[bytes]) -> None:  # type: ignore[override]
        self.chan = chan
        # asyncssh resumes reading right after session_started(); whatever it delivers
        # before the upstream exists is kept in _early and reading is paused again there.
        self.pause("starting")

    def pty_requested(
        self, term_type: str, term_size: tuple[int, int, int, int], term_modes: Any
    ) -> bool:
        self.pty = (term_type, term_size, term_modes)
        return True

    def shell_requested(self) -> bool:
        self.kind = "shell"
        return True

    def exec_requested(self, command: str) -> bool:
        self.kind, self.command = "exec", command
        return True

    def subsystem_requested(self, subsystem: str) -> bool:
        if subsystem != "sftp":
            return False
        self.kind = "sftp"
        self._inner = sftp_session(self)
        assert self.chan is not None
        self._inner.connection_made(self.chan)
        return True

    def session_started(self) -> None:
        if self._inner is not None:
            self._inner.session_started()
            self.resume("starting")
            return
        self._task = asyncio.get_running_loop().create_task(self._start())

    # -- helpers ---------------------------------------------------------------------------
    def pause(self, reason: str) -> None:
        if not self._pauses and self.chan is not None:
            self.chan.pause_reading()
        self._pauses.add(reason)

    def resume(self, reason: str) -> None:
        self._pauses.discard(reason)
        if reason == "starting":
            early, self._early = bytes(self._early), bytearray()
            if early:
                self._input(early)
            if self._client_eof and self.up is not None:
                self.up.write_eof()
        if not self._pauses and self.chan is not None and not self._closed:
            self.chan.resume_reading()

    @property
    def newline(self) -> str:
        return "\r\n" if self.pty else "\n"

    async def notify(self, text: str) -> None:
        """Checkpoint messages (held, request id) go to the client's stderr."""
        self.write_stderr(text)

    def write_stderr(self, text: str) -> None:
        if self.chan is not None and not self._closed:
            self.chan.write_stderr((text.rstrip("\n") + self.newline).encode())

    def fail(self, message: str, status: int) -> None:
        self.write_stderr(message)
        if self.chan is not None and not self._closed:
            self.conn.record("exit", status=status, channel=self.number)
            self.chan.exit(status)

    def env(self) -> dict[str, str]:
        assert self.chan is not None
        return allowed_env(self.chan.get_environment())

    # -- starting: decide, then open upstream -----------------------------------------------
    async def _start(self) -> None:
        try:
            await self._start_checked()
        except UpstreamError as exc:
            self.fail(str(exc), EXIT_GATEWAY)
        except asyncssh.ChannelOpenError as exc:
            self.fail(f"airlock: target refused the session: {exc.reason}", EXIT_GATEWAY)
        except Exception as exc:  # fail closed, never leave the client hanging
            log.exception("ssh channel start failed")
            self.fail(f"airlock: internal error ({type(exc).__name__})", EXIT_GATEWAY)

    async def _start_checked(self) -> None:
        env = self.env()
        if self.pty is not None:  # the initial size: replays and asciicasts start from it
            term_type, size, _ = self.pty
            self.conn.record(
                "write", "pty", channel=self.number, term=term_type, cols=size[0], rows=size[1]
            )
        ctx = self.conn.context(env.get("AIRLOCK_REASON", ""), self.notify)
        if self.kind == "exec":
            # With a pty, stdin is a terminal whose lines the shell gate checks: only what a
            # pipe or `<` feeds a program is unseen (without one, all of stdin is).
            ctx.terminal = self.pty is not None
            action = Action(ActionKind.EXEC, self.command.encode(), self.command)
            outcome = await self.conn.checkpoint.decide(ctx, action)
            if not outcome.allowed:
                self.fail(outcome.message or "airlock: refused", EXIT_REFUSED)
                return
            self.conn.record("exec", self.command, channel=self.number)
            from protocols.shell.stdin import stdin_is_secret

            self._stdin_secret = stdin_is_secret(self.command)
            if self.pty is not None:
                # `ssh -t HOST bash` is an interactive shell too: check its lines.
                self.shell = ShellGate(self, ctx)
        elif self.kind == "shell":
            if not await open_shell_allowed(self, ctx):
                return
            self.shell = ShellGate(self, ctx)
        else:
            self.fail("airlock: unsupported session request", EXIT_GATEWAY)
            return
        upstream = await self.conn.upstream()
        if self._closed:
            return
        upstream_env: dict[bytes | str, bytes | str] = dict(env.items())
        kwargs: dict[str, Any] = {}
        if self.pty is not None:
            term_type, size, modes = self.pty
            kwargs = {"term_type": term_type, "term_size": size, "term_modes": modes}
        else:
            kwargs = {"request_pty": False}
        self.up, _ = await upstream.create_session(
            lambda: _UpstreamSession(self),
            self.command if self.kind == "exec" else None,
            env=upstream_env,
            encoding=None,
            **kwargs,
        )
        if self._closed:
            self.up.close()
            return
        self.resume("starting")

    # -- client -> upstream ------------------------------------------------------------------
    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        self.conn.stats.bytes_in += len(data)
        if self._inner is not None:
            self._inner.data_received(data, datatype)
        elif "starting" in self._pauses:
            self._early += data
            if self.chan is not None:
                self.chan.pause_reading()
        else:
            self._input(data)

    def _input(self, data: bytes) -> None:
        if self.shell is not None:
            self.shell.client_input(data)
        elif self.up is not None:
            self._record_stdin(self._stdin.feed(data))  # recorded before it is forwarded
            self.up.write(data)

    def _record_stdin(self, data: bytes) -> None:
        """Exec stdin goes into the transcript (bounded and redacted by the writer)."""
        recorder = self.conn.recorder
        if not data or recorder is None or getattr(recorder, "closed", False):
            return
        if self._stdin_secret is False:
            self.conn.record("output", "stdin", data, channel=self.number)
        elif self._stdin_secret:  # once: that there was input, never what
            self._stdin_secret = None
            self.conn.record("write", "stdin", channel=self.number, hidden=True)

    def send_upstream(self, data: bytes) -> None:
        if self.up is not None and data:
            self.up.write(data)

    def eof_received(self) -> bool:
        if self._inner is not None:
            return bool(self._inner.eof_received())
        self._client_eof = True
        self._record_stdin(self._stdin.rest())
        if self.up is not None and "starting" not in self._pauses:
            self.up.write_eof()
        return True

    def signal_received(self, signal: str) -> None:
        if self.up is not None:
            self.up.send_signal(signal)

    def break_received(self, msec: int) -> bool:
        if self.up is not None:
            self.up.send_break(msec)
        return True

    def terminal_size_changed(self, width: int, height: int, pixwidth: int, pixheight: int) -> None:
        if self.pty is not None:
            self.pty = (self.pty[0], (width, height, pixwidth, pixheight), self.pty[2])
        if self.shell is not None:
            self.shell.resize(width, height)
        self.conn.record("resize", width, height, channel=self.number)
        if self.up is not None:
            self.up.change_terminal_size(width, height, pixwidth, pixheight)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()
        elif self.up is not None:
            self.up.pause_reading()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()
        elif self.up is not None:
            self.up.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._record_stdin(self._stdin.rest())
        if self.shell is not None:
            self.shell.flush_keys()
        self._closed = True
        if self._inner is not None:
            self._inner.connection_lost(exc)
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self.up is not None:
            self.up.close()

    # -- upstream -> client --------------------------------------------------------------------
    def from_upstream(self, data: bytes, datatype: asyncssh.DataType) -> None:
        if self.chan is None or self._closed:
            return
        self.conn.stats.bytes_out += len(data)
        stderr = datatype == asyncssh.EXTENDED_DATA_STDERR
        if self.shell is not None:
            self.shell.upstream_output(data)
        elif self.conn.recorder is not None:
            self.conn.record("output", "stderr" if stderr else "stdout", data, channel=self.number)
        if self.conn.unrecordable:
            return  # fail closed: unrecorded output never reaches the client
        if stderr:
            self.chan.write_stderr(data)
        else:
            self.chan.write(data)

    def upstream_closed(self, exc: Exception | None) -> None:
        """Pass the exit status (or signal) BEFORE closing: OpenSSH may report 255 otherwise."""
        if self.chan is None or self._closed or self.up is None:
            return
        if self.shell is not None:
            self.shell.flush_keys()
        if self.conn.unrecordable:  # the connection is being closed; no status to report
            self.chan.close()
            return
        status = self.up.get_exit_status()
        signal = self.up.get_exit_signal()
        if signal is not None:
            name, core, msg, lang = signal
            self.conn.record("exit", signal=name, channel=self.number)
            self.chan.exit_with_signal(name, core, msg, lang)
        elif status is not None and status >= 0:
            self.conn.record("exit", status=status, channel=self.number)
            self.chan.exit(status)
        else:
            self.conn.record("exit", channel=self.number)
            self.chan.close()
