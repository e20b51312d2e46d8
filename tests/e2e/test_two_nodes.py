"""Two `airlock serve` processes on one PostgreSQL store: a statement held on node A is
released by an approval given through node B's HTTP API (LISTEN/NOTIFY), fast; requests
and the session index are shared. Each node keeps its transcripts in its own directory.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import queue
import re
import statistics
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest

from gateway.store.postgres import PostgresStore
from tests.support.daemon import POLICY, Daemon, airlock, write_config
from tests.support.gateway import PASSWORDS
from tests.support.pg import PgServer

ROUNDS = 20
GRANT = "GRANT SELECT ON two_nodes_t TO PUBLIC"


@pytest.fixture
def nodes(pg: PgServer, tmp_path: Path) -> Iterator[tuple[Daemon, Daemon, str]]:
    name = f"airlock_two_nodes_{uuid.uuid4().hex[:8]}"
    pg.psql(f"CREATE DATABASE {name}")
    store = f"postgresql://postgres@{pg.host}:{pg.port}/{name}"
    daemons: list[Daemon] = []
    try:
        for node in ("A", "B"):
            state = tmp_path / node
            state.mkdir()
            config = write_config(
                state, pg, policy=POLICY,
                gateway={"node": node, "state_dir": str(state), "store": store},
                http={"listen": "127.0.0.1:0"},
            )  # fmt: skip
            daemons.append(Daemon(config))
        yield daemons[0], daemons[1], store
    finally:
        for daemon in daemons:
            daemon.stop()
        pg.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _api(port: int, method: str, path: str, user: str = "carol") -> tuple[int, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1{path}",
        method=method,
        data=b"{}" if method == "POST" else None,
    )
    if method == "POST":  # the API refuses bodies a cross-site form could send
        request.add_header("Content-Type", "application/json")
    basic = base64.b64encode(f"{user}:{PASSWORDS[user]}".encode()).decode()
    request.add_header("Authorization", f"Basic {basic}")
    with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 - loopback test
        return resp.status, json.loads(resp.read())


def test_approval_on_b_releases_a_and_state_is_shared(
    nodes: tuple[Daemon, Daemon, str], pg: PgServer
) -> None:
    a, b, store_url = nodes
    pg.psql("DROP TABLE IF EXISTS two_nodes_t; CREATE TABLE two_nodes_t(x int)")
    notices: queue.Queue[str] = queue.Queue()
    conn = psycopg.connect(a.dsn(), autocommit=True)
    conn.add_notice_handler(  # held notices (an approval is announced by a notice too)
        lambda diag: (
            (diag.message_detail or "").startswith("airlock: held.")
            and notices.put(diag.message_primary or "")
        )
    )
    latencies: list[float] = []  # B's 200 read by the approver -> A's statement done
    round_trips: list[float] = []  # approver sends the POST -> A's statement done
    with ThreadPoolExecutor(1) as pool:

        def grant() -> float:
            conn.execute(GRANT)
            return time.perf_counter()

        for round_ in range(ROUNDS):
            done = pool.submit(grant)
            notice = notices.get(timeout=10)
            found = re.search(r"request ([0-9a-f]+)", notice)
            assert found is not None, notice
            rid = found.group(1)
            if round_ == 0:
                _shared_state(a, b, rid, store_url)
            sent = time.perf_counter()
            status, doc = _api(b.http_port, "POST", f"/requests/{rid}/approve")
            answered = time.perf_counter()
            assert status == 200 and doc["state"] == "approved", doc
            finished = done.result(10)
            latencies.append(finished - answered)
            round_trips.append(finished - sent)
    conn.close()
    median = statistics.median(latencies)
    worst = max(latencies)
    print(
        f"\ntwo nodes: release latency B 200 -> A done over {ROUNDS} rounds: "
        f"median {median * 1000:.1f} ms, p90 {sorted(latencies)[int(ROUNDS * 0.9) - 1] * 1000:.1f}"
        f" ms, max {worst * 1000:.1f} ms; POST sent -> A done: median "
        f"{statistics.median(round_trips) * 1000:.1f} ms"
    )
    assert median < 0.1, latencies


def _shared_state(a: Daemon, b: Daemon, rid: str, store_url: str) -> None:
    """B sees A's pending request (API and CLI) and A's live session (the shared index)."""
    _, listing = _api(b.http_port, "GET", "/requests")
    mine = [r for r in listing["requests"] if r["id"] == rid]
    assert mine and mine[0]["node"] == "A" and mine[0]["state"] == "pending", listing
    out = airlock(
        "requests", "--json", "--config", str(b.config), "--as", "carol",
        "--url", f"http://127.0.0.1:{b.http_port}",
        env={**os.environ, "AIRLOCK_TOKEN": PASSWORDS["carol"]},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert rid in {r["id"] for r in json.loads(out.stdout)}

    async def sessions() -> list[Any]:
        store = PostgresStore(store_url)
        await store.open()
        try:
            return list(await store.list_sessions())
        finally:
            await store.close()

    rows = asyncio.run(sessions())
    assert [r.node for r in rows if r.ended_at is None] == ["A"], rows
    via_store = airlock("sessions", "--json", "--config", str(b.config))
    assert via_store.returncode == 0, via_store.stderr
    listed = json.loads(via_store.stdout)
    assert [s["node"] for s in listed if s["ended"] is None] == ["A"], listed
