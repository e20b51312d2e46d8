"""Pure parts of the SSH gateway: login routing, env allowlist, SFTP op classification."""

from __future__ import annotations

import asyncssh
import pytest

from gateway.config import parse_config
from gateway.ssh.connection import allowed_env
from gateway.ssh.server import resolve_target, split_login
from gateway.ssh.sftp import _privileged_attrs, classify_op
from protocols.classification import Category


def config(user_targets: list[str] | None):
    ssh = {"protocol": "ssh", "host": "h", "user": "u"}
    user: dict[str, object] = {}
    if user_targets is not None:
        user["targets"] = user_targets
    return parse_config(
        {
            "users": {"alice": user},
            "targets": {
                "web": ssh,
                "db": ssh,
                "pg": {"protocol": "postgres", "host": "h", "user": "u"},
            },
        }
    )


def test_split_login() -> None:
    assert split_login("alice:web") == ("alice", "web")
    assert split_login("alice") == ("alice", None)
    assert split_login("alice:") == ("alice", "")
    targets = {"web", "db"}
    assert split_login("alice@web", targets) == ("alice", "web")
    assert split_login("alice:web", targets) == ("alice", "web")
    # An address-like user name stays whole unless its last part is a target.
    assert split_login("alice@corp.example", targets) == ("alice@corp.example", None)
    assert split_login("alice@corp.example@db", targets) == ("alice@corp.example", "db")
    assert split_login("@web", targets) == ("@web", None)


def test_single_target_may_be_omitted() -> None:
    target = resolve_target(config(["web"]), "alice", None)
    assert not isinstance(target, str) and target.name == "web"


@pytest.mark.parametrize(
    ("targets", "wanted", "message"),
    [
        (None, None, "name a target"),  # every ssh target allowed: two of them
        (["web"], "nope", "unknown target 'nope' (your SSH targets: web)"),
        (["web"], "db", "may not use target 'db'"),
        (None, "pg", "is a postgres target"),
    ],
)
def test_routing_errors_say_what_to_do(
    targets: list[str] | None, wanted: str | None, message: str
) -> None:
    result = resolve_target(config(targets), "alice", wanted)
    assert isinstance(result, str) and message in result


def test_env_allowlist() -> None:
    env = {"LANG": "C", "LC_ALL": "C", "TERM": "xterm", "AIRLOCK_REASON": "r",
           "LD_PRELOAD": "x", "BASH_ENV": "x", "LANGUAGE": "x", "lc_all": "x"}  # fmt: skip
    assert allowed_env(env) == {"LANG": "C", "LC_ALL": "C", "TERM": "xterm", "AIRLOCK_REASON": "r"}


@pytest.mark.parametrize(
    ("op", "categories"),
    [
        ("read", {Category.EXPORT, Category.FILE_TRANSFER}),
        ("write", {Category.WRITE, Category.FILE_TRANSFER}),
        ("write-truncate", {Category.WRITE, Category.DESTRUCTIVE, Category.FILE_TRANSFER}),
        ("remove", {Category.DESTRUCTIVE, Category.FILE_TRANSFER}),
        ("posix-rename", {Category.DESTRUCTIVE, Category.FILE_TRANSFER}),
        ("stat", {Category.READ}),
        ("frobnicate", {Category.UNKNOWN}),
    ],
)
def test_sftp_ops_are_classified_by_effect(op: str, categories: set[Category]) -> None:
    c = classify_op(op, ("/srv/data/x",))
    assert c.categories == categories
    if op != "frobnicate":
        assert c.objects == ("path:/srv/data/x",)


@pytest.mark.parametrize(
    ("op", "paths", "extra"),
    [
        ("write", (".ssh/authorized_keys",), {Category.PRIVILEGE}),
        ("write-truncate", ("/root/.ssh/authorized_keys",), {Category.PRIVILEGE}),
        ("write", ("/etc/cron.d/job",), {Category.ADMIN}),
        ("write", ("/etc/sudoers.d/agent",), {Category.ADMIN, Category.PRIVILEGE}),
        ("rename", ("/tmp/k", "/home/agent/.ssh/authorized_keys"), {Category.PRIVILEGE}),
        ("symlink", ("/etc/passwd", "/tmp/p"), {Category.ADMIN, Category.PRIVILEGE}),
        ("remove", ("/etc/systemd/system/x.service",), {Category.ADMIN}),
        ("setstat", (".bashrc",), {Category.ADMIN}),
        ("mkdir", ("/srv/data/new",), set()),
    ],
)
def test_sftp_writes_to_sensitive_targets_are_flagged_like_the_shell(
    op: str, paths: tuple[str, ...], extra: set[Category]
) -> None:
    """Uploading authorized_keys must not be a plain `write` when `echo >>` to it is not."""
    c = classify_op(op, paths)
    plain = classify_op(op, ("/srv/data/x",) * len(paths)).categories
    assert c.categories == plain | extra
    assert all(any(cat.value in r for r in c.reasons) for cat in extra)


def test_setstat_privilege() -> None:
    assert _privileged_attrs(asyncssh.SFTPAttrs(permissions=0o4755))
    assert _privileged_attrs(asyncssh.SFTPAttrs(uid=0, gid=0))
    assert not _privileged_attrs(asyncssh.SFTPAttrs(permissions=0o644))
    c = classify_op("setstat", ("f",), "sets mode 4755")
    assert Category.PRIVILEGE in c.categories
    assert classify_op("setstat", ("f",)).categories == {Category.WRITE}
