"""[identity] and [identity.ldap] parsing: defaults, and errors that name the exact key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.config import ConfigError
from gateway.identity.settings import parse_identity

BASIC = {"url": "ldap://dir.example:389", "user_base": "ou=people,dc=example"}


def ldap(**extra: Any) -> dict[str, Any]:
    return {"identity": {"ldap": {**BASIC, **extra}}}


def test_defaults() -> None:
    settings = parse_identity({})
    assert settings.ldap is None and settings.slack_users == {}
    assert settings.revocation_poll_s == 2.0
    s = parse_identity(ldap()).ldap
    assert s is not None
    assert (s.user_filter, s.group_mode, s.ssh_key_attribute) == (
        "(uid={user})", "memberOf", "sshPublicKey")  # fmt: skip
    assert (s.timeout_s, s.cache_ttl_s, s.pool_size, s.start_tls) == (5.0, 60.0, 4, False)


def test_search_modes_get_default_filters_and_need_a_base() -> None:
    s = parse_identity(ldap(group_mode="posixGroup", group_base="ou=groups")).ldap
    assert s is not None and "memberUid={user}" in s.group_filter
    with pytest.raises(ConfigError) as err:
        parse_identity(ldap(group_mode="groupOfNames"))
    assert err.value.key == "identity.ldap.group_base"


def test_secrets_and_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pw").write_text("s3cret\n")
    monkeypatch.setenv("LDAP_PW", "from-env")
    s = parse_identity(
        ldap(bind_dn="cn=svc", bind_password_file=str(tmp_path / "pw"), ca_file="ca.pem"),
        tmp_path,
    ).ldap
    assert s is not None and s.bind_password == "s3cret" and s.ca_file == tmp_path / "ca.pem"
    assert "s3cret" not in repr(s)
    s = parse_identity(ldap(bind_dn="cn=svc", bind_password_env="LDAP_PW")).ldap
    assert s is not None and s.bind_password == "from-env"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"identity": {"ldap": {"user_base": "x"}}}, "identity.ldap.url"),
        (ldap(url="http://x"), "identity.ldap.url"),
        (ldap(user_filter="(uid=bob)"), "identity.ldap.user_filter"),
        (ldap(group_mode="nested"), "identity.ldap.group_mode"),
        (ldap(timeout_s=0), "identity.ldap.timeout_s"),
        (ldap(cache_ttl_s=-1), "identity.ldap.cache_ttl_s"),
        (ldap(pool_size=0), "identity.ldap.pool_size"),
        (ldap(bind_password="inline"), "identity.ldap.bind_password"),
        (ldap(bind_dn="cn=svc"), "identity.ldap.bind_password_env"),
        (ldap(bind_dn="cn=svc", bind_password_env="AIRLOCK_NOT_SET_X"),
         "identity.ldap.bind_password_env"),
        (ldap(url="ldaps://x", start_tls=True), "identity.ldap.start_tls"),
        (ldap(usr_base="typo"), "identity.ldap.usr_base"),
        ({"identity": {"slack_users": {"U1": 3}}}, "identity.slack_users.U1"),
        ({"identity": {"slack_users": []}}, "identity.slack_users"),
        ({"identity": {"revocation_poll_s": 0}}, "identity.revocation_poll_s"),
        ({"identity": {"ldapp": {}}}, "identity.ldapp"),
        ({"identity": []}, "identity"),
    ],
)  # fmt: skip
def test_errors_name_the_key(raw: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_identity(raw)
    assert err.value.key == key
