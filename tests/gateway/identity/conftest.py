"""A real slapd for the identity tests (session-wide; CI=true fails when it is missing)."""

from __future__ import annotations

from collections.abc import Iterator

import asyncssh
import pytest

from tests.support.slapd import Slapd, populate, start_slapd


@pytest.fixture(scope="session")
def dave_key() -> asyncssh.SSHKey:
    return asyncssh.generate_private_key("ssh-ed25519")


@pytest.fixture(scope="session")
def slapd(dave_key: asyncssh.SSHKey) -> Iterator[Slapd]:
    server = start_slapd()
    try:
        populate(server, dave_key.export_public_key().decode().strip())
        yield server
    finally:
        server.stop()
