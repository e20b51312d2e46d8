"""Config: the example documents and loads; every error names its key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]


def test_example_config_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_DB_PASSWORD", "x")
    config = load_config(ROOT / "config.example.toml")
    assert config.targets["orders"].sslmode == "verify-full"
    assert config.targets["web1"].shell == "lines"
    assert config.users["alice"].groups == ("dba",)
    assert len(config.policy_raw["rules"]) == 3


def test_example_documents_every_key() -> None:
    """Every dataclass field of the config appears in config.example.toml."""
    import dataclasses

    from gateway import config as c

    text = (ROOT / "config.example.toml").read_text()
    for cls in (c.PostgresListener, c.SshListener, c.HttpListener, c.Recording, c.Keys,
                c.AuditSettings):  # fmt: skip
        for f in dataclasses.fields(cls):
            assert f"{f.name} =" in text, f"{cls.__name__}.{f.name} is undocumented"
    for cls in (c.User, c.Target):
        for f in dataclasses.fields(cls):
            if f.name in ("name", "password"):
                continue
            assert f"{f.name} =" in text, f"{cls.__name__}.{f.name} is undocumented"


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"gateway": {"store": "mysql://x"}}, "gateway.store"),
        ({"postgres": {"listen": "nope"}}, "postgres.listen"),
        ({"postgres": {"max_message_bytes": 0}}, "postgres.max_message_bytes"),
        ({"postgres": {"tls_cert": "a.crt"}}, "postgres.tls_key"),
        ({"postgres": {"require_tls": True}}, "postgres.require_tls"),
        ({"postgres": {"lisen": "x:1"}}, "postgres.lisen"),
        ({"recording": {"durability": "maybe"}}, "recording.durability"),
        ({"recording": {"redact_patterns": ["("]}}, "recording.redact_patterns[0]"),
        ({"users": {"a": {"password_hash": "plain"}}}, "users.a.password_hash"),
        ({"users": {"a": {"targets": ["zz"]}}}, "users.a.targets"),
        ({"targets": {"t": {"protocol": "mysql", "host": "h", "user": "u"}}}, "targets.t.protocol"),
        ({"targets": {"t": {"protocol": "postgres", "user": "u"}}}, "targets.t.host"),
        (
            {
                "targets": {
                    "t": {
                        "protocol": "postgres",
                        "host": "h",
                        "user": "u",
                        "sslmode": "verify-full",
                    }
                }
            },
            "targets.t.sslrootcert",
        ),
        (
            {"targets": {"t": {"protocol": "postgres", "host": "h", "user": "u", "password": "p"}}},
            "targets.t.password",
        ),
        (
            {
                "targets": {
                    "t": {
                        "protocol": "postgres",
                        "host": "h",
                        "user": "u",
                        "password_env": "NOPE_X",
                    }
                }
            },
            "targets.t.password_env",
        ),
        (
            {"targets": {"t": {"protocol": "ssh", "host": "h", "user": "u", "shell": "sometimes"}}},
            "targets.t.shell",
        ),
        (
            {"targets": {"t": {"protocol": "postgres", "host": "h", "user": "u", "port": 70000}}},
            "targets.t.port",
        ),
        ({"gateway": {"node": 5}}, "gateway.node"),
        ({"recording": {"stream_bytes_limit": 0}}, "recording.stream_bytes_limit"),
        ({"audit": {"syslog": "logs.example:514"}}, "audit.syslog"),
        ({"audit": {"syslog": "udp:logs.example:99999"}}, "audit.syslog"),
        ({"audit": {"file": 3}}, "audit.file"),
        ({"audit": {"fiel": "x"}}, "audit.fiel"),
        ({"bogus": {}}, "bogus"),
    ],
)
def test_errors_name_the_key(data: dict[str, object], key: str) -> None:
    os.environ.pop("NOPE_X", None)
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    assert info.value.key == key
    assert str(info.value).startswith(f"{key}: ")


def test_serve_exits_nonzero_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "airlock.toml"
    bad.write_text('[postgres]\nlisten = "127.0.0.1:99999"\n')
    out = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve", "--config", str(bad)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2
    assert "postgres.listen" in out.stderr


def test_serve_reports_unreadable_and_invalid_toml(tmp_path: Path) -> None:
    for content, expect in ((None, "cannot read"), ("[postgres\n", "invalid TOML")):
        path = tmp_path / "c.toml"
        if content is not None:
            path.write_text(content)
        out = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "serve", "--config", str(path)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert out.returncode == 2 and expect in out.stderr


def test_example_documents_the_approvals_keys() -> None:
    """Every key the approvals parser knows appears in config.example.toml."""
    import dataclasses

    from gateway.approvals.config import ApprovalsConfig

    text = (ROOT / "config.example.toml").read_text()
    for f in dataclasses.fields(ApprovalsConfig):
        if f.name in ("slack", "teams", "webhook"):
            assert f"[approvals.{f.name}]" in text
            continue
        assert f"{f.name} =" in text, f"approvals.{f.name} is undocumented"


def test_an_audit_file_that_cannot_be_opened_stops_serve_naming_the_key(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    config = tmp_path / "airlock.toml"
    config.write_text(f'[audit]\nfile = "{blocker}/audit.jsonl"\n')
    out = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve", "--config", str(config)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.startswith("airlock: config error: audit.file: cannot open"), out.stderr
