"""Real `sftp -b` and `scp` through SshGateway to a real sshd: relayed, classified, refused."""

from __future__ import annotations

import hashlib
import os
import pwd
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.ssh_gateway import Gw, run, ssh_gateway
from tests.support.sshd import Sshd

POLICY = {
    "rules": [
        {"name": "no-secrets", "decision": "deny", "kinds": ["sftp"], "objects": ["path:*secret*"]},
        {
            "name": "transfers",
            "decision": "allow",
            "kinds": ["sftp"],
            "categories": ["read", "write", "export", "file-transfer"],
        },
    ]
}


@pytest.fixture(scope="module")
async def gw(sshd: Sshd) -> AsyncIterator[Gw]:
    async with ssh_gateway(sshd, POLICY) as g:
        yield g


def remote(sshd: Sshd, name: str, data: bytes | None = None) -> Path:
    entry = pwd.getpwnam(sshd.user)
    path = Path(entry.pw_dir) / name
    if data is not None:
        path.write_bytes(data)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return path


async def sftp(gw: Gw, *commands: str) -> tuple[int, bytes, bytes]:
    batch = gw.directory / "batch"
    batch.write_text("\n".join(commands) + "\n")
    return await run(gw.sftp_argv(batch), timeout=120)


async def test_sftp_upload_and_download_with_checksums(gw: Gw, sshd: Sshd) -> None:
    size = 100 * 1024 * 1024  # the issue asks for 100 MB each way
    remote(sshd, "up.bin").unlink(missing_ok=True)
    local_up = gw.directory / "up.bin"
    local_up.write_bytes(os.urandom(size))
    down = os.urandom(size)
    remote(sshd, "down.bin", down)
    local_down = gw.directory / "down.bin"
    rc, _, err = await sftp(gw, f"put {local_up} up.bin", f"get down.bin {local_down}")
    assert rc == 0, err
    assert (
        hashlib.sha256(remote(sshd, "up.bin").read_bytes()).digest()
        == hashlib.sha256(local_up.read_bytes()).digest()
    )
    assert hashlib.sha256(local_down.read_bytes()).digest() == hashlib.sha256(down).digest()


async def test_scp_uses_sftp_and_is_relayed(gw: Gw, sshd: Sshd) -> None:
    data = os.urandom(300_000)
    remote(sshd, "scp-src.bin", data)
    dest = gw.directory / "scp-dest.bin"
    rc, _, err = await run(gw.scp_argv("agent@127.0.0.1:scp-src.bin", str(dest)))
    assert rc == 0, err
    assert dest.read_bytes() == data


async def test_listing_and_mkdir_are_allowed(gw: Gw, sshd: Sshd) -> None:
    remote(sshd, "listed.txt", b"x")
    name = f"dir-{os.getpid()}-{time.monotonic_ns()}"
    rc, out, err = await sftp(gw, f"mkdir {name}", "ls -1")
    assert rc == 0, err
    assert b"listed.txt" in out and name.encode() in out
    assert remote(sshd, name).is_dir()


async def test_download_of_denied_path_is_refused(gw: Gw, sshd: Sshd) -> None:
    remote(sshd, "secret.txt", b"top secret")
    local = gw.directory / "secret.txt"
    rc, _, err = await sftp(gw, f"get secret.txt {local}")
    assert rc != 0 and b"denied by rule no-secrets" in err
    assert not local.exists()


async def test_remove_is_destructive_and_held(gw: Gw, sshd: Sshd) -> None:
    keep = remote(sshd, "keep.txt", b"keep me")
    rc, _, err = await sftp(gw, "rm keep.txt")
    assert rc != 0 and b"approval required" in err
    assert keep.exists()
    action, _ = gw.reviewer.seen[-1]
    assert action.text == f"sftp remove {keep}"
    assert action.classification is not None
    assert {"destructive", "file-transfer"} <= set(action.classification.categories)


async def test_chmod_setuid_is_privilege_plain_chmod_is_not(gw: Gw, sshd: Sshd) -> None:
    target = remote(sshd, "tool.sh", b"#!/bin/sh\n")
    rc, _, err = await sftp(gw, "chmod 4755 tool.sh")
    assert rc != 0 and b"privilege" in err
    assert not target.stat().st_mode & 0o4000
    rc, _, err = await sftp(gw, "chmod 640 tool.sh")
    assert rc == 0, err
    assert target.stat().st_mode & 0o777 == 0o640


async def test_legacy_scp_protocol_is_classified_as_export(gw: Gw, sshd: Sshd) -> None:
    remote(sshd, "legacy.txt", b"old protocol")
    dest = gw.directory / "legacy.txt"
    rc, _, _ = await run(gw.scp_argv("-O", "agent@127.0.0.1:legacy.txt", str(dest)))
    assert rc != 0 and not dest.exists()
    action, _ = gw.reviewer.seen[-1]
    assert action.text.startswith("scp -f")


async def test_overwriting_a_file_is_destructive(gw: Gw, sshd: Sshd) -> None:
    existing = remote(sshd, "existing.txt", b"precious")
    local = gw.directory / "replacement.txt"
    local.write_bytes(b"junk")
    rc, _, err = await sftp(gw, f"put {local} existing.txt")
    assert rc != 0 and b"destructive" in err
    assert existing.read_bytes() == b"precious"


async def test_user_at_target_login_works_for_sftp_scp_and_ssh(gw: Gw, sshd: Sshd) -> None:
    """`multi` has three targets: `multi@box@host` names one in a form that sftp and scp
    pass through unchanged (they read `multi:box@host` as a host name)."""
    remote(sshd, "routed.txt", b"routed\n")
    batch = gw.directory / "routed-batch"
    batch.write_text("ls routed.txt\n")
    rc, out, err = await run(gw.sftp_argv(batch, login="multi@box"), timeout=120)
    assert rc == 0, err
    assert b"routed.txt" in out
    dest = gw.directory / "routed-copy.txt"
    rc, _, err = await run(gw.scp_argv("multi@box@127.0.0.1:routed.txt", str(dest)))
    assert rc == 0, err
    assert dest.read_bytes() == b"routed\n"
    rc, out, err = await run(gw.ssh_argv("multi@box", "cat", "routed.txt"))
    assert rc == 0, err
    assert out == b"routed\n"
