"""The real OpenSSH client through SshGateway to a real OpenSSH sshd: exec, routing, refusals."""

from __future__ import annotations

import asyncio
import hashlib
import os
import pwd
from collections.abc import AsyncIterator
from pathlib import Path

import asyncssh
import pytest

from tests.support.ssh_gateway import PASSWORD, Gw, run, ssh_gateway
from tests.support.sshd import Sshd

POLICY = {
    "rules": [
        # The second held session of test_review_holds_one_session_while_others_flow.
        {"name": "stall", "decision": "review", "text": r"^echo stalled$"},
        # Let the tests produce exit statuses and signals with plain commands.
        {
            "name": "exit-codes",
            "decision": "allow",
            "text": r"^exit \d+$",
            "categories": ["unknown"],
        },
        {
            "name": "signals",
            "decision": "allow",
            "text": r"^kill -(TERM|KILL) \$\$$",
            "categories": ["admin", "tamper"],
        },
    ]
}


@pytest.fixture(scope="module")
async def gw(sshd: Sshd) -> AsyncIterator[Gw]:
    async with ssh_gateway(sshd, POLICY) as g:
        yield g


def home(sshd: Sshd) -> Path:
    return Path(pwd.getpwnam(sshd.user).pw_dir)


def user_file(sshd: Sshd, name: str, data: bytes) -> Path:
    path = home(sshd) / name
    path.write_bytes(data)
    entry = pwd.getpwnam(sshd.user)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    return path


async def test_exec_output_and_exit_status(gw: Gw) -> None:
    rc, out, err = await run(gw.ssh_argv("agent:box", "echo", "hello"))
    assert (rc, out) == (0, b"hello\n"), err
    rc, out, err = await run(gw.ssh_argv("agent:box", "exit 3"))
    assert rc == 3, err
    rc, out, err = await run(gw.ssh_argv("agent:box", "ls /nonexistent"))
    assert rc == 2 and b"No such file" in err


async def test_user_with_one_target_may_omit_it(gw: Gw) -> None:
    rc, out, _ = await run(gw.ssh_argv("agent", "echo", "ok"))
    assert (rc, out) == (0, b"ok\n")


async def test_exit_status_survives_many_execs(gw: Gw) -> None:
    """The status goes before EOF/close; 40 quick execs must all report it."""
    results = await asyncio.gather(*(run(gw.ssh_argv("agent", "exit 7")) for _ in range(40)))
    assert [rc for rc, _, _ in results] == [7] * 40


async def test_exit_signal_is_relayed(gw: Gw, sshd: Sshd) -> None:
    async with asyncssh.connect(
        "127.0.0.1", gw.port, username="agent", client_keys=[str(gw.client_key)],
        known_hosts=str(gw.known_hosts), agent_path=None, config=None,
    ) as conn:  # fmt: skip
        result = await conn.run("kill -TERM $$")
    assert result.exit_signal is not None and result.exit_signal[0] == "TERM"
    # The OpenSSH client reports a remote signal as 255 (it has no status to pass on).
    rc, _, _ = await run(gw.ssh_argv("agent", "kill -KILL $$"))
    assert rc == 255


async def test_stdin_is_streamed_and_eof_passed(gw: Gw) -> None:
    rc, out, _ = await run(gw.ssh_argv("agent", "cat"), stdin=b"line one\nline two\n")
    assert (rc, out) == (0, b"line one\nline two\n")


async def test_large_transfer_each_way(gw: Gw, sshd: Sshd) -> None:
    size = 100 * 1024 * 1024  # the issue asks for 100 MB each way
    up = os.urandom(size)
    rc, out, err = await run(gw.ssh_argv("agent", "sha256sum"), stdin=up, timeout=120)
    assert rc == 0, err
    assert out.split()[0].decode() == hashlib.sha256(up).hexdigest()
    down = os.urandom(size)
    user_file(sshd, "big.bin", down)
    rc, out, err = await run(gw.ssh_argv("agent", "cat big.bin"), timeout=120)
    assert rc == 0, err
    assert hashlib.sha256(out).hexdigest() == hashlib.sha256(down).hexdigest()


async def test_window_resize_reaches_upstream_pty(gw: Gw) -> None:
    async with asyncssh.connect(
        "127.0.0.1", gw.port, username="agent", client_keys=[str(gw.client_key)],
        known_hosts=str(gw.known_hosts), agent_path=None, config=None,
    ) as conn:  # fmt: skip
        proc = await conn.create_process(
            "stty size; cat >/dev/null; stty size", term_type="xterm", term_size=(80, 24)
        )
        first = await proc.stdout.readline()
        assert first.strip() == "24 80"
        proc.change_terminal_size(132, 50)
        proc.stdin.write("\x04")  # ^D ends cat on the PTY
        rest = await asyncio.wait_for(proc.stdout.read(), 20)
        assert "50 132" in rest
        await proc.wait()


@pytest.mark.parametrize(
    "command",
    [
        "ls;rm victim",
        "ls && rm -f victim",
        "env rm victim",
        "bash -c 'rm -f victim'",
        "echo cm0gdmljdGlt | base64 -d | sh",
        "sh",
        "$(printf rm) victim",
    ],
)
async def test_bypass_attempts_over_exec_are_refused(gw: Gw, sshd: Sshd, command: str) -> None:
    victim = user_file(sshd, "victim", b"still here")
    rc, out, err = await run(gw.ssh_argv("agent", command), stdin=b"rm -f victim\n")
    assert rc == 126, (out, err)
    assert err.startswith(b"airlock:")
    assert victim.exists()


async def test_unknown_and_forbidden_targets_are_explained(gw: Gw) -> None:
    rc, _, err = await run(gw.ssh_argv("agent:nowhere", "true"))
    assert rc == 255 and b"unknown target 'nowhere'" in err and b"box" in err
    rc, _, err = await run(gw.ssh_argv("agent:badkey", "true"))
    assert rc == 255 and b"may not use target 'badkey'" in err
    rc, _, err = await run(gw.ssh_argv("agent:db", "true"))
    assert rc == 255 and b"postgres target" in err
    rc, _, err = await run(gw.ssh_argv("multi", "true"))
    assert rc == 255 and b"name a target" in err


async def test_wrong_upstream_host_key_is_refused(gw: Gw) -> None:
    rc, out, err = await run(gw.ssh_argv("multi:badkey", "echo", "leak"))
    assert rc == 255 and out == b""
    assert b"does not match" in err and b"refusing" in err


async def test_target_without_known_hosts_is_refused(gw: Gw) -> None:
    rc, out, err = await run(gw.ssh_argv("multi:nohosts", "echo", "leak"))
    assert rc == 255 and out == b"" and b"no known_hosts" in err


async def test_wrong_key_and_unknown_user_cannot_log_in(gw: Gw) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519")
    path = gw.directory / "stranger"
    path.write_bytes(other.export_private_key())
    path.chmod(0o600)
    argv = gw.ssh_argv("agent", "true")
    argv[argv.index(str(gw.client_key))] = str(path)
    rc, _, err = await run(argv)
    assert rc == 255 and b"Permission denied" in err
    rc, _, err = await run(gw.ssh_argv("nobody:box", "true"))
    assert rc == 255 and b"Permission denied" in err


async def test_password_login_with_openssh_askpass(gw: Gw) -> None:
    askpass = gw.directory / "askpass.sh"
    askpass.write_text(f"#!/bin/sh\necho '{PASSWORD}'\n")
    askpass.chmod(0o700)
    argv = gw.ssh_argv(
        "agent:box",
        "echo",
        "pw-ok",
        options=["-o", "PubkeyAuthentication=no", "-o", "BatchMode=no"],
    )
    env = {**os.environ, "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force"}
    env.pop("DISPLAY", None)
    rc, out, err = await run(argv, env=env)
    assert (rc, out) == (0, b"pw-ok\n"), err


async def test_only_allowlisted_env_passes_and_reason_reaches_checkpoint(gw: Gw) -> None:
    argv = gw.ssh_argv(
        "agent",
        'echo "$FOO|$LANG|$LC_TIME|$AIRLOCK_REASON"',
        options=["-o", "SetEnv=FOO=bar LANG=C.UTF-8 LC_TIME=C AIRLOCK_REASON=rotate-keys"],
    )
    rc, out, err = await run(argv)
    assert (rc, out) == (0, b"|C.UTF-8|C|rotate-keys\n"), err
    ctx = next(c for c, a in reversed(gw.checked) if a.text.startswith('echo "$FOO'))
    assert ctx.session.reason == "rotate-keys"
    assert ctx.session.identity.user == "agent" and ctx.session.target == "box"


async def test_review_holds_one_session_while_others_flow(gw: Gw) -> None:
    """A held exec shows its request id on stderr; 100 other sessions complete meanwhile."""
    decision = gw.reviewer.hold("rm -f held-file; echo done")
    proc = await asyncio.create_subprocess_exec(
        *gw.ssh_argv("agent", "rm -f held-file; echo done"),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None and proc.stdout is not None
    line = await asyncio.wait_for(proc.stderr.readline(), 30)
    assert b"held for approval, request req-" in line
    release = gw.reviewer.hold("echo stalled")
    stalled = asyncio.ensure_future(run(gw.ssh_argv("agent", "echo stalled")))
    others = await asyncio.gather(*(run(gw.ssh_argv("agent", f"echo {i}")) for i in range(100)))
    assert [out for _, out, _ in others] == [f"{i}\n".encode() for i in range(100)]
    assert not stalled.done()
    release.set_result(True)
    assert (await stalled)[:2] == (0, b"stalled\n")
    assert proc.returncode is None  # still held
    decision.set_result(True)
    out = await asyncio.wait_for(proc.stdout.read(), 30)
    assert await proc.wait() == 0 and out == b"done\n"


async def test_review_denied_exits_126(gw: Gw) -> None:
    decision = gw.reviewer.hold("rm -f nothing-here")
    proc = await asyncio.create_subprocess_exec(
        *gw.ssh_argv("agent", "rm -f nothing-here"),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    line = await asyncio.wait_for(proc.stderr.readline(), 30)
    assert b"request req-" in line
    decision.set_result(False)
    rest = await proc.stderr.read()
    assert await proc.wait() == 126 and b"denied" in rest


async def test_forwarding_is_refused(gw: Gw, sshd: Sshd) -> None:
    rc, _, err = await run(gw.ssh_argv("agent", options=["-W", f"127.0.0.1:{sshd.port}"]))
    assert rc == 255 and b"forwarding failed" in err
    argv = gw.ssh_argv(
        "agent", options=["-N", "-o", "ExitOnForwardFailure=yes", "-R", "0:127.0.0.1:1"]
    )
    rc, _, err = await run(argv)
    assert rc == 255 and b"forwarding failed" in err
    async with asyncssh.connect(
        "127.0.0.1", gw.port, username="agent", client_keys=[str(gw.client_key)],
        known_hosts=str(gw.known_hosts), agent_path=None, config=None,
    ) as conn:  # fmt: skip
        with pytest.raises(asyncssh.ChannelOpenError):
            await conn.open_connection("127.0.0.1", sshd.port)
        with pytest.raises(asyncssh.ChannelListenError):
            await conn.forward_remote_port("127.0.0.1", 0, "127.0.0.1", 1)


async def test_policy_can_allow_a_local_forward_per_destination(sshd: Sshd) -> None:
    policy = {
        "rules": [
            {
                "name": "tunnel-to-sshd",
                "decision": "allow",
                "kinds": ["forward"],
                "targets": ["box"],
                "objects": [f"host:127.0.0.1:{sshd.port}"],
                "categories": ["forwarding"],
            }
        ]
    }
    async with ssh_gateway(sshd, policy) as gw2:
        async with asyncssh.connect(
            "127.0.0.1", gw2.port, username="agent", client_keys=[str(gw2.client_key)],
            known_hosts=str(gw2.known_hosts), agent_path=None, config=None,
        ) as conn:  # fmt: skip
            reader, writer = await conn.open_connection("127.0.0.1", sshd.port)
            banner = await asyncio.wait_for(reader.readline(), 20)
            assert banner.startswith(b"SSH-2.0-OpenSSH")
            writer.close()
            with pytest.raises(asyncssh.ChannelOpenError) as refused:
                await conn.open_connection("127.0.0.1", 1)
            assert "approval required" in refused.value.reason
        # The OpenSSH client's -W uses the same channel type.
        rc, _, err = await run(gw2.ssh_argv("agent", options=["-W", "127.0.0.1:1"]))
        assert rc == 255 and b"forwarding failed" in err


class _BrokenOutputRecorder:
    """Records statements, then fails on the first stdout event (disk full, say)."""

    def write(self, event_type: str, **fields: object) -> str:
        return "h"

    def decided(self, action: object, outcome: object) -> None:
        return None

    def exec(self, command: str, channel: object = 0, **extra: object) -> str:
        return "h"

    def output(self, stream: str, data: bytes, channel: object = 0) -> str | None:
        raise OSError("No space left on device")

    def exit(self, *args: object, **fields: object) -> str:
        return "h"

    def close(self, **fields: object) -> tuple[int, str]:
        return (0, "h")


async def test_unrecordable_output_ends_the_connection(sshd: Sshd) -> None:
    async with ssh_gateway(sshd, recorder_factory=lambda s: _BrokenOutputRecorder()) as gw2:  # type: ignore[arg-type,return-value]
        rc, out, _ = await run(gw2.ssh_argv("agent", "echo", "unrecorded"))
    assert rc == 255 and b"unrecorded" not in out


async def test_exec_reading_commands_from_stdin_is_not_allowed_by_default(sshd: Sshd) -> None:
    """`ed -s /dev/null` fed `!touch x` on stdin ran it unseen (issue 12 item 5)."""
    marker = home(sshd) / "ed-ran"
    marker.unlink(missing_ok=True)
    async with ssh_gateway(sshd) as gw2:  # the built-in default policy
        for command in ("ed -s /dev/null", "env ed -s /dev/null", "patch -p1", "tar xf -"):
            rc, out, err = await run(
                gw2.ssh_argv("agent", command), stdin=f"!touch {marker}\nq\n".encode()
            )
            assert rc == 126 and b"approval required" in err, (command, out, err)
            assert not marker.exists(), command
        rc, out, _ = await run(gw2.ssh_argv("agent", "cat"), stdin=b"just data\n")
        assert (rc, out) == (0, b"just data\n")


async def test_exec_stdin_is_recorded_bounded_and_redacted(sshd: Sshd, tmp_path: Path) -> None:
    """What the client sends on stdin is in the transcript: capped, secrets masked."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from gateway.recording.writer import Recorder

    directory = tmp_path
    recorder = Recorder(directory, Ed25519PrivateKey.generate(), stream_bytes_limit=4096)

    def factory(session):  # type: ignore[no-untyped-def]
        return recorder.open(session.id, user=session.identity.user, target=session.target)

    secret = "Pl4nted-St4te-S3cret"
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "QUJD" * 300 + "\n"
    key += "-----END OPENSSH PRIVATE KEY-----\n"
    stdin = f"first-line-of-stdin\npassword={secret}\n{key}".encode() + b"z" * 8000
    async with ssh_gateway(sshd, recorder_factory=factory) as gw2:
        rc, out, err = await run(gw2.ssh_argv("agent", "sha256sum"), stdin=stdin)
        assert rc == 0, err
        assert out.split()[0].decode() == hashlib.sha256(stdin).hexdigest()
    await recorder.aclose()
    text = "".join(p.read_text() for p in directory.rglob("*") if p.is_file())
    assert '"stdin"' in text and "first-line-of-stdin" in text
    assert secret not in text
    assert "QUJDQUJD" not in text
    assert '"truncated":true' in text.replace(" ", "")
    assert "z" * 5000 not in text


async def test_exec_stdin_that_carries_a_password_is_recorded_hidden(
    sshd: Sshd, tmp_path: Path
) -> None:
    """`sudo -S`, `read -s`, `--password-stdin`: the secret on stdin is not recorded."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from gateway.recording.writer import Recorder

    directory = tmp_path
    recorder = Recorder(directory, Ed25519PrivateKey.generate())
    secret = "Pl4ntedExecS3cret"
    policy = {"rules": [{"name": "read-pw", "decision": "allow", "text": r"^read -r pw",
                         "categories": ["read", "session"]}]}  # fmt: skip

    def factory(session):  # type: ignore[no-untyped-def]
        return recorder.open(session.id, user=session.identity.user, target=session.target)

    async with ssh_gateway(sshd, policy, recorder_factory=factory) as gw2:
        command = 'read -r pw </dev/stdin; echo "len=${#pw}"'
        rc, out, err = await run(gw2.ssh_argv("agent", command), stdin=f"{secret}\n".encode())
        assert (rc, out) == (0, b"len=17\n"), err
        state = gw2.directory
    await recorder.aclose()
    for root in (directory, state):
        for p in root.rglob("*"):
            if p.is_file():
                assert secret.encode() not in p.read_bytes(), p
    text = "".join(p.read_text() for p in directory.rglob("*") if p.is_file())
    assert '"stdin"' in text and '"hidden":true' in text.replace(" ", "")


async def test_exec_without_a_terminal_reading_commands_from_stdin_is_held(gw: Gw) -> None:
    """`ssh HOST ed FILE` reads unseen commands from the client's stream: held. (With a
    terminal the stdin model yields to the checked lines, tests/gateway/test_checkpoint_stdin.py;
    ed stays `code` by its own option model either way.)"""
    rc, _, err = await run(gw.ssh_argv("agent", "ed -s /dev/null"), stdin=b"q\n")
    assert rc == 126 and b"code" in err
