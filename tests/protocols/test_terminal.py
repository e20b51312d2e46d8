"""protocols.terminal: the submitted line is read off an emulated screen (pure, no I/O)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.terminal import PASTE_END, PASTE_START, LineKind, LineTracker, Submitted


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
    t.feed_input(b"echo wrld\x1b[D\x1b[D\x1b[Do")
    # readline's redraw after Left x3 and typing "o": cursor moves, rest of line redrawn
    t.feed_output(b"echo wrld\x08\x08\x08orld\x08\x08\x08")
    _, entered, _ = t.feed_input(b"\r")
    assert entered and t.line() == Submitted("echo world", b"\r")


def test_a_line_redrawn_behind_the_users_back_is_uncertain() -> None:
    """A background job overwrites the row with a harmless text after cursor moves."""
    t = LineTracker()
    t.feed_output(b"$ ")
    typed(t, b"rm -rf x")
    t.feed_input(b"\x1b[D\x1b[C\x01\x05")
    t.feed_output(b"\r$ echo hi\x1b[K")
    t.feed_input(b"\r")
    assert t.line().kind is LineKind.UNCERTAIN


def test_kill_keys_are_modelled() -> None:
    t = LineTracker()
    t.feed_output(b"$ ")
    typed(t, b"rm -rf x; ls")
    t.feed_input(b"\x1b[D\x1b[D\x15")  # Ctrl-U kills up to the cursor: "ls" is left
    t.feed_output(b"\r$ ls\x1b[K\x08\x08")
    t.feed_input(b"\r")
    assert t.line() == Submitted("ls", b"\r")


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


def test_password_prompt_input_is_hidden_but_still_held_for_a_decision() -> None:
    t = LineTracker()
    t.feed_output(b"[sudo] password for alice: ")
    assert not t.echo
    assert t.feed_input(b"hunter2\r") == (b"hunter2", True, b"")
    line = t.line()
    assert (line.kind, line.text) == (LineKind.HIDDEN, "")
    t.submitted()
    t.feed_output(b"\r\n$ ")
    assert t.echo


@pytest.mark.parametrize(
    "prompt",
    [
        b"Enter passphrase for key '/home/a/.ssh/id_ed25519': ",
        b"Enter PIN for 'PIV Card': ",
        b"OTP: ",
        b"Token: ",
        b"Passcode: ",
        b"Verification code: ",
        b"Password (again): ",
        b"Enter MFA code: ",
    ],
)
def test_every_secret_prompt_hides_what_is_typed(prompt: bytes) -> None:
    t = LineTracker()
    t.feed_output(prompt)
    assert not t.echo
    t.feed_input(b"s3cret\r")
    assert t.line().kind is LineKind.HIDDEN


def test_a_fake_password_prompt_does_not_make_a_command_pass() -> None:
    """PS1='Password: ' echoes what is typed: the line is still decided, never passed."""
    t = LineTracker()
    t.feed_output(b"Password: ")
    forward, entered, _ = typed(t, b"rm -rf x\r")
    assert entered and forward == b"rm -rf x"
    assert t.line().kind is not LineKind.COMMAND or t.line().text == "rm -rf x"


def test_echo_off_input_at_any_prompt_is_hidden_not_passed() -> None:
    """`stty -echo` at a plain prompt: the screen shows nothing, the keys were typed."""
    t = LineTracker()
    t.feed_output(b"$ ")
    assert t.feed_input(b"rm -rf x\r") == (b"rm -rf x", True, b"")
    assert t.line().kind is LineKind.HIDDEN
    t.submitted()
    t.feed_input(b"\x1b[A\r")  # history recall, drawn nowhere
    assert t.line().kind is LineKind.HIDDEN


def test_typed_then_erased_is_an_empty_line() -> None:
    t = LineTracker()
    t.feed_output(b"$ ")
    typed(t, b"ls", echo=b"ls\x08 \x08\x08 \x08")
    t.feed_input(b"\x7f\x7f")
    t.feed_input(b"\r")
    assert t.line() == Submitted("", b"\r")


def test_alternate_screen_input_is_held_and_not_read_as_a_command() -> None:
    t = LineTracker()
    t.feed_output(b"$ ")
    typed(t, b"tput smcup\r")
    t.submitted()
    t.feed_output(b"\r\n\x1b[?1049h")
    assert t.alternate
    assert t.feed_input(b"rm -rf x\r") == (b"rm -rf x", True, b"")
    line = t.line()
    assert line.kind is LineKind.ALTERNATE and line.keys == b"rm -rf x\r"
    t.submitted()
    assert t.feed_input(b":q!\x1b") == (b":q!\x1b", False, b"")  # Escape passes in vim
    t.feed_output(b"\x1b[?1049l$ ")
    assert not t.alternate
    t.feed_input(b"\r")
    assert t.line() == Submitted("", b"\r")  # the program's keys were not the shell's
    t.submitted()
    assert typed(t, b"ls\r")[1] and t.line() == Submitted("ls", b"\r")


def test_keys_typed_ahead_of_a_full_screen_exit_are_read_off_the_screen() -> None:
    """`ZQrm -rf x` in one chunk: vim quits, bash gets the rest; the Enter reads it."""
    t = LineTracker()
    t.feed_output(b"$ ")
    typed(t, b"vim\r")
    t.submitted()
    t.feed_output(b"\r\n\x1b[?1049h")
    assert t.feed_input(b"ZQrm -rf x") == (b"ZQrm -rf x", False, b"")
    t.feed_output(b"\x1b[?1049l$ rm -rf x")
    t.feed_input(b"\r")
    assert t.line() == Submitted("rm -rf x", b"\r")


@pytest.mark.parametrize("key", [b"\r", b"\n", b"\x0f"])
def test_every_submitting_key_is_held(key: bytes) -> None:
    t = LineTracker()
    t.feed_output(b"$ ")
    assert typed(t, b"rm -rf x" + key + b"ls") == (b"rm -rf x", True, b"ls")
    assert t.line() == Submitted("rm -rf x", key)


def test_ctrl_d_on_a_line_with_text_is_held_and_on_an_empty_line_passes() -> None:
    """dash: `rm -rf x` then Ctrl-D twice runs the line without any Enter."""
    t = LineTracker()
    t.feed_output(b"$ ")
    assert typed(t, b"rm -rf x\x04\x04") == (b"rm -rf x", True, b"\x04")
    assert t.line() == Submitted("rm -rf x", b"\x04")
    t.discard_line()  # refused: killed
    t.feed_output(b"\r$ \x1b[K")
    assert t.feed_input(b"\x04") == (b"\x04", False, b"")


def test_after_ctrl_o_the_prefilled_line_is_read_off_the_screen() -> None:
    t = LineTracker()
    t.feed_output(b"$ ")
    typed(t, b"true\x0f")
    t.submitted()
    t.feed_output(b"\r\n$ rm -rf x")  # operate-and-get-next recalled the next line
    t.feed_input(b"\r")
    assert t.line() == Submitted("rm -rf x", b"\r")


@pytest.mark.parametrize(
    "key",
    [b"\x1b#", b"\x1ba", b"\x1b\r", b"\x1bv", b"\x18\x05", b"\x16\n", b"\x1bj", b"\x1e",
     "\u00a3".encode()],
)  # fmt: skip
def test_keys_of_unknown_effect_are_held_and_uncertain(key: bytes) -> None:
    t = LineTracker()
    t.feed_output(b"$ ")
    forward, entered, rest = typed(t, b"#rm -rf x" + key + b"ls")
    assert (forward, entered, rest) == (b"#rm -rf x", True, b"ls")
    line = t.line()
    assert line.kind is LineKind.UNCERTAIN and line.enter == key
    t.submitted()  # allowed by a reviewer: the line goes on, and stays uncertain
    typed(t, rest)
    t.feed_input(b"\r")
    assert t.line().kind is LineKind.UNCERTAIN
    t.submitted()
    t.feed_input(b"\x03")  # a fresh line after Ctrl-C is certain again
    t.feed_output(b"^C\r\n$ ")
    typed(t, b"ls")
    t.feed_input(b"\r")
    assert t.line().kind is LineKind.COMMAND


def test_a_bare_escape_is_held() -> None:
    """vi mode: Escape enters command mode, where `v` edits and runs, `#` comments and runs."""
    t = LineTracker()
    t.feed_output(b"$ ")
    typed(t, b"ls")
    assert t.feed_input(b"\x1b") == (b"", True, b"")
    assert t.line().kind is LineKind.UNCERTAIN


def test_known_editing_keys_pass_without_a_decision() -> None:
    t = LineTracker()
    t.feed_output(b"$ ")
    keys = b"\x1b[D\x1b[C\x1bOH\x1bb\x1bf\x01\x05\x0b\x15\x17\x19\t\x7f\x0c\x12"
    assert t.feed_input(keys) == (keys, False, b"")


def test_a_screen_that_does_not_show_what_was_typed_is_uncertain() -> None:
    t = LineTracker()
    t.feed_output(b"$ ")
    typed(t, b"ls", echo=b"echo harmless")
    t.feed_input(b"\r")
    assert t.line().kind is LineKind.UNCERTAIN


def test_reverse_search_submits_the_line_it_found() -> None:
    t = LineTracker()
    t.feed_output(b"$ ")
    t.feed_input(b"\x12rm")
    t.feed_output(b"\r(reverse-i-search)`rm': rm -rf /tmp/x\x1b[K")
    t.feed_input(b"\r")
    assert t.line() == Submitted("rm -rf /tmp/x", b"\r")


def test_vim_output_does_not_raise() -> None:
    """pyte 0.8 raised TypeError on vim's ``CSI ? 4 m``, which ended the session."""
    t = LineTracker()
    t.feed_output(b"\x1b[?1049h\x1b[>4;2m\x1b[?4m\x1b[>4;m\x1b[?1;2r\x1b[?5P")
    assert t.alternate


_PIECES = [b"\x1b", b"[", b"?", b">", b";", b"0", b"1", b"4", b"m", b"h", b"l", b"J", b"K",
           b"H", b"r", b"P", b"\\", b"]", b"\x07", b"\x9b", b"a", b"\r", b"\n", b"\x08", b"\t",
           "\u00e9".encode(), "\u5b57".encode(), "\u0301".encode(), b"\xff", b"(", b"#", b"%",
           b"\x0f", b"\x16", b"\x03", b"\x7f", PASTE_START, PASTE_END, b"\x1b[?1049h", b"L",
           b"@", b"d"]  # fmt: skip
_CHUNK = st.one_of(
    st.binary(max_size=32), st.lists(st.sampled_from(_PIECES), max_size=24).map(b"".join)
)
_STEP = st.tuples(st.sampled_from(["out", "in", "resize"]), _CHUNK, st.integers(1, 30))


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 30), st.integers(1, 6), st.lists(_STEP, max_size=12))
def test_arbitrary_traffic_never_raises(
    cols: int, rows: int, steps: list[tuple[str, bytes, int]]
) -> None:
    """Fuzzed: pyte's own display raised IndexError on an empty cell (a combining mark at
    column 0) and after a resize left the cursor below the last row."""
    t = LineTracker(cols, rows)
    for what, data, n in steps:
        if what == "out":
            t.feed_output(data)
        elif what == "resize":
            t.resize(n, max(n // 5, 1))
        else:
            rest = data
            while rest:
                _, entered, rest = t.feed_input(rest)
                if entered:
                    assert isinstance(t.line(), Submitted)
                    t.submitted()


def test_resize_keeps_tracking() -> None:
    t = LineTracker(80, 24)
    t.feed_output(b"$ ")
    t.resize(120, 40)
    assert (t.screen.columns, t.screen.lines) == (120, 40)
    typed(t, b"uptime")
    t.feed_input(b"\n")
    assert t.line() == Submitted("uptime", b"\n")
