"""Session-wide real servers besides PostgreSQL: one OpenSSH sshd and one OpenLDAP slapd.

Registered for every test by ``pytest_plugins`` in tests/conftest.py. Each starts once, on
first use; tests that change the directory change only their own entries or put back
what they changed. Under CI=true a missing server fails, it never skips.
"""

from __future__ import annotations

from collections.abc import Iterator

import asyncssh
import pytest

from tests.support.slapd import Slapd, populate, start_slapd
from tests.support.sshd import Sshd, run_sshd


@pytest.fixture(scope="session")
def sshd() -> Iterator[Sshd]:
    with run_sshd() as server:
        yield server


@pytest.fixture(scope="session")
def dave_key() -> asyncssh.SSHKey:
    """The SSH key of the directory user ``dave`` (his ``sshPublicKey`` in slapd)."""
    return asyncssh.generate_private_key("ssh-ed25519")


@pytest.fixture(scope="session")
def slapd(dave_key: asyncssh.SSHKey) -> Iterator[Slapd]:
    server = start_slapd()
    try:
        populate(server, dave_key.export_public_key().decode().strip())
        yield server
    finally:
        server.stop()
