"""The `[identity]` and `[identity.ldap]` config tables, parsed into frozen values.

Parsed here (not in gateway.config) so identity owns its own keys; config validation calls
`parse_identity(config.raw)` and every error is a ConfigError naming the exact key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.config_table import ConfigError, Section, resolve_path, secret
from gateway.identity.throttle import ThrottleSettings, parse_throttle

GROUP_MODES = ("memberOf", "groupOfNames", "posixGroup")

#: The group search each mode uses unless `group_filter` says otherwise. `{dn}` is the
#: user's DN, `{user}` the login name; both are filter-escaped before substitution.
DEFAULT_GROUP_FILTERS = {
    "groupOfNames": "(&(objectClass=groupOfNames)(member={dn}))",
    "posixGroup": "(&(objectClass=posixGroup)(memberUid={user}))",
}


@dataclass(frozen=True, slots=True)
class LdapSettings:
    url: str
    user_base: str
    bind_dn: str = ""
    bind_password: str | None = field(default=None, repr=False)
    user_filter: str = "(uid={user})"
    login_attribute: str = "uid"  # the attribute holding the login name (approver lookups)
    group_mode: str = "memberOf"
    group_base: str = ""
    group_filter: str = ""
    group_name_attribute: str = "cn"
    membership_attribute: str = "memberOf"
    ssh_key_attribute: str = "sshPublicKey"
    person_attribute: str = ""
    start_tls: bool = False
    ca_file: Path | None = None
    timeout_s: float = 5.0
    cache_ttl_s: float = 60.0
    pool_size: int = 4


@dataclass(frozen=True, slots=True)
class IdentitySettings:
    ldap: LdapSettings | None = None
    slack_users: Mapping[str, str] = field(default_factory=dict)  # Slack user id -> user
    person_attribute: str = ""  # directory attribute naming the human (e.g. mail)
    revocation_poll_s: float = 2.0  # how often the daemon looks for revoked tokens
    throttle: ThrottleSettings = field(default_factory=ThrottleSettings)  # failed logins


def _ldap(sec: Section, base: Path, person_attribute: str) -> LdapSettings:
    url = sec.require("url", str)
    if not url.startswith(("ldap://", "ldaps://")):
        raise ConfigError(sec.key("url"), f"must start with ldap:// or ldaps://, got {url!r}")
    user_filter = sec.get("user_filter", str, "(uid={user})")
    if "{user}" not in user_filter:
        raise ConfigError(sec.key("user_filter"), "must contain {user}")
    mode = sec.get("group_mode", str, "memberOf")
    if mode not in GROUP_MODES:
        raise ConfigError(sec.key("group_mode"), f"must be one of {', '.join(GROUP_MODES)}")
    group_base = sec.get("group_base", str, "")
    if mode != "memberOf" and not group_base:
        raise ConfigError(sec.key("group_base"), f"is required with group_mode={mode!r}")
    ca_file = sec.get("ca_file", str, "")
    start_tls = sec.get("start_tls", bool, False)
    if start_tls and url.startswith("ldaps://"):
        raise ConfigError(sec.key("start_tls"), "is for ldap:// URLs; ldaps:// is already TLS")
    bind_dn = sec.get("bind_dn", str, "")
    password = secret(sec, "bind_password")
    if bind_dn and password is None:
        raise ConfigError(sec.key("bind_password_env"), "bind_dn needs a bind password")
    settings = LdapSettings(
        url=url,
        user_base=sec.require("user_base", str),
        bind_dn=bind_dn,
        bind_password=password,
        user_filter=user_filter,
        login_attribute=sec.get("login_attribute", str, "uid"),
        group_mode=mode,
        group_base=group_base,
        group_filter=sec.get("group_filter", str, DEFAULT_GROUP_FILTERS.get(mode, "")),
        group_name_attribute=sec.get("group_name_attribute", str, "cn"),
        membership_attribute=sec.get("membership_attribute", str, "memberOf"),
        ssh_key_attribute=sec.get("ssh_key_attribute", str, "sshPublicKey"),
        person_attribute=person_attribute,
        start_tls=start_tls,
        ca_file=resolve_path(base, ca_file) if ca_file else None,
        timeout_s=sec.positive("timeout_s", float, 5.0),
        cache_ttl_s=sec.get("cache_ttl_s", float, 60.0),
        pool_size=sec.positive("pool_size", int, 4),
    )
    if settings.cache_ttl_s < 0:
        raise ConfigError(sec.key("cache_ttl_s"), "must be >= 0")
    sec.finish()
    return settings


def parse_identity(raw: Mapping[str, Any], base: Path | None = None) -> IdentitySettings:
    """Parse the `identity` table of a whole config document (`config.raw`)."""
    sec = Section(raw.get("identity", {}), "identity")
    slack = sec.get("slack_users", dict, {})
    for slack_id, user in slack.items():
        if not isinstance(user, str) or not user:
            raise ConfigError(f"identity.slack_users.{slack_id}", "must be a user name")
    person_attribute = sec.get("person_attribute", str, "")
    ldap_settings = None
    if "ldap" in sec.data:
        ldap_settings = _ldap(sec.table("ldap"), base or Path.cwd(), person_attribute)
    settings = IdentitySettings(
        ldap=ldap_settings,
        slack_users=dict(slack),
        person_attribute=person_attribute,
        revocation_poll_s=sec.positive("revocation_poll_s", float, 2.0),
        throttle=parse_throttle(sec.table("throttle")),
    )
    sec.finish()
    return settings
