"""Identity end to end: real psql/psycopg through the gateway, a real slapd, the real CLI.

The app wires `Authenticator(config, store)` and the SessionRegistry into both listeners;
these tests use that wiring as the daemon does.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from gateway.config import parse_config
from gateway.identity.authenticator import Authenticator
from gateway.identity.ldap import LdapDirectory
from gateway.identity.tokens import create_token, user_salt
from tests.support.gateway import PASSWORDS as LOCAL_PASSWORDS
from tests.support.gateway import GatewayThread, base_config
from tests.support.pg import PgServer
from tests.support.slapd import BASE, PASSWORDS, Slapd, ldap_section

ROOT = Path(__file__).resolve().parents[2]
POLICY = {
    "fallback": "deny",
    "rules": [
        {"name": "ops-may-change", "decision": "allow", "groups": ["ops", "agents"],
         "categories": ["read", "write", "ddl", "transaction", "session"]},
    ],
}  # fmt: skip
CHANGE = "CREATE TABLE IF NOT EXISTS t_identity (i int)"  # ddl: a temp table is only write


@pytest.fixture(scope="module")
def gw(pg: PgServer, slapd: Slapd, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    state = tmp_path_factory.mktemp("gw-identity")
    data = base_config(state, pg, policy=POLICY)
    data["users"] = {**data["users"], "robot": {"groups": ["agents"]}}
    # The revocation test runs the poller's sweep itself: the daemon's own poller (every
    # 2 s by default) raced it on a loaded machine and ended the session first.
    data["identity"] = {"person_attribute": "mail", "ldap": ldap_section(slapd),
                        "revocation_poll_s": 3600}  # fmt: skip
    gateway = GatewayThread.from_dict(data)
    registry = gateway.app.sessions
    # The CLI reads the same state directory through a config file of its own.
    users = "".join(
        f'[users.{n}]\npassword_hash = "{u["password_hash"]}"\n'
        for n, u in data["users"].items()
        if "password_hash" in u
    )
    cfg = state / "airlock.toml"
    cfg.write_text(
        f'[gateway]\nstate_dir = "{state}"\n[postgres]\nlisten = "off"\n'
        f'[ssh]\nlisten = "off"\n[http]\nlisten = "off"\n{users}'
        '[users.robot]\ngroups = ["agents"]\n[identity.ldap]\n'
        + "".join(f"{k} = {json.dumps(v)}\n" for k, v in data["identity"]["ldap"].items())
    )
    try:
        yield gateway, registry, cfg
    finally:
        gateway.stop()


def psql(gateway: GatewayThread, user: str, password: str, sql: str, **dsn: str) -> Any:
    env = {**os.environ, "PGPASSWORD": password, "PGCONNECT_TIMEOUT": "20"}
    parts = {"host": "127.0.0.1", "port": str(gateway.port), "user": user, "dbname": "main",
             "sslmode": "disable", **dsn}  # fmt: skip
    conninfo = " ".join(f"{k}={v}" for k, v in parts.items())
    return subprocess.run(
        ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", sql],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


def airlock(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip


def test_psql_with_ldap_password_and_groups(gw: Any) -> None:
    gateway, _, _ = gw
    out = psql(gateway, "dave", PASSWORDS["dave"], f"{CHANGE}; SELECT current_user")
    assert out.returncode == 0, out.stderr
    # Inside TLS the cleartext password is allowed too.
    out = psql(gateway, "erin", PASSWORDS["erin"], "SELECT 1", sslmode="require")
    assert out.returncode == 0, out.stderr
    # frank is in the directory but not in ops: the group rule does not apply to him.
    out = psql(gateway, "frank", PASSWORDS["frank"], CHANGE)
    assert out.returncode != 0
    assert "airlock" in out.stderr and "denied by the default policy" in out.stderr, out.stderr
    out = psql(gateway, "frank", PASSWORDS["frank"], "SELECT 1")
    assert out.returncode == 0, out.stderr


def test_wrong_ldap_password_and_shadowed_local_user(gw: Any) -> None:
    gateway, _, _ = gw
    out = psql(gateway, "dave", "not-daves-password", "SELECT 1")
    assert out.returncode != 0
    assert 'password authentication failed for user "dave"' in out.stderr
    out = psql(gateway, "alice", PASSWORDS["alice"], "SELECT 1")  # the LDAP alice's password
    assert 'password authentication failed for user "alice"' in out.stderr
    out = psql(gateway, "alice", LOCAL_PASSWORDS["alice"], "SELECT 1")
    assert out.returncode == 0, out.stderr


def test_token_create_use_scram_list_and_revoke_ends_session(gw: Any) -> None:
    gateway, registry, cfg = gw
    made = airlock("token", "create", "--config", str(cfg), "--user", "robot", "--ttl", "24h",
                   "--name", "ci-agent")  # fmt: skip
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("alk_") and "shown once" in made.stderr
    token_id = token.split("_")[1]
    # Only SCRAM can carry it here: require_auth makes libpq refuse anything else.
    dsn = (f"host=127.0.0.1 port={gateway.port} user=robot dbname=main sslmode=disable "
           "require_auth=scram-sha-256")  # fmt: skip
    with psycopg.connect(dsn, password=token, autocommit=True) as conn:
        assert conn.execute("SELECT 41 + 1").fetchone() == (42,)
        conn.execute(CHANGE)  # robot is in `agents`: the group rule allows it
        listed = airlock("token", "list", "--config", str(cfg), "--json")
        assert listed.returncode == 0, listed.stderr
        assert token not in listed.stdout and token_id in listed.stdout
        revoked = airlock("token", "revoke", "--config", str(cfg), token_id)
        assert revoked.returncode == 0, revoked.stderr
        # What the daemon's poller runs every identity.revocation_poll_s; run it now.
        assert gateway.call(registry.sweep(gateway.app.store)) == 1
        with pytest.raises(psycopg.OperationalError, match="token revoked"):
            conn.execute("SELECT 1")
    no_scram = dsn.replace("require_auth=scram-sha-256", "")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(no_scram, password=token).close()
    again = airlock("token", "revoke", "--config", str(cfg), token_id)
    assert again.returncode == 1
    listed = airlock("token", "list", "--config", str(cfg), "--json")
    assert '"status": "revoked"' in listed.stdout


def test_expired_token_refused_and_ldap_user_token(gw: Any) -> None:
    gateway, _, cfg = gw
    store = gateway.app.store

    async def make(user: str, ttl: float) -> str:
        salt = await user_salt(store, user, None)
        return (await create_token(store, user, ttl, "t", salt))[1]

    expired = gateway.call(make("robot", 0.001))
    out = psql(gateway, "robot", expired, "SELECT 1")
    assert 'password authentication failed for user "robot"' in out.stderr
    # A directory user's token works over SCRAM and carries the directory groups.
    made = airlock("token", "create", "--config", str(cfg), "--user", "erin", "--ttl", "1h")
    assert made.returncode == 0, made.stderr
    dsn = (f"host=127.0.0.1 port={gateway.port} user=erin dbname=main sslmode=disable "
           "require_auth=scram-sha-256")  # fmt: skip
    with psycopg.connect(dsn, password=made.stdout.strip(), autocommit=True) as conn:
        conn.execute(CHANGE)  # erin is in ops (from the directory)
    unknown = airlock("token", "create", "--config", str(cfg), "--user", "nobody")
    assert unknown.returncode == 1 and "not in the directory" in unknown.stderr


def test_removed_from_group_loses_access_after_ttl(gw: Any, slapd: Slapd) -> None:
    gateway, _, _ = gw
    now = [0.0]
    settings = Authenticator(gateway.config).settings
    assert settings.ldap is not None
    directory = LdapDirectory(
        type(settings.ldap)(**{**_fields(settings.ldap), "cache_ttl_s": 60.0}),
        clock=lambda: now[0],
    )
    _use_directory(gateway, directory)
    member = f"member: uid=gina,ou=people,{BASE}\n"
    try:
        assert psql(gateway, "gina", PASSWORDS["gina"], CHANGE).returncode == 0
        slapd.modify(f"dn: cn=ops,ou=groups,{BASE}\nchangetype: modify\ndelete: member\n{member}")
        # A password login refreshes the entry (binds are never cached) ...
        out = psql(gateway, "gina", PASSWORDS["gina"], CHANGE)
        assert out.returncode != 0
        # ... and a cached lookup (key logins, token logins) expires after the TTL.
        gateway.call(_lookup_groups(gateway, "gina"))
        slapd.modify(f"dn: cn=ops,ou=groups,{BASE}\nchangetype: modify\nadd: member\n{member}")
        assert "ops" not in gateway.call(_lookup_groups(gateway, "gina"))
        now[0] += 61
        assert "ops" in gateway.call(_lookup_groups(gateway, "gina"))
    finally:
        directory.close()
        _use_directory(gateway)


def _use_directory(gw: GatewayThread, directory: LdapDirectory | None = None) -> None:
    """Swap in an authenticator with a directory whose clock the test controls."""
    app = gw.app
    auth = Authenticator(gw.config, app.store, directory=directory)
    app.authenticator = auth
    assert app.postgres is not None
    app.postgres.reconfigure(gw.config, auth)


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}


async def _lookup_groups(gateway: GatewayThread, user: str) -> frozenset[str]:
    ident = await gateway.app.authenticator.identity(user)
    assert ident is not None
    return ident.groups


@pytest.mark.parametrize("kind", ["down", "slow"])
def test_directory_down_or_slow_refuses_within_timeout(
    pg: PgServer, tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        if kind == "slow":
            silent.listen(16)  # accepts (kernel backlog), never answers
        port = silent.getsockname()[1]
        section = {"url": f"ldap://127.0.0.1:{port}", "user_base": BASE, "timeout_s": 1.0}
        data = base_config(tmp_path, pg, identity={"ldap": section})
        gateway = GatewayThread(parse_config(data))
        try:
            started = time.monotonic()
            out = psql(gateway, "dave", PASSWORDS["dave"], "SELECT 1")
            elapsed = time.monotonic() - started
            assert out.returncode != 0
            assert 'password authentication failed for user "dave"' in out.stderr
            assert elapsed < 5, elapsed
            # Local users are unaffected by the directory outage.
            ok = psql(gateway, "alice", LOCAL_PASSWORDS["alice"], "SELECT 1")
            assert ok.returncode == 0, ok.stderr
        finally:
            gateway.stop()
    assert "directory unavailable" in caplog.text


def test_loop_is_not_blocked_by_a_slow_directory(pg: PgServer, tmp_path: Path) -> None:
    """python-ldap blocks; it must run in threads so other sessions keep flowing."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        section = {"url": f"ldap://127.0.0.1:{silent.getsockname()[1]}", "user_base": BASE,
                   "timeout_s": 3.0}  # fmt: skip
        gateway = GatewayThread(parse_config(base_config(tmp_path, pg, identity={"ldap": section})))
        try:
            stuck = asyncio.run_coroutine_threadsafe(
                gateway.app.authenticator.check_password("dave", "pw"), gateway.loop
            )
            started = time.monotonic()
            ok = psql(gateway, "alice", LOCAL_PASSWORDS["alice"], "SELECT 1")
            assert ok.returncode == 0, ok.stderr
            assert time.monotonic() - started < 2.5
            assert not stuck.done() or stuck.result() is None
            assert stuck.result(10) is None
        finally:
            gateway.stop()
