"""Who is this? One place that turns credentials into an Identity, for every protocol.

Sources, in order: local users from config (SCRAM verifiers), API tokens (store), and the
directory (LDAP) when configured. A failed or unavailable source never falls back to allow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gateway.config import Config, User
from gateway.identity.passwords import Verifier, check_password, parse_verifier
from gateway.model import Identity


@dataclass(frozen=True, slots=True)
class ScramCandidates:
    """Verifiers a SCRAM exchange may match for one user: the password and any tokens.

    All share the user's salt and iteration count, so one server-first message serves them
    all and the proof is checked against each stored key in turn.
    """

    identity: Identity
    verifiers: tuple[tuple[Verifier, str | None], ...]  # (verifier, token id or None)


class Authenticator:
    def __init__(self, config: Config) -> None:
        self.users: Mapping[str, User] = config.users
        self._verifiers = {
            name: parse_verifier(u.password_hash)
            for name, u in config.users.items()
            if u.password_hash
        }

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

    async def scram_candidates(self, username: str) -> ScramCandidates | None:
        """None when the user is unknown (the caller runs a mock exchange that fails)."""
        user = self.users.get(username)
        verifier = self._verifiers.get(username)
        if user is None or verifier is None:
            return None
        return ScramCandidates(self.identity_for(user), ((verifier, None),))

    async def check_password(self, username: str, password: str) -> Identity | None:
        """Cleartext check (SSH password, Postgres cleartext inside TLS)."""
        user = self.users.get(username)
        verifier = self._verifiers.get(username)
        if user is not None and verifier is not None and check_password(verifier, password):
            return self.identity_for(user)
        return None

    async def authorized_keys(self, username: str) -> Sequence[str]:
        user = self.users.get(username)
        return user.ssh_keys if user else ()

    async def identity(self, username: str) -> Identity | None:
        """The identity for an already-authenticated name (public-key logins)."""
        user = self.users.get(username)
        return self.identity_for(user) if user else None
