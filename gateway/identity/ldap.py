"""LDAP directory: users, password binds, groups and SSH keys (python-ldap, in threads).

python-ldap blocks, so every call runs in a bounded thread pool under one deadline: an
unreachable or silent directory raises DirectoryUnavailable within `timeout_s`, and the
caller refuses the login. Lookups (groups, keys, person) are cached for `cache_ttl_s`;
password binds never are.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import ldap
import ldap.dn
import ldap.filter

from gateway.identity.settings import LdapSettings

log = logging.getLogger("airlock.identity.ldap")
T = TypeVar("T")


#: LDAPv3 ExtendedRequest (message id 1) for StartTLS, OID 1.3.6.1.4.1.1466.20037 (RFC 4511).
_STARTTLS_REQUEST = bytes.fromhex("301d02010177188016") + b"1.3.6.1.4.1.1466.20037"


class DirectoryUnavailable(Exception):
    """The directory could not answer (down, slow, TLS or service-bind failure)."""


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    user: str
    dn: str
    groups: frozenset[str]
    ssh_keys: tuple[str, ...]
    person: str


def _text(values: list[bytes] | None) -> list[str]:
    return [v.decode("utf-8", "replace") for v in values or ()]


class LdapDirectory:
    def __init__(self, settings: LdapSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._pool = ThreadPoolExecutor(settings.pool_size, thread_name_prefix="airlock-ldap")
        self._cache: dict[str, tuple[float, DirectoryUser]] = {}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- async API ----------------------------------------------------------------

    async def lookup(self, user: str) -> DirectoryUser | None:
        """The user's entry, groups and keys; cached for cache_ttl_s (hits only)."""
        hit = self._cache.get(user)
        if hit is not None and hit[0] > self._clock():
            return hit[1]
        found = await self._run(self._lookup_sync, user)
        self._remember(user, found)
        return found

    async def authenticate(self, user: str, password: str) -> DirectoryUser | None:
        """Bind as the user (never cached). None for a wrong password or unknown user."""
        if not password:
            # An empty password makes a simple bind "unauthenticated" and it SUCCEEDS
            # (RFC 4513 5.1.2): never send one.
            return None
        found = await self._run(self._authenticate_sync, user, password)
        self._remember(user, found)
        return found

    async def find_by_person(self, value: str) -> DirectoryUser | None:
        """The user whose person attribute (e.g. mail) equals `value`; not cached."""
        if not self.settings.person_attribute or not value:
            return None
        return await self._run(self._find_by_person_sync, value)

    def _remember(self, user: str, found: DirectoryUser | None) -> None:
        if found is None:
            self._cache.pop(user, None)
        elif self.settings.cache_ttl_s > 0:
            self._cache[user] = (self._clock() + self.settings.cache_ttl_s, found)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        s = self.settings
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(s.timeout_s):
                return await loop.run_in_executor(self._pool, fn, *args)
        except TimeoutError:
            raise DirectoryUnavailable(f"{s.url} did not answer within {s.timeout_s:g}s") from None

    # --- blocking work, in the pool -------------------------------------------------

    def _connect(self) -> Any:
        s = self.settings
        conn = ldap.initialize(s.url)
        # Both timeouts before the first operation, or a server that accepts TCP and never
        # answers blocks the thread forever.
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, s.timeout_s)
        conn.set_option(ldap.OPT_TIMEOUT, s.timeout_s)
        conn.set_option(ldap.OPT_REFERRALS, 0)
        conn.protocol_version = ldap.VERSION3
        if s.url.startswith("ldaps://") or s.start_tls:
            conn.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
            if s.ca_file is not None:
                conn.set_option(ldap.OPT_X_TLS_CACERTFILE, str(s.ca_file))
            conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)  # applies the TLS options above
        if s.start_tls:
            conn.start_tls_s()
        return conn

    def _service(self, fn: Callable[[Any], T]) -> T:
        """Run `fn` on a fresh connection bound as the service account.

        A connection per call (not a pool of bound ones): user binds change a connection's
        identity, the cache absorbs the cost, and no stale connection can linger.
        """
        s = self.settings
        try:
            conn = self._connect()
            try:
                conn.simple_bind_s(s.bind_dn, s.bind_password or "")
                return fn(conn)
            finally:
                _unbind(conn)
        except ldap.INVALID_CREDENTIALS:
            raise DirectoryUnavailable(
                f"{s.url}: the service bind as {s.bind_dn!r} was refused"
            ) from None
        except (ldap.SERVER_DOWN, ldap.CONNECT_ERROR) as exc:
            reason = self._tls_reason() if self._uses_tls else None
            raise DirectoryUnavailable(f"{s.url}: {reason or _describe(exc)}") from None
        except ldap.LDAPError as exc:
            raise DirectoryUnavailable(f"{s.url}: {_describe(exc)}") from None

    @property
    def _uses_tls(self) -> bool:
        return self.settings.url.startswith("ldaps://") or self.settings.start_tls

    def _tls_reason(self) -> str | None:
        """Why TLS failed, when it did: Debian's libldap (GnuTLS) reports a rejected
        certificate as "Can't contact LDAP server (unknown error code)", which reads like an
        outage. Redo the handshake with Python's ssl (same CA, same host name) to name it."""
        s = self.settings
        parsed = urllib.parse.urlsplit(s.url)
        host = parsed.hostname or "localhost"
        port = parsed.port or (636 if parsed.scheme == "ldaps" else 389)
        ctx = ssl.create_default_context(cafile=str(s.ca_file) if s.ca_file else None)
        try:
            with socket.create_connection((host, port), timeout=s.timeout_s) as sock:
                if s.start_tls:
                    sock.sendall(_STARTTLS_REQUEST)
                    sock.recv(4096)  # the ExtendedResponse; its result does not matter here
                with ctx.wrap_socket(sock, server_hostname=host):
                    return None
        except ssl.SSLCertVerificationError as exc:
            return f"TLS certificate verification failed: {exc.verify_message}"
        except (OSError, ssl.SSLError):
            return None

    def _lookup_sync(self, user: str) -> DirectoryUser | None:
        return self._service(lambda conn: self._find(conn, user))

    def _authenticate_sync(self, user: str, password: str) -> DirectoryUser | None:
        def check(conn: Any) -> DirectoryUser | None:
            found = self._find(conn, user)
            if found is None:
                return None
            try:
                conn.simple_bind_s(found.dn, password)
            except ldap.INVALID_CREDENTIALS:
                return None
            return found

        return self._service(check)

    def _find_by_person_sync(self, value: str) -> DirectoryUser | None:
        s = self.settings
        flt = f"({s.person_attribute}={ldap.filter.escape_filter_chars(value)})"
        return self._service(lambda conn: self._find(conn, None, flt))

    def _find(self, conn: Any, user: str | None, flt: str | None = None) -> DirectoryUser | None:
        s = self.settings
        if flt is None:
            assert user is not None
            flt = s.user_filter.replace("{user}", ldap.filter.escape_filter_chars(user))
        attrs = [s.login_attribute, s.ssh_key_attribute, s.membership_attribute]
        if s.person_attribute:
            attrs.append(s.person_attribute)
        results = [
            (dn, entry)
            for dn, entry in conn.search_s(s.user_base, ldap.SCOPE_SUBTREE, flt, attrs)
            if dn is not None  # search references
        ]
        if len(results) != 1:
            if results:
                log.warning("ldap: %s matches %d entries; refusing", flt, len(results))
            return None
        dn, entry = results[0]
        entry = {k.lower(): v for k, v in entry.items()}
        login = _text(entry.get(s.login_attribute.lower()))
        name = user if user is not None else (login[0] if login else "")
        if not name:
            return None
        person = _text(entry.get(s.person_attribute.lower())) if s.person_attribute else []
        return DirectoryUser(
            user=name,
            dn=dn,
            groups=frozenset(self._groups(conn, name, dn, entry)),
            ssh_keys=tuple(_text(entry.get(s.ssh_key_attribute.lower()))),
            person=person[0] if person else "",
        )

    def _groups(self, conn: Any, user: str, dn: str, entry: dict[str, Any]) -> list[str]:
        s = self.settings
        if s.group_mode == "memberOf":
            return [_rdn_value(g) for g in _text(entry.get(s.membership_attribute.lower()))]
        esc = ldap.filter.escape_filter_chars
        flt = s.group_filter.replace("{dn}", esc(dn)).replace("{user}", esc(user))
        names: list[str] = []
        for gdn, gentry in conn.search_s(
            s.group_base, ldap.SCOPE_SUBTREE, flt, [s.group_name_attribute]
        ):
            if gdn is None:
                continue
            values = _text(
                {k.lower(): v for k, v in gentry.items()}.get(s.group_name_attribute.lower())
            )
            names.append(values[0] if values else _rdn_value(gdn))
        return names


def _unbind(conn: Any) -> None:
    with contextlib.suppress(ldap.LDAPError):  # the connection is discarded anyway
        conn.unbind_s()


def _rdn_value(dn: str) -> str:
    """`cn=ops,ou=groups,dc=example` -> `ops`."""
    try:
        return str(ldap.dn.str2dn(dn)[0][0][1])
    except (ldap.DECODING_ERROR, IndexError):
        return dn


def _describe(exc: ldap.LDAPError) -> str:
    info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    desc = info.get("desc", type(exc).__name__)
    extra = info.get("info", "")
    return f"{desc} ({extra})" if extra else str(desc)
