"""Interactive sessions: the real OpenSSH client on a real pty, through SshGateway, to bash.

Every wait is for expected output (no sleeps). The upstream user's login shell is dash; the
tests start bash (readline: history, completion, bracketed paste) as their first line.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.model import ActionKind
from tests.support.ssh_gateway import Gw, run, ssh_gateway
from tests.support.sshd import Sshd

POLICY = {
    "rules": [
        {
            "name": "bash",
            "decision": "allow",
            "kinds": ["shell-line"],
            "text": r"^exec bash --norc --noprofile$",
            "categories": ["code"],
        },
        {"name": "no-rm", "decision": "deny", "text": r"\brm\b", "categories": ["destructive"]},
        {
            "name": "fake-prompt",
            "decision": "allow",
            "kinds": ["shell-line"],
            "text": r"^PS1='Password: '$",
            "categories": ["session", "tamper"],
        },
    ]
}
PROMPT = re.compile(rb"(bash-[0-9.]+\$|\$) $")


@pytest.fixture(scope="module")
async def gw(sshd: Sshd) -> AsyncIterator[Gw]:
    async with ssh_gateway(sshd, POLICY) as g:
        yield g


class Terminal:
    """The OpenSSH client on the slave side of a pty; we type and read on the master."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.buf = bytearray()
        self.master = -1
        self.proc: asyncio.subprocess.Process | None = None
        self._data = asyncio.Event()

    async def start(self) -> None:
        master, slave = os.openpty()
        os.set_blocking(master, False)
        self.master = master
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
        )
        os.close(slave)
        asyncio.get_running_loop().add_reader(master, self._readable)

    def _readable(self) -> None:
        try:
            chunk = os.read(self.master, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            asyncio.get_running_loop().remove_reader(self.master)
        self.buf += chunk
        self._data.set()

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    async def expect(self, pattern: bytes | re.Pattern[bytes], timeout: float = 20) -> bytes:
        """Wait until the output so far matches; consume up to the match."""
        regex = pattern if isinstance(pattern, re.Pattern) else re.compile(re.escape(pattern))

        async def wait() -> bytes:
            while True:
                m = regex.search(self.buf)
                if m:
                    seen = bytes(self.buf[: m.end()])
                    del self.buf[: m.end()]
                    return seen
                self._data.clear()
                await self._data.wait()

        try:
            return await asyncio.wait_for(wait(), timeout)
        except TimeoutError as exc:
            raise AssertionError(
                f"timed out waiting for {regex.pattern!r}; got {bytes(self.buf)!r}"
            ) from exc

    async def close(self) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.type(b"exit\r")
        try:
            rc = await asyncio.wait_for(self.proc.wait(), 20)
        finally:
            asyncio.get_running_loop().remove_reader(self.master)
            os.close(self.master)
        return rc


async def open_bash(gw: Gw) -> Terminal:
    term = Terminal(gw.ssh_argv("agent", options=["-tt"]))
    await term.start()
    await term.expect(b"$ ")  # dash's prompt
    term.type(b"exec bash --norc --noprofile\r")
    await term.expect(PROMPT)
    return term


def lines_seen(gw: Gw) -> list[str]:
    return [a.text for _, a in gw.checked if a.kind is ActionKind.SHELL_LINE]


def victim(sshd: Sshd) -> Path:
    entry = pwd.getpwnam(sshd.user)
    path = Path(entry.pw_dir) / "victim"
    path.write_text("keep")
    os.chown(path, entry.pw_uid, entry.pw_gid)
    return path


async def test_typed_line_is_checked_and_runs(gw: Gw) -> None:
    term = await open_bash(gw)
    term.type(b"echo typed-$((40+2))\r")
    await term.expect(b"typed-42\r\n")
    assert lines_seen(gw)[-1] == "echo typed-$((40+2))"
    assert await term.close() == 0


async def test_denied_line_is_dropped_and_explained(gw: Gw, sshd: Sshd) -> None:
    path = victim(sshd)
    term = await open_bash(gw)
    term.type(b"ls; rm -f victim\r")
    await term.expect(b"denied by rule no-rm")
    term.type(b"echo after-denial\r")
    await term.expect(b"after-denial\r\n")
    assert path.exists()
    assert "echo after-denial" in lines_seen(gw)
    await term.close()


async def test_backspace_and_arrow_edits_are_what_gets_checked(gw: Gw) -> None:
    term = await open_bash(gw)
    term.type(b"echo abX\x7fc\r")
    await term.expect(b"abc\r\n")
    assert lines_seen(gw)[-1] == "echo abc"
    term.type(b"echo wrld\x1b[D\x1b[D\x1b[Do\r")
    await term.expect(b"world\r\n")
    assert lines_seen(gw)[-1] == "echo world"
    await term.close()


async def test_history_recall_is_checked_as_the_recalled_line(gw: Gw) -> None:
    term = await open_bash(gw)
    term.type(b"echo first-cmd\r")
    await term.expect(b"first-cmd\r\n")
    await term.expect(PROMPT)
    term.type(b"\x1b[A\r")  # Up, Enter
    await term.expect(b"first-cmd\r\n")
    assert lines_seen(gw)[-2:] == ["echo first-cmd", "echo first-cmd"]
    await term.close()


async def test_tab_completion_is_checked_as_completed(gw: Gw, sshd: Sshd) -> None:
    entry = pwd.getpwnam(sshd.user)
    (Path(entry.pw_dir) / "completeme-unique.txt").write_text("completed!\n")
    term = await open_bash(gw)
    term.type(b"cat complete\t")
    await term.expect(b"completeme-unique.txt")
    term.type(b"\r")
    await term.expect(b"completed!\r\n")
    assert lines_seen(gw)[-1] == "cat completeme-unique.txt"
    await term.close()


async def test_each_pasted_line_is_checked(gw: Gw, sshd: Sshd) -> None:
    path = victim(sshd)
    term = await open_bash(gw)
    term.type(b"\x1b[200~echo pasted-one\rrm -f victim\recho pasted-two\r\x1b[201~")
    await term.expect(b"pasted-one\r\n")
    await term.expect(b"denied by rule no-rm")
    await term.expect(b"pasted-two\r\n")
    assert path.exists()
    seen = lines_seen(gw)
    assert seen[-3:] == ["echo pasted-one", "rm -f victim", "echo pasted-two"]
    await term.close()


async def test_exec_with_tty_is_line_checked_too(gw: Gw, sshd: Sshd) -> None:
    """`ssh -t HOST 'exec bash'` must not be a way around line checks."""
    path = victim(sshd)
    term = Terminal(gw.ssh_argv("agent", "exec bash --norc --noprofile", options=["-tt"]))
    await term.start()
    await term.expect(b"approval required")  # bash as an exec is code: reviewed
    await term.close()
    term = Terminal(gw.ssh_argv("agent", "cat", options=["-tt"]))
    await term.start()
    term.type(b"rm -f victim\r")
    await term.expect(b"denied by rule no-rm")
    term.type(b"\x04")
    await term.close()
    assert path.exists()


async def test_shell_deny_mode_refuses_interactive_sessions(sshd: Sshd) -> None:
    async with ssh_gateway(sshd, POLICY, target_extra={"shell": "deny"}) as gw2:
        term = Terminal(gw2.ssh_argv("agent", options=["-tt"]))
        await term.start()
        await term.expect(b"interactive shells are disabled")
        assert await term.close() == 126


async def test_held_line_waits_for_approval_and_so_does_later_input(gw: Gw) -> None:
    command = "kill -0 $$ && echo approved-run"
    decision = gw.reviewer.hold(command)
    term = await open_bash(gw)
    term.type(command.encode() + b"\r")
    await term.expect(b"held for approval, request req-")
    term.type(b"echo typed-while-held\r")
    assert not decision.done()
    decision.set_result(True)
    seen = await term.expect(b"typed-while-held\r\n")
    assert seen.index(b"approved-run\r\n") < seen.index(b"echo typed-while-held")
    assert lines_seen(gw)[-2:] == [command, "echo typed-while-held"]
    await term.close()


async def test_transcript_records_terminal_but_never_echo_off_input(
    sshd: Sshd, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from gateway.recording.writer import Recorder

    directory = tmp_path / "transcripts"
    recorder = Recorder(directory, Ed25519PrivateKey.generate())
    policy = {
        "rules": [
            *POLICY["rules"],
            {
                "name": "read",
                "decision": "allow",
                "text": r"^read -rs -p",
                "categories": ["unknown", "read"],
            },
            {  # input at a password prompt is decided too (as unknown): allow it here
                "name": "hidden",
                "decision": "allow",
                "kinds": ["shell-line"],
                "text": r"^\[hidden input\]",
                "categories": ["unknown"],
            },
        ]
    }

    def factory(session):  # type: ignore[no-untyped-def]
        return recorder.open(session.id, user=session.identity.user, target=session.target)

    async with ssh_gateway(sshd, policy, recorder_factory=factory) as gw2:
        term = await open_bash(gw2)
        term.type(b'read -rs -p "Password: " pw; echo "len=${#pw}"\r')
        await term.expect(b"Password: ")
        term.type(b"hunter2\r")
        await term.expect(b"len=7")
        await term.close()
        rc, out, _ = await run(gw2.ssh_argv("agent", "echo", "exec-recorded"))
        assert (rc, out) == (0, b"exec-recorded\n")
    await recorder.aclose()
    text = "".join(p.read_text() for p in directory.rglob("*") if p.is_file())
    assert "hunter2" not in text
    assert '"hidden":true' in text.replace(" ", "")
    for event in ("term_input", "term_output", "statement", '"exec"', '"stdout"', '"exit"'):
        assert event in text, event


def fake_key(sshd: Sshd) -> Path:
    """A private-key-shaped file in the test user's ~/.ssh (what the lines try to read)."""
    entry = pwd.getpwnam(sshd.user)
    ssh_dir = Path(entry.pw_dir) / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    key = ssh_dir / "id_airlocktest"
    key.write_text("NOT-A-REAL-KEY-BUT-SECRET\n")
    for path in (ssh_dir, key):
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return key


async def test_a_directory_entered_on_an_earlier_line_is_followed(gw: Gw, sshd: Sshd) -> None:
    """`cd ~/.ssh` then `cat *`: the second line names no secret, the state does."""
    fake_key(sshd)
    term = await open_bash(gw)
    term.type(b"cd ~/.ssh\r")
    await term.expect(PROMPT)
    term.type(b"cat *\r")
    seen = await term.expect(b"approval required")
    term.type(b"echo after-refusal\r")
    seen += await term.expect(b"after-refusal\r\n")
    assert b"NOT-A-REAL-KEY" not in seen
    assert lines_seen(gw)[-3:] == ["cd ~/.ssh", "cat *", "echo after-refusal"]
    await term.close()


async def test_a_variable_set_on_an_earlier_line_is_followed(gw: Gw, sshd: Sshd) -> None:
    fake_key(sshd)
    term = await open_bash(gw)
    term.type(b"k=~/.ssh/id_\r")
    await term.expect(PROMPT)
    term.type(b"cat ${k}airlocktest\r")
    seen = await term.expect(b"approval required")
    term.type(b"echo after-refusal\r")
    seen += await term.expect(b"after-refusal\r\n")
    assert b"NOT-A-REAL-KEY" not in seen
    await term.close()


async def test_writing_authorized_keys_after_cd_is_privilege(gw: Gw, sshd: Sshd) -> None:
    key = fake_key(sshd)
    authorized = key.parent / "authorized_keys"
    before = authorized.read_bytes() if authorized.exists() else None
    term = await open_bash(gw)
    term.type(b"cd ~/.ssh && echo ssh-ed25519 AAAA evil >> authorized_keys\r")
    await term.expect(b"privilege")
    term.type(b"echo after-refusal\r")
    await term.expect(b"after-refusal\r\n")
    assert (authorized.read_bytes() if authorized.exists() else None) == before
    await term.close()


async def test_an_unknown_directory_makes_relative_reads_reviewed(gw: Gw) -> None:
    term = await open_bash(gw)
    term.type(b"cd /tmp && echo known-dir\r")  # exact: the cd succeeded
    await term.expect(b"known-dir\r\n")
    term.type(b'cd "$(echo /tmp)" && echo computed-cd\r')  # allowed; the directory is lost
    await term.expect(b"computed-cd\r\n")
    term.type(b"cat notes.txt\r")  # relative: could be any file now
    await term.expect(b"which could be any file")
    term.type(b"cat /etc/hostname >/dev/null && echo absolute-ok\r")
    await term.expect(b"absolute-ok\r\n")
    await term.close()


async def test_exec_follows_variables_within_its_line(gw: Gw, sshd: Sshd) -> None:
    fake_key(sshd)
    rc, out, err = await run(gw.ssh_argv("agent", "k=~/.ssh/id_; cat ${k}airlocktest"))
    assert rc == 126 and b"NOT-A-REAL-KEY" not in out
    assert b"export" in err


async def test_an_approved_exec_hands_its_directory_to_the_lines_after_it(
    gw: Gw, sshd: Sshd
) -> None:
    """`ssh -t HOST 'cd ~/.ssh && exec bash'`: the shell's lines start in ~/.ssh."""
    fake_key(sshd)
    command = "cd ~/.ssh && exec bash --norc --noprofile"
    gw.reviewer.hold(command).set_result(True)  # bash is code: a human approved it
    term = Terminal(gw.ssh_argv("agent", command, options=["-tt"]))
    await term.start()
    await term.expect(PROMPT)
    term.type(b"cat *\r")
    seen = await term.expect(b"approval required")
    assert b"NOT-A-REAL-KEY" not in seen
    await term.close()


async def test_alternate_screen_does_not_switch_checking_off(gw: Gw, sshd: Sshd) -> None:
    """One `tput smcup` turned line checks off for the rest of the session (issue 12.6)."""
    path = victim(sshd)
    term = await open_bash(gw)
    term.type(b"tput smcup\r")
    await term.expect(b"\x1b[?1049h")
    term.type(b"rm -f victim\r")
    await term.expect(b"approval required")
    assert path.exists()
    assert any(t.startswith("[full-screen program] rm -f victim") for t in lines_seen(gw))
    term.type(b"\x03")  # every Enter needs approval until the screen is left: ^C, ^D
    await term.expect(PROMPT)
    term.type(b"\x04")
    await term.close()


async def test_a_password_looking_prompt_does_not_skip_checks(gw: Gw, sshd: Sshd) -> None:
    path = victim(sshd)
    term = await open_bash(gw)
    term.type(b"PS1='Password: '\r")
    await term.expect(b"Password: ")
    term.type(b"rm -f victim\r")
    await term.expect(b"airlock:")
    assert path.exists()
    assert lines_seen(gw)[-1].startswith("[hidden input]")  # decided, as unknown
    term.type(b"\x04")  # every line at this prompt is decided as unknown: leave with ^D
    await term.close()


@pytest.mark.parametrize("key", [b"\x0f", b"\n"])
async def test_ctrl_o_and_ctrl_j_submit_through_the_check(gw: Gw, sshd: Sshd, key: bytes) -> None:
    path = victim(sshd)
    term = await open_bash(gw)
    term.type(b"rm -f victim" + key)
    await term.expect(b"denied by rule no-rm")
    term.type(b"echo after-key\r")
    await term.expect(b"after-key\r\n")
    assert path.exists()
    assert "rm -f victim" in lines_seen(gw)
    await term.close()


async def test_vim_neither_ends_the_session_nor_runs_unchecked_lines(gw: Gw, sshd: Sshd) -> None:
    """pyte raised on vim's output (the session ended); vim's `:!cmd<CR>` is held."""
    home = Path(pwd.getpwnam(sshd.user).pw_dir)
    pwned = home / "vim-ran-this"
    pwned.unlink(missing_ok=True)
    term = await open_bash(gw)
    term.type(b"vim -N notes.txt\r")  # (`-u NONE` is `code` by vim's option model)
    await term.expect(b"\x1b[?1049h")
    await term.expect(b"notes.txt")
    term.type(b":!touch vim-ran-this\r")
    await term.expect(b"approval required")
    term.type(b"\x1bZQ")  # quit without saving: no Enter needed
    await term.expect(b"\x1b[?1049l")
    term.type(b"echo still-$((40+2))\r")
    await term.expect(b"still-42\r\n")
    assert not pwned.exists()
    await term.close()


@pytest.mark.parametrize("prompt", ["Passphrase: ", "PIN: ", "OTP: "])
async def test_secret_typed_at_a_prompt_is_nowhere_in_the_state_dir(
    sshd: Sshd, prompt: str, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from gateway.recording.writer import Recorder

    directory = tmp_path
    recorder = Recorder(directory, Ed25519PrivateKey.generate())
    policy = {
        "rules": [
            *POLICY["rules"],
            {"name": "read", "decision": "allow", "text": r"^read -rs? -p",
             "categories": ["unknown", "read"]},
            {"name": "hidden", "decision": "allow", "kinds": ["shell-line"],
             "text": r"^\[hidden input\]", "categories": ["unknown"]},
        ]
    }  # fmt: skip
    secret = "Pl4ntedS3cretXyz"

    def factory(session):  # type: ignore[no-untyped-def]
        return recorder.open(session.id, user=session.identity.user, target=session.target)

    async with ssh_gateway(sshd, policy, recorder_factory=factory) as gw2:
        term = await open_bash(gw2)
        term.type(f'read -rs -p "{prompt}" pw; echo "len=${{#pw}}"\r'.encode())
        await term.expect(prompt.encode())
        term.type(secret.encode() + b"\r")
        await term.expect(b"len=16")
        term.type(f'read -r -p "{prompt}" pw; echo "n=${{#pw}}"\r'.encode())  # echo on
        await term.expect(prompt.encode())
        term.type(secret.encode() + b"\r")
        await term.expect(b"n=16")
        await term.close()
        seen = [a for _, a in gw2.checked]
        state = gw2.directory
    await recorder.aclose()
    assert any(a.text.startswith("[hidden input]") for a in seen)
    assert all(secret not in a.text and secret.encode() not in a.raw for a in seen)
    for root in (directory, state):
        for p in root.rglob("*"):
            if p.is_file():
                assert secret.encode() not in p.read_bytes(), p
    text = "".join(p.read_text() for p in directory.rglob("*") if p.is_file())
    assert '"hidden":true' in text.replace(" ", "")


async def test_ctrl_d_cannot_hand_a_line_to_dash_unchecked(gw: Gw, sshd: Sshd) -> None:
    """A canonical tty hands `rm -f victim` over on Ctrl-D; a second Ctrl-D runs it."""
    path = victim(sshd)
    term = Terminal(gw.ssh_argv("agent", options=["-tt"]))
    await term.start()
    await term.expect(b"$ ")  # dash: no line editor, the tty's canonical mode
    term.type(b"rm -f victim\x04")
    await term.expect(b"denied by rule no-rm")
    term.type(b"\x04")
    await term.close()
    assert path.exists()


async def test_keys_never_submitted_are_still_recorded(sshd: Sshd, tmp_path: Path) -> None:
    """Keys at a prompt are written with their line's decision; a line never submitted
    is written when the channel ends."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from gateway.recording.writer import Recorder

    directory = tmp_path
    recorder = Recorder(directory, Ed25519PrivateKey.generate())

    def factory(session):  # type: ignore[no-untyped-def]
        return recorder.open(session.id, user=session.identity.user, target=session.target)

    async with ssh_gateway(sshd, POLICY, recorder_factory=factory) as gw2:
        term = await open_bash(gw2)
        term.type(b"echo never-submitted-xyz")
        await term.expect(b"never-submitted-xyz")
        assert term.proc is not None
        term.proc.kill()
        await term.close()
    await recorder.aclose()
    text = "".join(p.read_text() for p in directory.rglob("*") if p.is_file())
    inputs = [line for line in text.splitlines() if '"term_input"' in line]
    assert any("never-submitted-xyz" in line for line in inputs)
