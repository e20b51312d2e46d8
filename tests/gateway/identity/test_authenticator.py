"""Authenticator: local users, API tokens (real SQLite store), LDAP users (real slapd)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from gateway.config import Config, parse_config
from gateway.identity.authenticator import Authenticator
from gateway.identity.ldap import LdapDirectory
from gateway.identity.passwords import check_password, make_verifier
from gateway.identity.tokens import create_token, parse_token, user_salt
from gateway.store.base import TokenRow
from gateway.store.sqlite import SqliteStore
from tests.support.slapd import BASE, PASSWORDS, Slapd, ldap_section

LOCAL_PW = "local-alice-pw"


def config(identity: dict[str, Any] | None = None) -> Config:
    raw: dict[str, Any] = {
        "users": {
            "alice": {
                "password_hash": str(make_verifier(LOCAL_PW)),
                "groups": ["dev"],
                "person": "alice@example.com",
            },
            "robot": {"groups": ["agents"]},  # token-only agent: no password
        },
    }
    if identity is not None:
        raw["identity"] = identity
    return parse_config(raw, Path("/nonexistent/airlock.toml"))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(tmp_path / "airlock.db")
    await s.open()
    yield s
    await s.close()


async def token_for(
    store: SqliteStore, auth: Authenticator, user: str, ttl: float | None = 3600
) -> tuple[TokenRow, str]:
    local = auth.users.get(user)
    salt = await user_salt(store, user, local.password_hash if local else None)
    return await create_token(store, user, ttl, "test", salt)


async def test_local_password(store: SqliteStore) -> None:
    auth = Authenticator(config(), store)
    ident = await auth.check_password("alice", LOCAL_PW)
    assert ident is not None and ident.source == "local" and ident.groups == {"dev"}
    assert await auth.check_password("alice", "wrong") is None
    assert await auth.check_password("alice", "") is None
    assert await auth.check_password("nobody", LOCAL_PW) is None
    assert await auth.check_password("robot", "") is None


async def test_token_is_a_password_and_a_scram_candidate(store: SqliteStore) -> None:
    auth = Authenticator(config(), store)
    row, token = await token_for(store, auth, "alice")
    assert token.startswith("alk_") and parse_token(token) == row.id
    assert token not in row.hash  # only the verifier is stored
    ident = await auth.check_password("alice", token)
    assert ident is not None
    assert (ident.source, ident.token_id, ident.groups) == ("token", row.id, {"dev"})
    cands = await auth.scram_candidates("alice")
    assert cands is not None
    assert [tid for _, tid in cands.verifiers] == [None, row.id]
    salts = {(v.salt, v.iterations) for v, _ in cands.verifiers}
    assert len(salts) == 1  # one SCRAM server-first message serves all candidates
    assert check_password(cands.verifiers[1][0], token)
    # A token works only for its own user.
    assert await auth.check_password("robot", token) is None


async def test_expired_and_revoked_tokens_are_dead(store: SqliteStore) -> None:
    auth = Authenticator(config(), store)
    expired, old = await token_for(store, auth, "robot", ttl=0.001)
    revoked, gone = await token_for(store, auth, "robot")
    live, good = await token_for(store, auth, "robot")
    await store.revoke_token(revoked.id, time.time())
    assert expired.expires_at is not None and expired.expires_at <= time.time()
    assert await auth.check_password("robot", old) is None
    assert await auth.check_password("robot", gone) is None
    ident = await auth.check_password("robot", good)
    assert ident is not None and ident.token_id == live.id
    cands = await auth.scram_candidates("robot")
    assert cands is not None and [t for _, t in cands.verifiers] == [live.id]


async def test_token_only_user_without_tokens_has_no_candidates(store: SqliteStore) -> None:
    auth = Authenticator(config(), store)
    assert await auth.scram_candidates("robot") is None
    assert await auth.scram_candidates("nobody") is None
    # The per-user salt is stable, so tokens created at different times share it.
    s1 = await user_salt(store, "robot", None)
    s2 = await user_salt(store, "robot", None)
    assert s1 == s2


async def test_token_with_stale_salt_still_works_in_cleartext(store: SqliteStore) -> None:
    auth = Authenticator(config(), store)
    # Issued against an older password hash (a different salt): unusable in SCRAM.
    other = await user_salt(store, "alice-old", None)
    row, token = await create_token(store, "alice", None, "old", other)
    cands = await auth.scram_candidates("alice")
    assert cands is not None and [t for _, t in cands.verifiers] == [None]
    ident = await auth.check_password("alice", token)
    assert ident is not None and ident.token_id == row.id


async def test_tokens_off_without_store() -> None:
    auth = Authenticator(config())
    assert await auth.check_password("alice", "alk_" + "0" * 16 + "_" + "x" * 43) is None


def ldap_auth(slapd: Slapd, store: SqliteStore | None = None, **extra: Any) -> Authenticator:
    return Authenticator(
        config({"person_attribute": "mail", "ldap": ldap_section(slapd, **extra)}), store
    )


async def test_ldap_password_login(slapd: Slapd) -> None:
    auth = ldap_auth(slapd)
    try:
        ident = await auth.check_password("dave", PASSWORDS["dave"])
        assert ident is not None
        assert (ident.user, ident.source, ident.person) == ("dave", "ldap", "dave@example.com")
        assert ident.groups == {"ops", "dba"}
        assert await auth.check_password("dave", "wrong") is None
        # SCRAM is impossible without tokens: the listener falls back to cleartext.
        assert await auth.scram_candidates("dave") is None
    finally:
        auth.close()


async def test_local_user_shadows_directory_user(slapd: Slapd) -> None:
    auth = ldap_auth(slapd)
    try:
        assert await auth.check_password("alice", PASSWORDS["alice"]) is None
        ident = await auth.check_password("alice", LOCAL_PW)
        assert ident is not None and ident.source == "local"
    finally:
        auth.close()


async def test_ldap_keys_and_identity(slapd: Slapd, dave_key: asyncssh.SSHKey) -> None:
    auth = ldap_auth(slapd)
    try:
        keys = await auth.authorized_keys("dave")
        assert keys == (dave_key.export_public_key().decode().strip(),)
        assert await auth.authorized_keys("nobody") == ()
        ident = await auth.identity("dave")
        assert ident is not None and ident.source == "ldap" and "ops" in ident.groups
    finally:
        auth.close()


async def test_ldap_user_with_token(slapd: Slapd, store: SqliteStore) -> None:
    auth = ldap_auth(slapd, store)
    try:
        row, token = await token_for(store, auth, "erin")
        cands = await auth.scram_candidates("erin")
        assert cands is not None and cands.identity.groups == {"ops"}
        assert [t for _, t in cands.verifiers] == [row.id]
        ident = await auth.check_password("erin", token)
        assert ident is not None and (ident.source, ident.groups) == ("token", {"ops"})
    finally:
        auth.close()


async def test_directory_down_refuses_with_a_clear_log(
    store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    section = {"url": "ldap://127.0.0.1:1", "user_base": BASE, "timeout_s": 1}
    auth = Authenticator(config({"ldap": section}), store)
    try:
        with caplog.at_level(logging.ERROR, "airlock.identity"):
            assert await auth.check_password("dave", "whatever") is None
            assert await auth.authorized_keys("dave") == ()
            assert await auth.identity("dave") is None
        assert "directory unavailable" in caplog.text
        assert "Can't contact LDAP server" in caplog.text
        # Local users keep working while the directory is down.
        assert await auth.check_password("alice", LOCAL_PW) is not None
    finally:
        auth.close()


async def test_approver_identities(slapd: Slapd) -> None:
    identity = {
        "slack_users": {"U1": "alice", "U2": "dave"},
        "person_attribute": "mail",
        "ldap": ldap_section(slapd),
    }
    auth = Authenticator(config(identity))
    try:
        a = await auth.approver_for_slack("U1")
        assert a is not None and a.user == "alice" and a.person_key == "alice@example.com"
        d = await auth.approver_for_slack("U2")
        assert d is not None and d.source == "ldap" and d.person_key == "dave@example.com"
        # Unmapped ids resolve through the person attribute: local first, then directory.
        local = await auth.approver_for_slack("U9", "Alice@Example.com")
        assert local is not None and local.user == "alice"
        erin = await auth.approver_for_slack("U9", "erin@example.com")
        assert erin is not None and erin.user == "erin"
        assert await auth.approver_for_slack("U9", "nobody@example.com") is None
        assert await auth.approver_for_slack("U9") is None
    finally:
        auth.close()


async def test_injected_directory_clock(slapd: Slapd) -> None:
    """The e2e tests inject a clock; the constructor keeps a given directory."""
    settings_auth = ldap_auth(slapd)
    assert settings_auth.settings.ldap is not None
    directory = LdapDirectory(settings_auth.settings.ldap, clock=lambda: 0.0)
    auth = Authenticator(config(), directory=directory, settings=settings_auth.settings)
    try:
        assert auth.directory is directory
    finally:
        auth.close()
        settings_auth.close()
