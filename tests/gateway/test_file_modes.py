"""Issue 12 item 11: the state directory is 0700 and everything in it 0600, from creation.

Every test runs under a loose umask (022, the usual default), so a file that relies on the
umask instead of its own creation mode shows up as 0644 / 0755.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.cli import main
from gateway.keys import write_audit_key, write_ssh_host_key, write_tls_certificate
from gateway.recording.writer import Recorder
from gateway.store.base import SessionRow
from gateway.store.sqlite import SqliteStore


@pytest.fixture(autouse=True)
def loose_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def not_private(root: Path) -> dict[str, str]:
    """Everything under ``root`` (itself included) whose mode is not 0700 / 0600."""
    wrong: dict[str, str] = {}
    for path in [root, *root.rglob("*")]:
        want = 0o700 if path.is_dir() else 0o600
        if mode(path) != want:
            wrong[str(path.relative_to(root.parent))] = f"{mode(path):o}"
    return wrong


def test_keys_are_created_private(tmp_path: Path) -> None:
    keys = tmp_path / "state" / "keys"
    write_audit_key(keys / "audit_ed25519", keys / "audit_ed25519.pub")
    write_ssh_host_key(keys / "ssh_host_ed25519")
    write_tls_certificate(keys / "tls.crt", keys / "tls.key", ("localhost",))
    assert len(list(keys.iterdir())) == 6
    assert not_private(tmp_path / "state") == {}


def test_rewriting_a_loose_key_file_makes_a_private_one(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    old = keys / "ssh_host_ed25519"
    old.write_bytes(b"old key")
    os.chmod(old, 0o644)
    write_ssh_host_key(old)
    assert mode(old) == 0o600 and old.read_bytes() != b"old key"
    assert sorted(p.name for p in keys.iterdir()) == ["ssh_host_ed25519", "ssh_host_ed25519.pub"]


async def test_store_and_its_wal_are_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "airlock.db"
    store = SqliteStore(path)
    await store.open()
    row = SessionRow("s1", "ssh", "alice", (), "box", "", "", "n", 1.0, None, 0, 0, 0, 0, "")
    await store.session_started(row)
    assert Path(f"{path}-wal").exists() and Path(f"{path}-shm").exists()
    assert not_private(tmp_path / "state") == {}
    await store.close()


async def test_a_store_left_readable_by_an_older_version_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "airlock.db"
    sqlite3.connect(path).close()
    os.chmod(path, 0o644)
    store = SqliteStore(path)
    await store.open()
    await store.close()
    assert mode(path) == 0o600


async def test_transcripts_are_private(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "state" / "transcripts", Ed25519PrivateKey.generate())
    writer = recorder.open("a" * 32, user="alice", target="box")
    writer.statement(b"SELECT 1", "SELECT 1", verdict="allow", categories=["read"])
    writer.close()
    await recorder.aclose()
    assert list((tmp_path / "state").rglob("*.jsonl"))
    assert not_private(tmp_path / "state") == {}


def test_init_writes_a_private_state_dir_and_config(tmp_path: Path) -> None:
    home = tmp_path / "inst"
    argv = ["init", "--dir", str(home), "--admin-password", "a" * 12, "--agent-password", "b" * 12]
    assert main(argv) == 0
    assert not_private(home / "state") == {}
    assert mode(home / "airlock.toml") == 0o600  # password hashes


def test_init_force_over_loose_files_leaves_private_ones(tmp_path: Path) -> None:
    home = tmp_path / "inst"
    keys = home / "state" / "keys"
    keys.mkdir(parents=True)
    for name in ("tls.key", "audit_ed25519", "audit_ed25519.pub"):
        (keys / name).write_bytes(b"old")
        os.chmod(keys / name, 0o644)
    (home / "airlock.toml").write_text("old")
    os.chmod(home / "airlock.toml", 0o644)
    argv = ["init", "--dir", str(home), "--admin-password", "a" * 12, "--agent-password", "b" * 12]
    assert main([*argv, "--force"]) == 0
    assert not_private(home / "state") == {}
    assert mode(home / "airlock.toml") == 0o600
