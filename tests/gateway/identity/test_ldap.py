"""LdapDirectory against a real slapd: binds, groups in every mode, keys, cache, outages."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from gateway.identity.ldap import DirectoryUnavailable, LdapDirectory
from gateway.identity.settings import parse_identity
from tests.support.slapd import BASE, PASSWORDS, Slapd, ldap_section


def directory(slapd: Slapd, clock: Any = time.monotonic, **extra: Any) -> LdapDirectory:
    settings = parse_identity({"identity": {"ldap": ldap_section(slapd, **extra)}}).ldap
    assert settings is not None
    return LdapDirectory(settings, clock)


async def test_password_bind_and_memberof_groups(slapd: Slapd, dave_key: asyncssh.SSHKey) -> None:
    raw = {"identity": {"person_attribute": "mail", "ldap": ldap_section(slapd)}}
    settings = parse_identity(raw).ldap
    assert settings is not None
    d = LdapDirectory(settings)
    try:
        found = await d.authenticate("dave", PASSWORDS["dave"])
        assert found is not None
        assert found.dn == f"uid=dave,ou=people,{BASE}"
        assert found.groups == {"ops", "dba"}
        assert found.ssh_keys == (dave_key.export_public_key().decode().strip(),)
        assert found.person == "dave@example.com"
    finally:
        d.close()


async def test_wrong_empty_and_unknown(slapd: Slapd) -> None:
    d = directory(slapd)
    try:
        assert await d.authenticate("dave", "wrong") is None
        # An empty password would be an "unauthenticated bind" that slapd accepts.
        assert await d.authenticate("dave", "") is None
        assert await d.authenticate("nobody", "x") is None
        assert await d.lookup("nobody") is None
    finally:
        d.close()


async def test_filter_injection_is_escaped(slapd: Slapd) -> None:
    d = directory(slapd)
    try:
        assert await d.lookup("*") is None
        assert await d.lookup("dave)(uid=*") is None
        assert await d.authenticate("*", PASSWORDS["dave"]) is None
    finally:
        d.close()


async def test_group_search_modes(slapd: Slapd) -> None:
    gb = f"ou=groups,{BASE}"
    names = directory(slapd, group_mode="groupOfNames", group_base=gb)
    posix = directory(slapd, group_mode="posixGroup", group_base=gb)
    try:
        assert (await names.lookup("dave")).groups == {"ops", "dba"}  # type: ignore[union-attr]
        assert (await posix.lookup("dave")).groups == {"devs"}  # type: ignore[union-attr]
        assert (await posix.lookup("frank")).groups == {"devs"}  # type: ignore[union-attr]
        assert (await names.lookup("frank")).groups == frozenset()  # type: ignore[union-attr]
    finally:
        names.close()
        posix.close()


async def test_find_by_person(slapd: Slapd) -> None:
    raw = {"identity": {"person_attribute": "mail", "ldap": ldap_section(slapd)}}
    settings = parse_identity(raw).ldap
    assert settings is not None
    d = LdapDirectory(settings)
    try:
        found = await d.find_by_person("erin@example.com")
        assert found is not None and found.user == "erin" and found.person == "erin@example.com"
        assert await d.find_by_person("nobody@example.com") is None
    finally:
        d.close()


async def test_lookup_cached_until_ttl_then_sees_removal(slapd: Slapd) -> None:
    now = [1000.0]
    d = directory(slapd, cache_ttl_s=30, clock=lambda: now[0])
    try:
        assert "ops" in (await d.lookup("gina")).groups  # type: ignore[union-attr]
        slapd.modify(
            f"dn: cn=ops,ou=groups,{BASE}\nchangetype: modify\ndelete: member\n"
            f"member: uid=gina,ou=people,{BASE}\n"
        )
        now[0] += 29
        assert "ops" in (await d.lookup("gina")).groups  # type: ignore[union-attr]
        now[0] += 2
        assert "ops" not in (await d.lookup("gina")).groups  # type: ignore[union-attr]
    finally:
        slapd.modify(
            f"dn: cn=ops,ou=groups,{BASE}\nchangetype: modify\nadd: member\n"
            f"member: uid=gina,ou=people,{BASE}\n"
        )
        d.close()


async def test_password_checks_are_never_cached(slapd: Slapd) -> None:
    d = directory(slapd, cache_ttl_s=3600)
    try:
        assert await d.authenticate("erin", PASSWORDS["erin"]) is not None
        assert await d.authenticate("erin", "not-" + PASSWORDS["erin"]) is None
    finally:
        d.close()


async def test_service_bind_refused_is_unavailable(slapd: Slapd, monkeypatch: Any) -> None:
    monkeypatch.setenv("AIRLOCK_TEST_WRONG_PW", "wrong")
    section = {**ldap_section(slapd), "bind_password_env": "AIRLOCK_TEST_WRONG_PW"}
    settings = parse_identity({"identity": {"ldap": section}}).ldap
    assert settings is not None
    d = LdapDirectory(settings)
    try:
        with pytest.raises(DirectoryUnavailable, match="service bind"):
            await d.lookup("dave")
    finally:
        d.close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A listener that completes TCP handshakes (kernel backlog) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield s.getsockname()[1]


async def test_slow_directory_refused_within_timeout(silent_port: int, tmp_path: Path) -> None:
    section = {"url": f"ldap://127.0.0.1:{silent_port}", "user_base": BASE, "timeout_s": 0.5}
    settings = parse_identity({"identity": {"ldap": section}}).ldap
    assert settings is not None
    d = LdapDirectory(settings)
    try:
        started = time.monotonic()
        with pytest.raises(DirectoryUnavailable, match=r"did not answer within 0\.5s"):
            await d.authenticate("dave", "pw")
        assert time.monotonic() - started < 1.5
    finally:
        d.close()


async def test_down_directory_refused(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    section = {"url": f"ldap://127.0.0.1:{port}", "user_base": BASE, "timeout_s": 2}
    settings = parse_identity({"identity": {"ldap": section}}).ldap
    assert settings is not None
    d = LdapDirectory(settings)
    try:
        started = time.monotonic()
        with pytest.raises(DirectoryUnavailable, match="Can't contact LDAP server"):
            await d.lookup("dave")
        assert time.monotonic() - started < 2
    finally:
        d.close()
