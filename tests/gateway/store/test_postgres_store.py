"""PostgreSQL-only behaviour: migrations, several nodes on one database, LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest

from gateway.store.postgres import RESYNC, PostgresStore, migrations
from tests.support.pg import PgServer


@pytest.fixture
async def two_nodes(pg_url: str) -> AsyncIterator[tuple[PostgresStore, PostgresStore]]:
    a, b = PostgresStore(pg_url), PostgresStore(pg_url)
    await a.open()
    await b.open()
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


async def test_migrations_concurrent_start_and_idempotent(
    new_pg_database: Callable[[], str],
) -> None:
    url = new_pg_database()
    nodes = [PostgresStore(url) for _ in range(4)]
    await asyncio.gather(*(n.open() for n in nodes))  # four nodes start on an empty database
    try:
        newest = migrations()[-1][0]
        assert [await n.schema_version() for n in nodes] == [newest] * 4
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch("SELECT version FROM airlock_schema_version ORDER BY 1")
            assert [r["version"] for r in rows] == [v for v, _, _ in migrations()]
        finally:
            await conn.close()
    finally:
        for n in nodes:
            await n.close()
    again = PostgresStore(url)  # a restart applies nothing and fails on nothing
    await again.open()
    assert await again.schema_version() == newest
    await again.close()


def test_migrations_are_numbered_sql_files() -> None:
    found = migrations()
    assert found and found[0][0] == 1
    assert [v for v, _, _ in found] == sorted({v for v, _, _ in found})
    assert all(name.endswith(".sql") and sql.strip() for _, name, sql in found)


async def test_update_if_single_winner_across_nodes(
    two_nodes: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = two_nodes
    await a.put("request", "x1", {"state": "pending"})

    async def decide(node: PostgresStore, who: str) -> bool:
        return await node.update_if("request", "x1", {"state": "pending"}, {"state": who})

    results = await asyncio.gather(*(decide(a if i % 2 else b, f"u{i}") for i in range(16)))
    assert results.count(True) == 1
    assert await b.get("request", "x1") == {"state": f"u{results.index(True)}"}


async def test_notify_latency_between_nodes(
    two_nodes: tuple[PostgresStore, PostgresStore],
) -> None:
    """An approval published on node B reaches a session held on node A in < 100 ms."""
    a, b = two_nodes
    loop = asyncio.get_running_loop()
    waiting: dict[str, asyncio.Future[float]] = {}

    def on_decision(payload: str) -> None:
        fut = waiting.get(payload)
        if fut is not None and not fut.done():
            fut.set_result(time.perf_counter())

    await a.subscribe("airlock_decisions", on_decision)
    latencies = []
    for i in range(30):
        key = f"req-{i}"
        waiting[key] = loop.create_future()
        sent = time.perf_counter()
        await b.publish("airlock_decisions", key)
        latencies.append(await asyncio.wait_for(waiting[key], 5) - sent)
    median = statistics.median(latencies)
    print(
        f"NOTIFY node B -> node A: median {median * 1000:.2f} ms, max {max(latencies) * 1000:.2f} ms"
    )
    assert median < 0.1


async def test_listener_reconnects_and_resyncs(
    two_nodes: tuple[PostgresStore, PostgresStore], pg: PgServer, pg_url: str
) -> None:
    a, b = two_nodes
    got: list[str] = []
    resynced = asyncio.Event()
    after = asyncio.Event()

    def on_decision(payload: str) -> None:
        got.append(payload)
        if payload == RESYNC:
            resynced.set()
        elif payload == "after":
            after.set()

    await a.subscribe("airlock_decisions", on_decision)
    pid = a._listen_conn.get_server_pid()
    pg.psql(f"SELECT pg_terminate_backend({pid})", dbname=pg_url.rsplit("/", 1)[1])
    await asyncio.wait_for(resynced.wait(), 10)  # subscribers are told to re-check
    assert a._listen_conn.get_server_pid() != pid
    await b.publish("airlock_decisions", "after")
    await asyncio.wait_for(after.wait(), 5)
    assert got == [RESYNC, "after"]
