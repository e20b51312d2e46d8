"""Start a real OpenSSH ``sshd`` on a loopback port for tests (no mocks of what can run here).

The daemon runs as root (it must, to switch to the test user), logs in only the unprivileged
test user ``airlocktest`` with public-key auth, and serves SFTP with ``internal-sftp``. With
``CI=true`` a missing ``sshd`` is a failure, never a skip.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh
import pytest

from tests.support.servers import free_port

SSHD = "/usr/sbin/sshd"
TEST_USER = "airlocktest"


def require_sshd() -> None:
    """Skip (or, under CI, fail) when OpenSSH's server or client is not installed."""
    missing = [p for p in (SSHD, shutil.which("ssh"), shutil.which("sftp")) if not p]
    if not os.path.exists(SSHD) or missing:
        msg = "OpenSSH sshd/ssh/sftp not installed (apt-get install openssh-server)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    if os.geteuid() != 0:
        msg = "sshd tests need root (sshd switches to the test user)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)


def ensure_user(name: str = TEST_USER) -> pwd.struct_passwd:
    """Create the login user once: a `*` password is 'no password', `!` would mean locked."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "-m", "-s", "/bin/sh", "-p", "*", name], check=True, capture_output=True
        )
        return pwd.getpwnam(name)


def write_key(path: Path, key: asyncssh.SSHKey) -> Path:
    path.write_bytes(key.export_private_key())
    path.chmod(0o600)
    path.with_name(path.name + ".pub").write_bytes(key.export_public_key())
    return path


@dataclass
class Sshd:
    """A running sshd: where it listens, its host key, and a key that logs in as the user."""

    port: int
    directory: Path
    user: str
    client_key: Path  # private key accepted for `user` (what the gateway injects)
    host_key: asyncssh.SSHKey
    known_hosts: Path  # a known_hosts file naming this server's real key
    process: subprocess.Popen[bytes]
    log: list[str] = field(default_factory=list)

    def known_hosts_line(self, key: asyncssh.SSHKey | None = None) -> str:
        pub = (key or self.host_key).export_public_key().decode().strip()
        return f"[127.0.0.1]:{self.port} {pub}\n"


@contextmanager
def run_sshd(directory: Path | None = None, accept_env: str = "*") -> Iterator[Sshd]:
    """Run sshd until the block ends; without ``directory``, in a temporary one removed after.

    The directory is world-readable on purpose (sshd reads authorized_keys as the test
    user), so it is made under /tmp rather than pytest's private base directory.
    """
    if directory is None:
        with (
            tempfile.TemporaryDirectory(prefix="airlock-sshd-") as temporary,
            run_sshd(Path(temporary), accept_env) as server,
        ):
            yield server
        return
    require_sshd()
    user = ensure_user()
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    write_key(directory / "host_ed25519", host_key)
    client = asyncssh.generate_private_key("ssh-ed25519")
    client_path = write_key(directory / "upstream_ed25519", client)
    auth_keys = directory / "authorized_keys"
    auth_keys.write_bytes(client.export_public_key())
    auth_keys.chmod(0o644)  # sshd reads it as the user
    port = free_port()
    conf = directory / "sshd_config"
    conf.write_text(
        f"""ListenAddress 127.0.0.1
HostKey {directory / "host_ed25519"}
PidFile none
UsePAM no
StrictModes no
AuthorizedKeysFile {auth_keys}
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AllowUsers {user.pw_name}
AcceptEnv {accept_env}
Subsystem sftp internal-sftp
MaxSessions 200
MaxStartups 200:30:400
LogLevel INFO
"""
    )
    proc = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(conf), "-p", str(port)],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    known = directory / "known_hosts"
    server = Sshd(port, directory, user.pw_name, client_path, host_key, known, proc)
    known.write_text(server.known_hosts_line())
    ready = threading.Event()

    def drain() -> None:  # keep the pipe from filling; note readiness
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            server.log.append(line)
            if "Server listening" in line:
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    try:
        if not ready.wait(15) or proc.poll() is not None:
            raise RuntimeError("sshd did not start:\n" + "\n".join(server.log))
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
