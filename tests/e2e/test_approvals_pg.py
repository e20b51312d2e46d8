"""End to end: psql through the gateway to the real PostgreSQL, a reviewed GRANT held until a
signed Slack callback (or the API, or a cancel) decides it, while other sessions flow."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import psycopg
import pytest

from gateway.approvals.broker import Broker
from gateway.approvals.config import parse_approvals
from gateway.http.server import start_http
from tests.support.gateway import PASSWORDS, GatewayThread, base_config
from tests.support.pg import PgServer
from tests.support.slack import SIGNING_SECRET, block_actions, signed

POLICY = {"rules": [
    {"name": "review-privilege", "decision": "review", "categories": ["privilege"]},
    {"name": "allow-rest", "decision": "allow",
     "categories": ["read", "write", "ddl", "transaction", "session"]},
]}  # fmt: skip


class Decisions:
    """A notifier (the broker's own extension point) that lets a test await a request's
    final state; its methods run in the gateway's loop."""

    name = "test-decisions"

    def __init__(self) -> None:
        self.final: dict[str, dict[str, Any]] = {}
        self._events: dict[str, asyncio.Event] = {}

    async def request_created(self, doc: dict[str, Any], url: str) -> None:
        return None

    async def request_decided(self, doc: dict[str, Any], url: str) -> None:
        self.final[doc["id"]] = doc
        self._events.setdefault(doc["id"], asyncio.Event()).set()

    async def close(self) -> None:
        return None

    async def wait(self, request_id: str, limit_s: float) -> dict[str, Any]:
        event = self._events.setdefault(request_id, asyncio.Event())
        await asyncio.wait_for(event.wait(), limit_s)
        return self.final[request_id]


@dataclass
class Approvals:
    gw: GatewayThread
    broker: Broker
    http_port: int
    pg: PgServer
    decisions: Decisions

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def psql_argv(self, *args: str) -> list[str]:
        return [str(self.pg.bindir / "psql"), "-X", "-v", "ON_ERROR_STOP=0",
                "-d", self.gw.dsn("alice", "trusty"), *args]  # fmt: skip


@pytest.fixture(scope="module")
def approvals(pg: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Approvals]:
    os.environ["T_E2E_SLACK_SECRET"] = SIGNING_SECRET
    raw = base_config(
        tmp_path_factory.mktemp("approvals"),
        pg,
        policy=POLICY,
        approvals={"approvers": ["bob", "carol"],
                   "slack": {"signing_secret_env": "T_E2E_SLACK_SECRET", "users": {"U_BOB": "bob"}}},
    )  # fmt: skip
    gw = GatewayThread.from_dict(raw)
    decisions = Decisions()
    broker = Broker(gw.app.store, parse_approvals(gw.config.raw.get("approvals")),
                    node=gw.config.node, public_url="http://gateway.example",
                    notifiers=[decisions])  # fmt: skip
    gw.call(broker.start())
    gw.app.checkpoint.reviewer = broker

    async def health() -> dict[str, Any]:
        return {"ready": True}

    runner, port = gw.call(start_http(gw.config, broker, gw.app.authenticator, gw.app.store,
                                      health, "127.0.0.1", 0))  # fmt: skip
    pg.psql("DROP TABLE IF EXISTS appr_t; CREATE TABLE appr_t(x int)")
    yield Approvals(gw, broker, port, pg, decisions)
    gw.call(runner.cleanup())
    gw.call(broker.stop())
    gw.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def _transcript_with(gw: GatewayThread, text: str) -> list[dict[str, Any]]:
    import json

    for path in gw.config.recording.directory.rglob("*.jsonl"):
        content = path.read_text()
        if text in content:
            return [json.loads(line) for line in content.splitlines()]
    raise AssertionError(f"no transcript mentions {text}")


async def _request_id_from(stream: asyncio.StreamReader) -> tuple[str, str]:
    """Read psql's stderr until the gateway's NOTICE names the request."""
    seen = ""
    while True:
        line = (await asyncio.wait_for(stream.readline(), 20)).decode()
        assert line, f"psql stderr ended before a notice: {seen!r}"
        seen += line
        found = re.search(r"request ([0-9a-f]{16})", line)
        if found:
            return found.group(1), seen


async def test_grant_waits_then_runs_after_signed_slack_approval(
    approvals: Approvals, http: aiohttp.ClientSession
) -> None:
    proc = await asyncio.create_subprocess_exec(
        *approvals.psql_argv("-c", "GRANT SELECT ON appr_t TO PUBLIC"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    rid, notice = await _request_id_from(proc.stderr)
    assert "NOTICE" in notice and "privilege" in notice
    assert f"http://gateway.example/approvals/{rid}" in notice
    assert proc.returncode is None  # held
    body, headers = signed(block_actions(rid, "U_BOB", True))
    async with http.post(f"{approvals.base}/slack/interactivity", data=body, headers=headers) as r:
        assert r.status == 200
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err
    assert b"GRANT" in out
    acl = approvals.pg.psql("SELECT relacl::text FROM pg_class WHERE relname = 'appr_t'")
    assert "=r/" in acl  # PUBLIC got SELECT
    doc = await asyncio.to_thread(approvals.gw.call, approvals.broker.get(rid))
    assert doc is not None and doc["state"] == "approved" and doc["decided_by"] == "bob"
    # The transcript reads: the statement (verdict review), its approval, then its result.
    await asyncio.to_thread(approvals.gw.wait_sessions_closed)
    events = _transcript_with(approvals.gw, rid)
    kinds = [(e["type"], e.get("verdict") or e.get("state") or e.get("tag")) for e in events]
    held = kinds.index(("statement", "review"))
    assert kinds[held + 1 : held + 3] == [("approval", "requested"), ("approval", "approved")]
    assert kinds[held + 3] == ("result", "GRANT")


async def test_denied_grant_is_42501_and_aborts_the_transaction(
    approvals: Approvals, http: aiohttp.ClientSession
) -> None:
    script = b"BEGIN;\nREVOKE SELECT ON appr_t FROM PUBLIC;\nSELECT 'after';\nCOMMIT;\n"
    proc = await asyncio.create_subprocess_exec(
        *approvals.psql_argv("-f", "-"),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stderr is not None
    proc.stdin.write(script)
    await proc.stdin.drain()
    proc.stdin.close()
    rid, _ = await _request_id_from(proc.stderr)
    auth = {"Authorization": aiohttp.encode_basic_auth("carol", PASSWORDS["carol"])}
    url = f"{approvals.base}/api/v1/requests/{rid}/deny"
    async with http.post(url, json={"reason": "change freeze"}, headers=auth) as r:
        assert r.status == 200
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    text = err.decode()
    assert f"denied by carol: change freeze (request {rid})" in text
    assert "current transaction is aborted" in text
    assert b"ROLLBACK" in out and b"after" not in out


async def test_cancel_withdraws_and_other_sessions_keep_flowing(approvals: Approvals) -> None:
    held = await psycopg.AsyncConnection.connect(approvals.gw.dsn("alice", "trusty"),
                                                 autocommit=True)  # fmt: skip
    notices: asyncio.Queue[str] = asyncio.Queue()
    held.add_notice_handler(lambda d: notices.put_nowait(d.message_primary or ""))
    grant = asyncio.ensure_future(held.execute("GRANT INSERT ON appr_t TO PUBLIC"))
    notice = await asyncio.wait_for(notices.get(), 20)
    rid = re.search(r"request ([0-9a-f]{16})", notice)
    assert rid

    async def worker(n: int) -> int:
        async with await psycopg.AsyncConnection.connect(approvals.gw.dsn("bob", "main")) as c:
            for _ in range(n):
                await c.execute("SELECT 1")
            return n

    started = time.perf_counter()
    done = await asyncio.wait_for(asyncio.gather(*(worker(20) for _ in range(50))), 60)
    elapsed = time.perf_counter() - started
    assert sum(done) == 1000
    print(f"\n50 sessions x 20 statements while one is held: {1000 / elapsed:.0f} stmt/s")
    assert not grant.done()
    doc = await asyncio.to_thread(approvals.gw.call, approvals.broker.get(rid.group(1)))
    assert doc is not None and doc["state"] == "pending"
    await held.cancel_safe()
    with pytest.raises(psycopg.errors.QueryCanceled):
        await asyncio.wait_for(grant, 20)
    assert (await (await held.execute("SELECT 'still usable'")).fetchone()) == ("still usable",)
    await held.close()
    final = approvals.decisions.wait(rid.group(1), 20)
    assert (await asyncio.to_thread(approvals.gw.call, final))["state"] == "withdrawn"


async def test_an_approval_covers_one_execution_of_a_prepared_statement(
    approvals: Approvals, http: aiohttp.ClientSession
) -> None:
    """psycopg prepares a statement server-side; re-executing it must ask again."""
    conn = await psycopg.AsyncConnection.connect(
        approvals.gw.dsn("alice", "trusty"), autocommit=True
    )
    notices: asyncio.Queue[str] = asyncio.Queue()
    # Held notices only (an approval is announced by a notice too).
    conn.add_notice_handler(
        lambda d: (
            (d.message_detail or "").startswith("airlock: held.")
            and notices.put_nowait(d.message_primary or "")
        )
    )
    auth = {"Authorization": aiohttp.encode_basic_auth("bob", PASSWORDS["bob"])}
    seen: list[str] = []
    try:
        for decision in ("approve", "approve", "deny"):
            run = asyncio.ensure_future(
                conn.execute("GRANT SELECT ON appr_t TO PUBLIC", prepare=True)
            )
            found = re.search(r"request ([0-9a-f]{16})", await asyncio.wait_for(notices.get(), 20))
            assert found, "every execution is held for its own approval"
            seen.append(found.group(1))
            url = f"{approvals.base}/api/v1/requests/{found.group(1)}/{decision}"
            async with http.post(
                url, json={"reason": "ok" if decision == "approve" else "no"}, headers=auth
            ) as r:
                assert r.status == 200, await r.text()
            if decision == "approve":
                await asyncio.wait_for(run, 20)
            else:
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    await asyncio.wait_for(run, 20)
        assert len(set(seen)) == 3
    finally:
        await conn.close()
