"""protocols.terminal: the submitted line is read off an emulated screen (pure, no I/O)."""

from __future__ import annotations

from protocols.terminal import LineTracker, Submitted


def typed(t: LineTracker, keys: bytes, echo: bytes | None = None) -> tuple[bytes, bool, bytes]:
    """Feed keystrokes, then the shell's echo of them (default: the printable keys)."""
    result = t.feed_input(keys)
    t.feed_output(echo if echo is not None else result[0])
    return result


def test_prompt_is_stripped_and_enter_withheld() -> None:
    t = LineTracker()
    t.feed_output(b"user@host:~$ ")
    forward, entered, rest = typed(t, b"ls -l\rpwd\r")
    assert (forward, entered, rest) == (b"ls -l", True, b"pwd\r")
    assert t.line() == Submitted("ls -l", b"\r")


def test_line_edits_come_from_the_screen() -> None:
    t = LineTracker()
    t.feed_output(b"$ ")
    t.feed_input(b"echo wrld")
    # readline's redraw after Left x3 and typing "o": cursor moves, rest of line redrawn
    t.feed_output(b"echo wrld\x08\x08\x08orld\x08\x08\x08")
    _, entered, _ = t.feed_input(b"\r")
    assert entered and t.line().text == "echo world"


def test_history_recall_and_completion_are_what_the_screen_shows() -> None:
    t = LineTracker()
    t.feed_output(b"$ ")
    t.feed_input(b"\x1b[A")
    t.feed_output(b"rm -rf /tmp/x")  # the shell drew the recalled line
    t.feed_input(b"\r")
    assert t.line().text == "rm -rf /tmp/x"


def test_wrapped_line_is_joined() -> None:
    t = LineTracker(cols=10, rows=5)
    t.feed_output(b"$ ")
    typed(t, b"echo 0123456789abc")
    t.feed_input(b"\r")
    assert t.line().text == "echo 0123456789abc"


def test_bracketed_paste_submits_each_line() -> None:
    t = LineTracker()
    t.feed_output(b"$ ")
    forward, entered, rest = t.feed_input(b"\x1b[200~ls\nrm x\n\x1b[201~")
    assert (forward, entered) == (b"ls", True)
    t.feed_output(b"ls")
    assert t.line() == Submitted("ls", b"\r")
    t.submitted()
    t.feed_output(b"\r\n$ ")
    forward, entered, rest = t.feed_input(rest)
    assert (forward, entered, rest) == (b"rm x", True, b"\x1b[201~")
    t.feed_output(b"rm x")
    assert t.line().text == "rm x"
    assert t.feed_input(rest) == (b"", False, b"")


def test_type_ahead_before_the_prompt_uses_the_last_prompt() -> None:
    t = LineTracker()
    t.feed_output(b"bash-5.2$ ")
    typed(t, b"true\r")
    t.submitted()
    t.feed_output(b"\r\n")
    t.feed_input(b"exit")  # typed before the next prompt was drawn
    t.feed_output(b"bash-5.2$ exit")
    t.feed_input(b"\r")
    assert t.line().text == "exit"


def test_ctrl_c_starts_a_new_line() -> None:
    t = LineTracker()
    t.feed_output(b"$ ")
    forward, entered, _ = typed(t, b"rm -rf /\x03", echo=b"rm -rf /^C\r\n$ ")
    assert not entered and forward.endswith(b"\x03")
    typed(t, b"ls")
    t.feed_input(b"\r")
    assert t.line().text == "ls"


def test_password_prompt_turns_echo_off_and_enter_is_not_a_command() -> None:
    t = LineTracker()
    t.feed_output(b"[sudo] password for alice: ")
    assert not t.echo
    assert t.feed_input(b"hunter2\r") == (b"hunter2\r", False, b"")
    t.feed_output(b"\r\n$ ")
    assert t.echo


def test_alternate_screen_keys_are_not_commands() -> None:
    t = LineTracker()
    t.feed_output(b"$ vim x\r\n\x1b[?1049h")
    assert t.alternate
    assert t.feed_input(b":q!\r") == (b":q!\r", False, b"")
    t.feed_output(b"\x1b[?1049l$ ")
    assert not t.alternate
    assert t.feed_input(b"ls\r")[1]


def test_resize_keeps_tracking() -> None:
    t = LineTracker(80, 24)
    t.feed_output(b"$ ")
    t.resize(120, 40)
    assert (t.screen.columns, t.screen.lines) == (120, 40)
    typed(t, b"uptime")
    t.feed_input(b"\n")
    assert t.line() == Submitted("uptime", b"\n")
