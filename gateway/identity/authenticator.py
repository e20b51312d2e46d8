"""Who is this? One place that turns credentials into an Identity, for every protocol.

Sources: local users from config (SCRAM verifiers), API tokens (store), and the directory
(LDAP) for names that are not local. A local user shadows a directory user of the same
name. A failed or unavailable source never falls back to allow.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway import metrics
from gateway.config import Config, User
from gateway.identity.passwords import Verifier, check_password, make_verifier, parse_verifier
from gateway.identity.settings import IdentitySettings, parse_identity
from gateway.identity.throttle import LoginThrottle, Throttled
from gateway.identity.tokens import is_live, parse_token
from gateway.model import Identity
from gateway.store.base import Store, TokenRow

if TYPE_CHECKING:
    from gateway.identity.ldap import DirectoryUser, LdapDirectory

log = logging.getLogger("airlock.identity")

#: Checked against when there is no verifier (unknown user, token-only user), so a wrong
#: password costs the same key derivation whoever it is for.
_DUMMY = make_verifier("airlock-dummy-password")


@dataclass(frozen=True, slots=True)
class ScramCandidates:
    """Verifiers a SCRAM exchange may match for one user: the password and any tokens.

    All share the user's salt and iteration count, so one server-first message serves them
    all and the proof is checked against each stored key in turn.
    """

    identity: Identity
    verifiers: tuple[tuple[Verifier, str | None], ...]  # (verifier, token id or None)


class Authenticator:
    """Construct with `Authenticator(config, store)`; without a store, tokens are off.

    Pass the old one's `throttle` when replacing it on a reload, so failure counts survive.
    """

    def __init__(
        self,
        config: Config,
        store: Store | None = None,
        settings: IdentitySettings | None = None,
        directory: LdapDirectory | None = None,
        throttle: LoginThrottle | None = None,
    ) -> None:
        self.users: Mapping[str, User] = config.users
        self.store = store
        self.settings = settings or parse_identity(
            config.raw, config.path.parent if config.path else None
        )
        if directory is None and self.settings.ldap is not None:
            from gateway.identity.ldap import LdapDirectory

            directory = LdapDirectory(self.settings.ldap)
        self.directory = directory
        if throttle is None:
            throttle = LoginThrottle(self.settings.throttle)
        else:
            throttle.reconfigure(self.settings.throttle)
        self.throttle = throttle
        self._verifiers = {
            name: parse_verifier(u.password_hash)
            for name, u in config.users.items()
            if u.password_hash
        }

    def close(self) -> None:
        """Release the directory's threads (call on the old one after a reload)."""
        if self.directory is not None:
            self.directory.close()

    def identity_for(
        self, user: User, source: str = "local", token_id: str | None = None
    ) -> Identity:
        return Identity(
            user=user.name,
            groups=frozenset(user.groups),
            source=source,
            person=user.person,
            token_id=token_id,
        )

    # --- the methods the relays call ------------------------------------------------

    async def scram_candidates(self, username: str) -> ScramCandidates | None:
        """None when SCRAM cannot work: unknown user, or a directory user without tokens.

        The Postgres listener then asks for a cleartext password when the channel allows
        it (TLS, or loopback with postgres.cleartext_on_loopback) and calls check_password.
        """
        user = self.users.get(username)
        password = self._verifiers.get(username)
        tokens = await self._live_tokens(username)
        if password is not None:
            # Only tokens derived with the password's salt fit one SCRAM exchange; a token
            # issued before the password hash changed still works in cleartext paths.
            tokens = [
                t
                for t in tokens
                if (v := parse_verifier(t.hash)).salt == password.salt
                and v.iterations == password.iterations
            ]
        if not tokens and password is None:
            return None
        identity = await self._base_identity(username, user)
        if identity is None:
            return None
        verifiers: list[tuple[Verifier, str | None]] = []
        if password is not None:
            verifiers.append((password, None))
        verifiers.extend((parse_verifier(t.hash), t.id) for t in tokens)
        return ScramCandidates(identity, tuple(verifiers))

    async def check_password(self, username: str, password: str) -> Identity | None:
        """Cleartext check (SSH password, Postgres cleartext inside TLS, HTTP Bearer).

        Accepts an API token (`alk_...`) as the password too.
        """
        if not password:
            return None
        token_id = parse_token(password)
        if token_id is not None:
            identity = await self._check_token(username, token_id, password)
            if identity is not None:
                return identity
        user = self.users.get(username)
        verifier = self._verifiers.get(username)
        if user is None or verifier is None:
            # Unknown (or password-less) name: spend the same derivation as a wrong password.
            check_password(_DUMMY, password)
        elif check_password(verifier, password):
            return self.identity_for(user)
        if user is not None or self.directory is None:
            return None
        from gateway.identity.ldap import DirectoryUnavailable

        try:
            found = await self.directory.authenticate(username, password)
        except DirectoryUnavailable as exc:
            log.error("ldap: refusing login of %r: directory unavailable: %s", username, exc)
            return None
        return _directory_identity(found) if found is not None else None

    async def check_token(self, token: str) -> Identity | None:
        """A bare API token (HTTP ``Authorization: Bearer alk_...``): its id names the row,
        the row names the user, the verifier checks the whole token."""
        token_id = parse_token(token)
        if token_id is None or self.store is None:
            check_password(_DUMMY, token)
            return None
        row = next((t for t in await self.store.list_tokens() if t.id == token_id), None)
        if row is None:
            check_password(_DUMMY, token)
            return None
        return await self._check_token(row.user, token_id, token)

    async def login(self, username: str, password: str, addr: str) -> Identity | Throttled | None:
        """`check_password` behind the failed-login throttle (per user, per address) and
        the failure delay: a refusal takes at least `failure_delay_s`, whoever it is for."""
        return await self._guarded(username, addr, lambda: self.check_password(username, password))

    async def login_token(self, token: str, addr: str) -> Identity | Throttled | None:
        """`check_token` behind the same throttle; the user key is the token's id."""
        token_id = parse_token(token)
        key = f"token:{token_id}" if token_id else "token:?"
        return await self._guarded(key, addr, lambda: self.check_token(token))

    async def _guarded(
        self, key: str, addr: str, check: Callable[[], Awaitable[Identity | None]]
    ) -> Identity | Throttled | None:
        wait = self.throttle.attempt(key, addr)
        if wait > 0:
            metrics.rejected("login-throttled")
            log.warning("login of %r from %s refused: throttled for %.0f s", key, addr, wait)
            return Throttled(wait)
        started = time.monotonic()
        try:
            identity = await check()
        except BaseException:  # cancelled (the client left) or failed: no answer was given
            self.throttle.abandoned(key, addr)
            raise
        if identity is not None:
            self.throttle.succeeded(key, addr)
            return identity
        delay = self.throttle.settings.failure_delay_s - (time.monotonic() - started)
        if delay > 0:
            await asyncio.sleep(delay)
        return None

    async def authorized_keys(self, username: str) -> Sequence[str]:
        user = self.users.get(username)
        if user is not None:
            return user.ssh_keys
        found = await self._directory_lookup(username)
        return found.ssh_keys if found is not None else ()

    async def identity(self, username: str) -> Identity | None:
        """The identity for an already-authenticated name (public-key logins)."""
        return await self._base_identity(username, self.users.get(username))

    # --- approvers ------------------------------------------------------------------

    async def approver_for_slack(self, user_id: str, email: str = "") -> Identity | None:
        """The Airlock identity behind a Slack user: `identity.slack_users`, else the
        person attribute (e.g. `mail`, from Slack's profile) matched against local users'
        `person` and then the directory. None when nobody matches: such a click is ignored.
        """
        name = self.settings.slack_users.get(user_id)
        if name is not None:
            return await self.identity(name)
        return await self.identity_for_person(email) if email else None

    async def identity_for_person(self, person: str) -> Identity | None:
        for user in self.users.values():
            if user.person and user.person.lower() == person.lower():
                return self.identity_for(user)
        if self.directory is None:
            return None
        from gateway.identity.ldap import DirectoryUnavailable

        try:
            found = await self.directory.find_by_person(person)
        except DirectoryUnavailable as exc:
            log.error("ldap: cannot map approver %r: directory unavailable: %s", person, exc)
            return None
        if found is None or found.user in self.users:
            return None  # a local account of that name is someone else's
        return _directory_identity(found)

    # --- internals --------------------------------------------------------------------

    async def _base_identity(self, username: str, user: User | None) -> Identity | None:
        if user is not None:
            return self.identity_for(user)
        found = await self._directory_lookup(username)
        return _directory_identity(found) if found is not None else None

    async def _directory_lookup(self, username: str) -> DirectoryUser | None:
        if self.directory is None:
            return None
        from gateway.identity.ldap import DirectoryUnavailable

        try:
            return await self.directory.lookup(username)
        except DirectoryUnavailable as exc:
            log.error("ldap: refusing %r: directory unavailable: %s", username, exc)
            return None

    async def _live_tokens(self, username: str) -> list[TokenRow]:
        if self.store is None:
            return []
        now = time.time()
        return [t for t in await self.store.tokens_for(username) if is_live(t, now)]

    async def _check_token(self, username: str, token_id: str, token: str) -> Identity | None:
        row = next((t for t in await self._live_tokens(username) if t.id == token_id), None)
        if row is None or not check_password(parse_verifier(row.hash), token):
            return None
        base = await self._base_identity(username, self.users.get(username))
        if base is None:
            return None  # the user is gone (config or directory): its tokens die with it
        return Identity(base.user, base.groups, "token", base.person, token_id)


def _directory_identity(found: DirectoryUser) -> Identity:
    return Identity(user=found.user, groups=found.groups, source="ldap", person=found.person)
