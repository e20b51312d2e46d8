"""TOML -> frozen dataclasses. The only place defaults live; every error names its key."""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gateway.approvals.config import parse_approvals
from gateway.audit import AuditSettings, syslog_address
from gateway.config_table import ConfigError as ConfigError
from gateway.config_table import Section, resolve_path, secret
from gateway.identity.passwords import parse_verifier
from gateway.identity.settings import parse_identity
from gateway.policy import load_policy


@dataclass(frozen=True, slots=True)
class Listen:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class PostgresListener:
    listen: Listen | None = Listen("127.0.0.1", 6432)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    require_tls: bool = False
    cleartext_on_loopback: bool = True
    max_message_bytes: int = 64 * 1024 * 1024
    startup_timeout_s: float = 10.0
    auth_failure_delay_s: float = 0.5
    hold_notice_interval_s: float = 0.0


@dataclass(frozen=True, slots=True)
class SshListener:
    listen: Listen | None = Listen("127.0.0.1", 2222)
    host_key: Path | None = None
    login_timeout_s: float = 30.0


@dataclass(frozen=True, slots=True)
class HttpListener:
    listen: Listen | None = Listen("127.0.0.1", 8080)
    public_url: str = "http://127.0.0.1:8080"
    metrics_auth: bool = True  # /metrics needs a user's password or an API token
    allowed_origins: tuple[str, ...] = ()  # browser origins besides public_url's own


@dataclass(frozen=True, slots=True)
class Recording:
    directory: Path
    durability: str = "os"
    rows_limit: int = 0
    rows_bytes_limit: int = 65536
    stream_bytes_limit: int = 1 << 20
    retention_days: int = 0
    redact_patterns: tuple[str, ...] = ()
    sensitive_columns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Keys:
    audit_key: Path
    audit_public: Path


@dataclass(frozen=True, slots=True)
class User:
    name: str
    password_hash: str | None = None
    groups: tuple[str, ...] = ()
    ssh_keys: tuple[str, ...] = ()
    person: str = ""
    targets: tuple[str, ...] = ()  # empty: every target the policy allows


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    protocol: str  # postgres | ssh
    host: str
    port: int
    user: str
    database: str = ""
    password: str | None = field(default=None, repr=False)
    sslmode: str = "disable"
    sslrootcert: Path | None = None
    key_file: Path | None = None
    known_hosts: Path | None = None
    connect_timeout_s: float = 10.0
    max_connections: int = 0
    shell: str = "lines"  # SSH interactive shells: lines | review-session | deny
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Config:
    path: Path | None
    node: str
    state_dir: Path
    store: str
    postgres: PostgresListener
    ssh: SshListener
    http: HttpListener
    recording: Recording
    keys: Keys
    users: Mapping[str, User]
    targets: Mapping[str, Target]
    policy_raw: Mapping[str, Any]
    raw: Mapping[str, Any]
    drain_timeout_s: float = 30.0
    audit: AuditSettings = field(default_factory=AuditSettings)

    @property
    def store_path(self) -> Path:
        return self.state_dir / "airlock.db"


def parse_listen(value: str, key: str) -> Listen | None:
    if value in ("", "off"):
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(key, f"must be HOST:PORT or 'off', got {value!r}")
    host = host.strip("[]") or "0.0.0.0"
    return Listen(host, int(port))


def _user(name: str, sec: Section) -> User:
    password_hash = sec.get("password_hash", str, "") or None
    if password_hash is not None:
        try:
            parse_verifier(password_hash)
        except ValueError as exc:
            raise ConfigError(sec.key("password_hash"), str(exc)) from exc
    user = User(
        name=name,
        password_hash=password_hash,
        groups=sec.strings("groups"),
        ssh_keys=sec.strings("ssh_keys"),
        person=sec.get("person", str, ""),
        targets=sec.strings("targets"),
    )
    sec.finish()
    return user


SSLMODES = ("disable", "require", "verify-ca", "verify-full")
SHELL_MODES = ("lines", "review-session", "deny")


def _target(name: str, sec: Section, base: Path) -> Target:
    protocol = sec.require("protocol", str)
    if protocol not in ("postgres", "ssh"):
        raise ConfigError(sec.key("protocol"), f"must be 'postgres' or 'ssh', got {protocol!r}")
    default_port = 5432 if protocol == "postgres" else 22
    port = sec.get("port", int, default_port)
    if not 0 < port < 65536:
        raise ConfigError(sec.key("port"), f"must be 1-65535, got {port}")
    sslmode = sec.get("sslmode", str, "disable")
    if sslmode not in SSLMODES:
        raise ConfigError(sec.key("sslmode"), f"must be one of {', '.join(SSLMODES)}")
    rootcert = sec.get("sslrootcert", str, "")
    key_file = sec.get("key_file", str, "")
    known_hosts = sec.get("known_hosts", str, "")
    shell = sec.get("shell", str, "lines")
    if shell not in SHELL_MODES:
        raise ConfigError(sec.key("shell"), f"must be one of {', '.join(SHELL_MODES)}")
    options = sec.get("options", dict, {})
    if not all(isinstance(v, str) for v in options.values()):
        raise ConfigError(sec.key("options"), "values must be strings")
    target = Target(
        name=name,
        protocol=protocol,
        host=sec.require("host", str),
        port=port,
        user=sec.require("user", str),
        database=sec.get("database", str, name if protocol == "postgres" else ""),
        password=secret(sec, "password"),
        sslmode=sslmode,
        sslrootcert=resolve_path(base, rootcert) if rootcert else None,
        key_file=resolve_path(base, key_file) if key_file else None,
        known_hosts=resolve_path(base, known_hosts) if known_hosts else None,
        connect_timeout_s=sec.positive("connect_timeout_s", float, 10.0),
        max_connections=sec.get("max_connections", int, 0),
        shell=shell,
        options=dict(options),
    )
    if sslmode.startswith("verify") and target.sslrootcert is None:
        raise ConfigError(sec.key("sslrootcert"), f"is required with sslmode={sslmode}")
    sec.finish()
    return target


def parse_config(data: Mapping[str, Any], path: Path | None = None) -> Config:
    base = path.parent if path else Path.cwd()
    root = Section(data, "")
    gw = root.table("gateway")
    state_dir = resolve_path(base, gw.get("state_dir", str, "state"))
    node = gw.get("node", str, os.uname().nodename)
    store = gw.get("store", str, "sqlite")
    if store != "sqlite" and not store.startswith(("postgresql://", "postgres://")):
        raise ConfigError("gateway.store", "must be 'sqlite' or a postgresql:// URL")
    drain_timeout_s = gw.get("drain_timeout_s", float, 30.0)
    if drain_timeout_s < 0:
        raise ConfigError("gateway.drain_timeout_s", f"must be >= 0, got {drain_timeout_s!r}")
    gw.finish()

    pg = root.table("postgres")
    cert = pg.get("tls_cert", str, "")
    key = pg.get("tls_key", str, "")
    if bool(cert) != bool(key):
        raise ConfigError(
            "postgres.tls_key" if cert else "postgres.tls_cert", "set both or neither"
        )
    postgres = PostgresListener(
        listen=parse_listen(pg.get("listen", str, "127.0.0.1:6432"), pg.key("listen")),
        tls_cert=resolve_path(base, cert) if cert else None,
        tls_key=resolve_path(base, key) if key else None,
        require_tls=pg.get("require_tls", bool, False),
        cleartext_on_loopback=pg.get("cleartext_on_loopback", bool, True),
        max_message_bytes=pg.positive("max_message_bytes", int, 64 * 1024 * 1024),
        startup_timeout_s=pg.positive("startup_timeout_s", float, 10.0),
        auth_failure_delay_s=pg.get("auth_failure_delay_s", float, 0.5),
        hold_notice_interval_s=pg.get("hold_notice_interval_s", float, 0.0),
    )
    if postgres.require_tls and postgres.tls_cert is None:
        raise ConfigError("postgres.require_tls", "needs postgres.tls_cert and postgres.tls_key")
    pg.finish()

    ssh_sec = root.table("ssh")
    host_key = ssh_sec.get("host_key", str, "")
    ssh = SshListener(
        listen=parse_listen(ssh_sec.get("listen", str, "127.0.0.1:2222"), ssh_sec.key("listen")),
        host_key=resolve_path(base, host_key) if host_key else None,
        login_timeout_s=ssh_sec.positive("login_timeout_s", float, 30.0),
    )
    ssh_sec.finish()

    http_sec = root.table("http")
    http_listen = parse_listen(http_sec.get("listen", str, "127.0.0.1:8080"), "http.listen")
    http = HttpListener(
        listen=http_listen,
        public_url=http_sec.get("public_url", str, f"http://{http_listen or '127.0.0.1:8080'}"),
        metrics_auth=http_sec.get("metrics_auth", bool, True),
        allowed_origins=tuple(
            _origin(o, http_sec.key("allowed_origins")) for o in http_sec.strings("allowed_origins")
        ),
    )
    http_sec.finish()

    rec = root.table("recording")
    durability = rec.get("durability", str, "os")
    if durability not in ("os", "fsync"):
        raise ConfigError("recording.durability", "must be 'os' or 'fsync'")
    recording = Recording(
        directory=resolve_path(state_dir, rec.get("directory", str, "transcripts")),
        durability=durability,
        rows_limit=rec.get("rows_limit", int, 0),
        rows_bytes_limit=rec.get("rows_bytes_limit", int, 65536),
        stream_bytes_limit=rec.positive("stream_bytes_limit", int, 1 << 20),
        retention_days=rec.get("retention_days", int, 0),
        redact_patterns=rec.strings("redact_patterns"),
        sensitive_columns=rec.strings("sensitive_columns"),
    )
    _check_regexes(recording.redact_patterns, "recording.redact_patterns")
    rec.finish()

    keys_sec = root.table("keys")
    audit = resolve_path(state_dir, keys_sec.get("audit_key", str, "keys/audit_ed25519"))
    keys = Keys(
        audit_key=audit,
        audit_public=resolve_path(state_dir, keys_sec.get("audit_public", str, f"{audit}.pub")),
    )
    keys_sec.finish()

    audit_sec = root.table("audit")
    audit_file = audit_sec.get("file", str, "")
    audit_syslog = audit_sec.get("syslog", str, "")
    if audit_syslog:
        try:
            syslog_address(audit_syslog)
        except ValueError as exc:
            raise ConfigError("audit.syslog", str(exc)) from None
    audit_settings = AuditSettings(
        file=resolve_path(base, audit_file) if audit_file else None, syslog=audit_syslog
    )
    audit_sec.finish()

    users_sec = root.table("users")
    users = {name: _user(name, users_sec.table(name)) for name in users_sec.data}
    targets_sec = root.table("targets")
    targets = {name: _target(name, targets_sec.table(name), base) for name in targets_sec.data}
    for user in users.values():
        for t in user.targets:
            if t not in targets:
                raise ConfigError(f"users.{user.name}.targets", f"names unknown target {t!r}")

    policy_raw = root.get("policy", dict, {})
    for extra in ("approvals", "identity", "limits", "log"):
        root.used.add(extra)  # validated by their own modules
    root.finish()
    config = Config(
        path=path,
        node=node,
        state_dir=state_dir,
        store=store,
        postgres=postgres,
        ssh=ssh,
        http=http,
        recording=recording,
        keys=keys,
        users=users,
        targets=targets,
        policy_raw=policy_raw,
        raw=data,
        drain_timeout_s=drain_timeout_s,
        audit=audit_settings,
    )
    _validate_policy(config)
    parse_identity(data, base)
    parse_approvals(data.get("approvals", {}))
    return config


def origin_of(value: str) -> str | None:
    """The browser origin of a URL, ``scheme://host[:port]`` lower-cased, or None."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username is not None:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


def _origin(value: str, key: str) -> str:
    """An origin from the config (no path, query or user), normalised, or a ConfigError."""
    found = origin_of(value)
    rest = value.strip().split("://", 1)[-1]
    if found is None or any(c in rest for c in "/?#"):
        raise ConfigError(key, f"must be an origin like https://host[:port], got {value!r}")
    return found


def _check_regexes(patterns: tuple[str, ...], key: str) -> None:
    for i, pattern in enumerate(patterns):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"{key}[{i}]", f"invalid regex: {exc}") from exc


def _validate_policy(config: Config) -> None:
    """Policy parses itself; surface its errors as config errors naming the key."""
    load_policy(config.policy_raw)


def load_config(path: Path | str) -> Config:
    path = Path(path).resolve()
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError("config", f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", f"{path}: invalid TOML: {exc}") from exc
    return parse_config(data, path)


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return host == "localhost"
