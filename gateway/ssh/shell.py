"""Interactive shells: each submitted line goes through the checkpoint before its Enter.

Best effort by nature (the gateway reconstructs the line from the terminal screen, see
``protocols.terminal``); exec and SFTP are exact. Targets that need certainty set
``shell = "review-session"`` (approve the whole session) or ``shell = "deny"``.

While a line is held, the Enter is not sent and further keystrokes wait (the client
channel is paused), so nothing typed after it can slip through.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from gateway.checkpoint import SessionContext
from gateway.model import Action, ActionKind
from gateway.ssh.session_channel import EXIT_REFUSED, SessionChannel
from protocols.classification import Category, Classification
from protocols.shell import classify_shell
from protocols.terminal import LineKind, LineTracker, Submitted, show_keys

log = logging.getLogger("airlock.ssh.shell")

SHELL_MODES = ("lines", "review-session", "deny")

#: Ctrl-E then Ctrl-U: readline/zle move to the end and kill the whole line; a canonical
#: tty (dash, busybox) treats ^E as a character and ^U (VKILL) drops the whole line.
KILL_LINE = b"\x05\x15"


def shell_mode(channel: SessionChannel) -> str:
    """Per-target setting ``targets.NAME.shell`` (validated by config)."""
    mode = channel.conn.target.shell
    return mode if mode in SHELL_MODES else "deny"  # unknown setting: fail closed


async def open_shell_allowed(channel: SessionChannel, ctx: SessionContext) -> bool:
    """Decide whether an interactive session may start at all."""
    mode = shell_mode(channel)
    if mode == "lines":
        return True
    if mode == "deny":
        channel.fail(
            f"airlock: interactive shells are disabled on target {channel.conn.target.name!r}; "
            "use exec (ssh HOST COMMAND)",
            EXIT_REFUSED,
        )
        return False
    text = f"interactive shell on {channel.conn.target.name}"
    action = Action(
        ActionKind.SHELL_SESSION,
        text.encode(),
        text,
        Classification(
            ("interactive-shell",),
            frozenset({Category.UNKNOWN}),
            (f"host:{channel.conn.target.host}:{channel.conn.target.port}",),
            ("an interactive session is approved as a whole, not line by line",),
        ),
    )
    outcome = await channel.conn.checkpoint.decide(ctx, action)
    if not outcome.allowed:
        channel.fail(outcome.message or "airlock: refused", EXIT_REFUSED)
        return False
    channel.checked_lines = False
    return True


def line_action(line: Submitted) -> Action:
    """The checkpoint action for a submitted line.

    A line read with certainty is a shell line, classified by the shell classifier. Any
    other is decided as ``unknown`` (reviewed by the default policy, or refused per
    target by a policy rule) with what the gateway saw: the keys typed in a full-screen
    program, the screen text of an uncertain line (plus its own categories), and for
    hidden input only a placeholder: neither the secret nor a hash of it is recorded.
    Their raw bytes carry a NUL-delimited tag, so they can never share the checkpoint's
    exact-bytes cache entry with a shell line (no screen text holds a NUL).
    """
    if line.kind is LineKind.COMMAND:
        return Action(ActionKind.SHELL_LINE, line.text.encode(), line.text)
    tag = b"\x00airlock:" + line.kind.value.encode() + b"\x00"
    if line.kind is LineKind.HIDDEN:
        text = f"[hidden input] {line.why}"
        why = Classification.unknown(line.why, ("hidden-input",))
        return Action(ActionKind.SHELL_LINE, tag, text, why)
    if line.kind is LineKind.ALTERNATE:
        text = f"[full-screen program] {show_keys(line.keys)}"
        why = Classification.unknown(line.why, ("full-screen-input",))
        return Action(ActionKind.SHELL_LINE, tag + line.keys, text, why)
    text = line.text or show_keys(line.keys)
    classification = Classification.unknown(line.why, ("uncertain-line",))
    if line.text:
        classification = classification.merge(classify_shell(line.text))
    return Action(ActionKind.SHELL_LINE, tag + text.encode(), f"[uncertain] {text}", classification)


class ShellGate:
    """Sits between the client's keystrokes and the upstream PTY of one shell channel."""

    #: Output quiet time that means the shell has finished echoing what was typed. The
    #: line is read off the screen, so the Enter waits for the echo; 1 s caps the wait for
    #: keystrokes that echo nothing.
    QUIET_S = 0.02
    ECHO_CAP_S = 1.0

    def __init__(self, channel: SessionChannel, ctx: SessionContext) -> None:
        self.channel = channel
        self.ctx = ctx
        self.check_lines = channel.checked_lines
        cols, rows = (80, 24)
        if channel.pty is not None:
            cols, rows = channel.pty[1][0] or 80, channel.pty[1][1] or 24
        self.tracker = LineTracker(cols, rows)
        self._pending = bytearray()  # input that arrived while a line was being decided
        self._busy = False
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._last_output = loop.time()
        self._last_input = 0.0
        self._output = asyncio.Event()
        self._hidden_output = False

    def resize(self, cols: int, rows: int) -> None:
        self.tracker.resize(cols, rows)

    def upstream_output(self, data: bytes) -> None:
        # Echo of a line typed at a secret prompt is not recorded either (invariant 5).
        hidden = self.check_lines and self.tracker.secret_line
        try:
            self.tracker.feed_output(data)
        except Exception:  # never end the session over output; start a fresh screen
            log.exception("terminal emulation failed; tracking restarts on a blank screen")
            self.tracker = LineTracker(self.tracker.screen.columns, self.tracker.screen.lines)
        self._last_output = self._loop.time()
        self._output.set()
        if not hidden:
            self._hidden_output = False
            self.channel.conn.record("term_output", data, channel=self.channel.number)
        elif not self._hidden_output:
            self._hidden_output = True
            self.channel.conn.record(
                "write", "term_output", channel=self.channel.number, hidden=True
            )

    def client_input(self, data: bytes) -> None:
        if not self.check_lines:
            # Never record what is typed at a password prompt (invariant 5).
            self.channel.conn.record(
                "term_input", data, self.tracker.echo, channel=self.channel.number
            )
            self.channel.send_upstream(data)
            return
        if self._busy:
            self._pending += data
            return
        self._process(data)

    def _process(self, data: bytes) -> None:
        """Forward keystrokes up to the next key that may submit a line; hold that key.

        Keys at a prompt are recorded with their line once it is decided, when the
        gateway knows whether they were echoed; keys in a full-screen program act at
        once (vim's ``dd``), so they are recorded as they pass."""
        try:
            forward, entered, rest = self.tracker.feed_input(data)
        except Exception:  # fail closed: these keys are not sent
            log.exception("key tracking failed; input dropped")
            self.tracker.discard_line()
            self.channel.write_stderr("\r\nairlock: input dropped (internal error)")
            return
        if forward:
            if self.tracker.alternate:
                self._record_keys(forward, echo=True)
            self._last_input = self._loop.time()
            self.channel.send_upstream(forward)
        if not entered:
            return
        self._busy = True
        self.channel.pause("shell-line")
        self._pending[:0] = rest
        self._loop.create_task(self._decide())

    def flush_keys(self) -> None:
        """The channel ends: record keys typed at a prompt that no decision recorded (a
        line never submitted; keys a running program read), masked if nothing showed."""
        if not self.check_lines or self._busy:
            return
        with contextlib.suppress(Exception):
            keys = self.tracker.pending_keys()
            if keys:
                line = self.tracker.line()
                self._record_keys(keys, echo=line.kind is not LineKind.HIDDEN)
            self.tracker.discard_line()

    def _record_keys(self, keys: bytes, echo: bool) -> None:
        self.channel.conn.record("term_input", keys, echo, channel=self.channel.number)

    async def _echoed(self) -> None:
        """Wait until the shell has drawn what was typed (output after input, then quiet)."""
        deadline = self._loop.time() + self.ECHO_CAP_S
        while True:
            now = self._loop.time()
            if now >= deadline:
                return
            if self._last_output >= self._last_input and now - self._last_output >= self.QUIET_S:
                return
            self._output.clear()
            wait = self.QUIET_S if self._last_output >= self._last_input else deadline - now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._output.wait(), min(wait, deadline - now))

    def _send(self, data: bytes) -> None:
        self._last_input = self._loop.time()
        self.channel.send_upstream(data)

    async def _drop_line(self, message: str, line: Submitted) -> None:
        """Kill the refused line, say why, and ask for a fresh prompt only once the
        screen shows the line is really empty (never an Enter on a surviving line)."""
        if line.kind is LineKind.ALTERNATE:  # a full-screen program: only the key is dropped
            self.channel.write_stderr("\r\n" + message)
            return
        self._send(KILL_LINE)
        self.channel.write_stderr("\r\n" + message)
        await self._echoed()
        if line.kind is LineKind.COMMAND and not self.tracker.screen_text():
            self._send(b"\r")

    async def _decide(self) -> None:
        line: Submitted | None = None
        try:
            await self._echoed()
            line = self.tracker.line()
            if line.kind is not LineKind.ALTERNATE:
                self._record_keys(line.keys, echo=line.kind is not LineKind.HIDDEN)
            else:
                self._record_keys(line.enter, echo=True)
            if line.kind is LineKind.COMMAND and not line.text:
                self._send(line.enter)
                self.tracker.submitted()
            else:
                outcome = await self.channel.conn.checkpoint.decide(self.ctx, line_action(line))
                if outcome.allowed:
                    self._send(line.enter)
                    self.tracker.submitted()
                else:
                    await self._drop_line(outcome.message or "airlock: refused", line)
                    self.tracker.discard_line()
            # Type-ahead (a paste, an agent writing several lines, keys typed while held):
            # let the shell draw its next prompt first, so the next line is read off the
            # screen the way a human sees it.
            await self._echoed()
        except Exception:  # fail closed: drop the line
            log.exception("shell line decision failed")
            self.tracker.discard_line()
            if line is None or line.kind is not LineKind.ALTERNATE:
                self._send(KILL_LINE)
        finally:
            self._busy = False
            pending = bytes(self._pending)
            self._pending.clear()
            self.channel.resume("shell-line")
            if pending:
                self._process(pending)
