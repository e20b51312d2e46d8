"""Invariant 8 against the real sftp client and raw SFTP packets: nothing acts on the gateway.

In these tests the gateway and the target share one machine, so a path can exist on both.
The gateway runs as root and the target logs in as the unprivileged test user: a request
that reached the gateway's own filesystem would succeed where the target must refuse it
(the gateway's directory is root's, mode 0700). Each test checks the gateway-side file
is unchanged afterwards.
"""

from __future__ import annotations

import os
import pwd
import struct
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncssh
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.recording.writer import Recorder
from tests.support.ssh_gateway import Gw, run, ssh_gateway
from tests.support.sshd import Sshd

POLICY = {
    "rules": [
        {
            "name": "transfers",
            "decision": "allow",
            "kinds": ["sftp"],
            "categories": ["read", "write", "export", "file-transfer", "privilege"],
        },
        {"name": "exec-reads", "decision": "allow", "kinds": ["exec"], "categories": ["read"]},
    ]
}


@pytest.fixture(scope="module")
def recorder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("transcripts")


@pytest.fixture(scope="module")
async def gw(sshd: Sshd, recorder_dir: Path) -> AsyncIterator[Gw]:
    recorder = Recorder(recorder_dir, Ed25519PrivateKey.generate())

    def factory(session):  # type: ignore[no-untyped-def]
        return recorder.open(session.id, user=session.identity.user, target=session.target)

    async with ssh_gateway(sshd, POLICY, recorder_factory=factory) as g:
        yield g
    await recorder.aclose()


@pytest.fixture
def victim(gw: Gw) -> Iterator[Path]:
    """A file only the gateway's process may touch: root's, in root's 0700 directory."""
    state = gw.directory / "state"
    state.mkdir(mode=0o700, exist_ok=True)
    path = state / f"audit-{os.getpid()}.key"
    path.write_bytes(b"gateway secret")
    os.chmod(path, 0o600)
    os.utime(path, (1_000_000_000, 1_000_000_000))
    yield path
    path.unlink(missing_ok=True)


def fingerprint(path: Path) -> tuple[int, int, int, int, bytes]:
    st = os.lstat(path)
    return st.st_mode, st.st_uid, st.st_gid, int(st.st_mtime), path.read_bytes()


def home(sshd: Sshd) -> Path:
    return Path(pwd.getpwnam(sshd.user).pw_dir)


async def sftp(gw: Gw, *commands: str) -> tuple[int, bytes, bytes]:
    batch = gw.directory / "batch-allowlist"
    batch.write_text("\n".join(commands) + "\n")
    return await run(gw.sftp_argv(batch), timeout=60)


async def connect(gw: Gw) -> asyncssh.SSHClientConnection:
    return await asyncssh.connect(
        "127.0.0.1",
        gw.port,
        username="agent",
        client_keys=[str(gw.client_key)],
        known_hosts=str(gw.known_hosts),
        agent_path=None,
    )


@pytest.mark.parametrize(
    "command", ["chown -h 4242 {p}", "chgrp -h 4242 {p}", "chmod -h 777 {p}", "chmod 777 {p}"]
)
async def test_openssh_metadata_commands_never_touch_the_gateway(
    gw: Gw, victim: Path, command: str
) -> None:
    before = fingerprint(victim)
    rc, _, err = await sftp(gw, command.format(p=victim))
    # The target (as the unprivileged user) cannot even see root's 0700 directory.
    assert rc != 0, err
    assert fingerprint(victim) == before


async def test_raw_lsetstat_of_a_gateway_file_is_not_applied_locally(gw: Gw, victim: Path) -> None:
    before = fingerprint(victim)
    async with await connect(gw) as conn, conn.start_sftp_client() as client:
        with pytest.raises(asyncssh.SFTPError):
            attrs = asyncssh.SFTPAttrs(atime=0, mtime=0, uid=4242, gid=4242)
            await client.setstat(str(victim), attrs, follow_symlinks=False)
    assert fingerprint(victim) == before


async def test_lsetstat_is_relayed_to_the_target_and_recorded(
    gw: Gw, sshd: Sshd, recorder_dir: Path
) -> None:
    entry = pwd.getpwnam(sshd.user)
    target = home(sshd) / "lsetstat-target.txt"
    target.write_bytes(b"x")
    os.chown(target, entry.pw_uid, entry.pw_gid)
    async with await connect(gw) as conn, conn.start_sftp_client() as client:
        attrs = asyncssh.SFTPAttrs(atime=1_500_000_000, mtime=1_500_000_000)
        await client.setstat(str(target), attrs, follow_symlinks=False)
    assert int(os.lstat(target).st_mtime) == 1_500_000_000
    text = "".join(p.read_text() for p in recorder_dir.rglob("*") if p.is_file())
    assert f"sftp lsetstat {target}" in text


REFUSED_EXTENSIONS = [
    b"copy-data",
    b"ranges@asyncssh.com",
    b"expand-path@openssh.com",
    b"home-directory",
    b"users-groups-by-id@openssh.com",
    b"no-such-extension@example.com",
]


@pytest.mark.parametrize("name", REFUSED_EXTENSIONS)
async def test_unlisted_extensions_are_unsupported(gw: Gw, sshd: Sshd, name: bytes) -> None:
    path = str(home(sshd) / "ext-src.txt").encode()
    (home(sshd) / "ext-src.txt").write_bytes(b"abc")
    async with await connect(gw) as conn, conn.start_sftp_client() as client:
        handle = await client.open(path, "rb")
        raw = handle._handle  # the wire handle, for requests asyncssh has no method for
        args = [struct.pack(">I", len(raw)) + raw, struct.pack(">QQ", 0, 0)]
        with pytest.raises(asyncssh.SFTPOpUnsupported):
            await client._handler._make_request(name, *args)
        await handle.close()


@pytest.mark.parametrize("pkttype", [21, 22, 23, 99, 200])
async def test_unlisted_packet_types_are_unsupported(gw: Gw, victim: Path, pkttype: int) -> None:
    before = fingerprint(victim)
    path = str(victim).encode()
    async with await connect(gw) as conn, conn.start_sftp_client() as client:
        with pytest.raises(asyncssh.SFTPOpUnsupported):
            await client._handler._make_request(
                pkttype,
                struct.pack(">I", len(path)) + path,
                struct.pack(">I", len(path) + 1) + path + b"x",
                b"\x00",
            )
    assert fingerprint(victim) == before


def _strings(data: bytes) -> Iterator[bytes]:
    while data:
        (n,) = struct.unpack(">I", data[:4])
        yield data[4 : 4 + n]
        data = data[4 + n :]


async def test_version_reply_advertises_only_relayed_extensions(gw: Gw) -> None:
    init = struct.pack(">IBI", 5, 1, 3)
    argv = gw.ssh_argv("agent", "sftp", options=["-s"])
    rc, out, err = await run(argv, stdin=init)
    (length,) = struct.unpack(">I", out[:4])
    packet = out[4 : 4 + length]
    assert packet[0] == 2, (rc, out, err)  # SSH_FXP_VERSION
    (version,) = struct.unpack(">I", packet[1:5])
    names = list(_strings(packet[5:]))[::2]
    assert version == 3
    assert set(names) == {
        b"posix-rename@openssh.com",
        b"hardlink@openssh.com",
        b"fsync@openssh.com",
        b"lsetstat@openssh.com",
        b"limits@openssh.com",
        b"statvfs@openssh.com",
        b"fstatvfs@openssh.com",
    }


async def test_other_subsystems_agent_and_x11_are_refused(gw: Gw) -> None:
    rc, _, _ = await run(gw.ssh_argv("agent", "netconf", options=["-s"]))
    assert rc != 0
    # Agent and X11 forwarding requests are refused: the remote side sees neither.
    argv = gw.ssh_argv(
        "agent",
        "echo agent=${SSH_AUTH_SOCK:-none} display=${DISPLAY:-none}",
        options=["-A", "-X", "-o", "ExitOnForwardFailure=no"],
    )
    rc, out, err = await run(argv, env={**os.environ, "DISPLAY": ":0", "SSH_AUTH_SOCK": "/x"})
    assert b"agent=none display=none" in out, err
