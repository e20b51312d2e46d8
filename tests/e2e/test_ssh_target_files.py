"""An SSH target's key_file and known_hosts are checked when `airlock serve` starts and
on SIGHUP: a typo is one line naming the key, not an agent's failed login later."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from tests.support.daemon import Daemon, airlock, write_config
from tests.support.pg import PgServer


def _files(directory: Path) -> tuple[Path, Path]:
    key = asyncssh.generate_private_key("ssh-ed25519")
    key_file = directory / "box_ed25519"
    key_file.write_bytes(key.export_private_key())
    host = asyncssh.generate_private_key("ssh-ed25519")
    known = directory / "known_hosts"
    known.write_text(f"[127.0.0.1]:22 {host.export_public_key().decode()}")
    return key_file, known


def _box(key_file: Path, known: Path) -> dict[str, Any]:
    return {"protocol": "ssh", "host": "127.0.0.1", "user": "deploy",
            "key_file": str(key_file), "known_hosts": str(known)}  # fmt: skip


@pytest.mark.parametrize(
    ("broken", "key"),
    [
        ({"key_file": "/nonexistent/key"}, "targets.box.key_file"),
        ({"known_hosts": "/nonexistent/known_hosts"}, "targets.box.known_hosts"),
        ({"known_hosts": None}, "targets.box.known_hosts"),
        ({"known_hosts": "GARBAGE"}, "targets.box.known_hosts"),
        ({"key_file": "GARBAGE"}, "targets.box.key_file"),
    ],
)
def test_serve_refuses_a_bad_ssh_target_file_naming_the_key(
    pg: PgServer, tmp_path: Path, broken: dict[str, Any], key: str
) -> None:
    key_file, known = _files(tmp_path)
    garbage = tmp_path / "garbage"
    garbage.write_text("this is not a key\n")
    box = _box(key_file, known)
    for name, value in broken.items():
        if value is None:
            box.pop(name)
        else:
            box[name] = str(garbage) if value == "GARBAGE" else value
    targets = {"box": box}
    config = write_config(tmp_path, pg, targets=targets)
    out = airlock("serve", "--config", str(config))
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert f"airlock: config error: {key}: " in out.stderr, out.stderr


def test_reload_refuses_a_bad_ssh_target_file(pg: PgServer, tmp_path: Path) -> None:
    key_file, known = _files(tmp_path)
    config = write_config(tmp_path, pg, targets={"box": _box(key_file, known)})
    daemon = Daemon(config)
    try:
        write_config(tmp_path, pg, targets={"box": _box(tmp_path / "gone", known)})
        daemon.signal(signal.SIGHUP)
        line = daemon.wait_log("reload rejected")
        assert "targets.box.key_file" in json.loads(line)["msg"]
        rejected = json.loads(daemon.wait_log('"event": "config.reload_rejected"'))
        assert "targets.box.key_file" in rejected["error"]
        write_config(tmp_path, pg, targets={"box": _box(key_file, known)})
        daemon.signal(signal.SIGHUP)
        daemon.wait_log("configuration reloaded")
    finally:
        daemon.stop()
