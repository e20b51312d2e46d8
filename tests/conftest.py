"""Session-wide real servers. Under CI=true a missing server fails; it never skips."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.gateway import GatewayThread, base_config
from tests.support.pg import PgServer, start_postgres

pytest_plugins = ["tests.support.fixtures"]  # sshd, slapd, dave_key


@pytest.fixture(scope="session")
def pg() -> Iterator[PgServer]:
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def gateway(pg: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    """One shared gateway with a permissive policy for relay-correctness tests."""
    state = tmp_path_factory.mktemp("gw")
    gw = GatewayThread.from_dict(base_config(state, pg))
    try:
        yield gw
    finally:
        gw.stop()
