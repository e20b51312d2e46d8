"""Run a real Airlock (the daemon's own composition root) in a thread with its own loop.

A thread, not the test's loop: tests then drive real clients (psql, pgbench, psycopg's
blocking API) without deadlocking the gateway, exactly as against a separate daemon.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import threading
from collections.abc import Coroutine, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import uvloop

from gateway.app import Airlock
from gateway.checkpoint import Checkpoint
from gateway.config import Config, parse_config
from gateway.identity.passwords import make_verifier
from gateway.keys import write_audit_key, write_tls_certificate
from tests.support.pg import UPSTREAM_PASSWORD, PgServer

T = TypeVar("T")

#: Clients reach the gateway over TLS by default, as real clients do (libpq's default
#: `prefer` takes TLS when offered); AIRLOCK_TEST_SSLMODE=disable runs the plain path.
SSLMODE = os.environ.get("AIRLOCK_TEST_SSLMODE", "require")


def asyncpg_ssl() -> ssl.SSLContext | bool:
    """asyncpg's `ssl=` for the same choice (the test certificate is self-signed)."""
    if SSLMODE == "disable":
        return False
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context


PASSWORDS = {"alice": "alice-pw-1", "bob": "bob-pw-2", "carol": "carol-pw-3"}
_HASHES = {name: str(make_verifier(pw, iterations=4096)) for name, pw in PASSWORDS.items()}


def base_config(state: Path, pg: PgServer, **sections: Any) -> dict[str, Any]:
    """A config dict for tests: port-0 listeners, three users, targets on the test server."""
    keys = state / "keys"
    if not (keys / "audit_ed25519").exists():
        write_audit_key(keys / "audit_ed25519", keys / "audit_ed25519.pub")
        write_tls_certificate(keys / "tls.crt", keys / "tls.key", ("localhost", "127.0.0.1"))
    os.environ["AIRLOCK_TEST_UPSTREAM_PASSWORD"] = UPSTREAM_PASSWORD
    targets: dict[str, Any] = {
        "main": {"protocol": "postgres", "host": pg.host, "port": pg.port, "user": "up_scram",
                 "database": "postgres", "password_env": "AIRLOCK_TEST_UPSTREAM_PASSWORD"},
        "app": {"protocol": "postgres", "host": pg.host, "port": pg.port, "user": "up_md5",
                "database": "app", "password_env": "AIRLOCK_TEST_UPSTREAM_PASSWORD"},
        "trusty": {"protocol": "postgres", "host": pg.host, "port": pg.port, "user": "postgres",
                   "database": "postgres"},
        "tls": {"protocol": "postgres", "host": "127.0.0.1", "port": pg.port, "user": "up_tls",
                "database": "postgres", "password_env": "AIRLOCK_TEST_UPSTREAM_PASSWORD",
                "sslmode": "verify-full", "sslrootcert": str(pg.cafile)},
        "down": {"protocol": "postgres", "host": "127.0.0.1", "port": 1, "user": "x",
                 "database": "postgres", "connect_timeout_s": 2},
    }  # fmt: skip
    config: dict[str, Any] = {
        "gateway": {"node": "test", "state_dir": str(state)},
        "postgres": {"listen": "127.0.0.1:0", "auth_failure_delay_s": 0.2,
                     "tls_cert": str(keys / "tls.crt"), "tls_key": str(keys / "tls.key")},
        "ssh": {"listen": "off"},
        "http": {"listen": "off"},
        # One session-scoped gateway serves many modules' deliberate bad logins from
        # 127.0.0.1; the throttle has its own tests with their own gateways.
        "identity": {"throttle": {"free_failures": 1000, "address_free_failures": 1000}},
        "users": {name: {"password_hash": h, "groups": ["dev"] if name != "carol" else ["dba"]}
                  for name, h in _HASHES.items()},
        "targets": targets,
        "policy": {"rules": [{"name": "allow-all-in-tests", "decision": "allow",
                              "categories": ["read", "write", "ddl", "transaction", "session",
                                             "export", "destructive", "admin", "code",
                                             "privilege", "tamper", "file-transfer",
                                             "forwarding", "unknown"]}]},
    }  # fmt: skip
    for key, value in sections.items():
        if key != "policy" and isinstance(value, Mapping) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


class GatewayThread:
    def __init__(self, config: Config, checkpoint: Checkpoint | None = None) -> None:
        self.config = config
        # The loop production runs (`airlock serve` installs uvloop); AIRLOCK_TEST_LOOP=asyncio
        # runs the suite on the standard library's loop instead, which works too.
        self.loop = (
            asyncio.new_event_loop()
            if os.environ.get("AIRLOCK_TEST_LOOP") == "asyncio"
            else uvloop.new_event_loop()
        )
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="airlock-test", daemon=True
        )
        self.thread.start()
        self.app: Airlock = self.call(self._build(checkpoint))
        self.bound = self.call(self.app.start())

    async def _build(self, checkpoint: Checkpoint | None) -> Airlock:
        return Airlock(self.config, checkpoint)

    @classmethod
    def from_dict(cls, data: dict[str, Any], checkpoint: Checkpoint | None = None) -> GatewayThread:
        return cls(parse_config(data), checkpoint)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    @property
    def port(self) -> int:
        assert self.bound.postgres is not None
        return self.bound.postgres

    def dsn(self, user: str = "alice", target: str = "main", **extra: str) -> str:
        parts = {"host": "127.0.0.1", "port": str(self.port), "user": user, "dbname": target,
                 "password": PASSWORDS.get(user, "nope"), "sslmode": SSLMODE, **extra}  # fmt: skip
        return " ".join(f"{k}='{v}'" for k, v in parts.items())

    def wait_sessions_closed(self, timeout: float = 10) -> None:
        """Until every session handler has finished its bookkeeping (store, transcript)."""

        async def drain() -> None:
            handlers = set(self.app.postgres.handlers) if self.app.postgres else set()
            if handlers:
                await asyncio.wait(handlers, timeout=timeout)

        self.call(drain(), timeout + 5)

    def stop(self) -> None:
        try:
            self.call(self.app.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
