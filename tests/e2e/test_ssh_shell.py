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
