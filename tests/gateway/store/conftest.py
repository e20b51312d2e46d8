"""Store fixtures: a fresh PostgreSQL database per test module, and both stores by name."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from gateway.store.base import Store
from gateway.store.postgres import PostgresStore
from gateway.store.sqlite import SqliteStore
from tests.support.pg import PgServer


@pytest.fixture(scope="module")
def new_pg_database(pg: PgServer) -> Iterator[Callable[[], str]]:
    """Makes fresh databases on the session's server; returns their URLs. Dropped at the end."""
    made: list[str] = []

    def make() -> str:
        name = f"airlock_store_{uuid.uuid4().hex[:12]}"
        pg.psql(f"CREATE DATABASE {name}")
        made.append(name)
        return f"postgresql://postgres@{pg.host}:{pg.port}/{name}"

    yield make
    for name in made:
        pg.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def pg_url(new_pg_database: Callable[[], str]) -> str:
    return new_pg_database()


@pytest.fixture(params=["sqlite", "postgres"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, pg_url: str, pg: PgServer
) -> AsyncIterator[Store]:
    s: Store
    if request.param == "sqlite":
        s = SqliteStore(tmp_path / "airlock.db")
    else:
        # Shared module database: start each test from empty tables.
        pg.psql(
            "DO $$ BEGIN IF to_regclass('sessions') IS NOT NULL THEN "
            "TRUNCATE sessions, tokens, docs; END IF; END $$",
            dbname=pg_url.rsplit("/", 1)[1],
        )
        s = PostgresStore(pg_url)
    await s.open()
    try:
        yield s
    finally:
        await s.close()
