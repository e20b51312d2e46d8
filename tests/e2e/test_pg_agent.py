"""What the agent sees (issue 15): syntax errors answered at once and never sent, refusals
that carry DETAIL/HINT without the DO block's CONTEXT, the stated reason, temp objects,
client encodings at startup. Real psql / psycopg through the gateway to PostgreSQL 15."""

from __future__ import annotations

import asyncio
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from gateway import cli_approvals
from gateway.approvals.broker import Broker
from gateway.approvals.config import parse_approvals
from gateway.model import Identity
from tests.support.gateway import GatewayThread, base_config
from tests.support.pg import PgServer

ALLOW_TAMPER = {"rules": [{"name": "allow-tamper", "decision": "allow",
                           "categories": ["tamper", "session", "read", "write", "transaction"]}]}  # fmt: skip


@pytest.fixture(scope="module")
def strict(pg: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    """The built-in default policy, no approval channel: reviews are refused at once."""
    gw = GatewayThread.from_dict(base_config(tmp_path_factory.mktemp("agent"), pg, policy={}))
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def lax(pg: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    gw = GatewayThread.from_dict(
        base_config(tmp_path_factory.mktemp("agent-lax"), pg, policy=ALLOW_TAMPER)
    )
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def open_gw(pg: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    """Allows everything, `unknown` too: only the gateway's own syntax check stands."""
    everything = ["read", "write", "ddl", "transaction", "session", "destructive", "unknown"]
    policy = {"rules": [{"name": "all", "decision": "allow", "categories": everything}]}
    gw = GatewayThread.from_dict(
        base_config(tmp_path_factory.mktemp("agent-open"), pg, policy=policy)
    )
    yield gw
    gw.stop()


@pytest.fixture
def victim(pg: PgServer) -> Iterator[None]:
    pg.psql("DROP TABLE IF EXISTS agent_victim; CREATE TABLE agent_victim(a int)")
    yield
    pg.psql("DROP TABLE IF EXISTS agent_victim")


def victim_exists(pg: PgServer) -> bool:
    found = pg.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'agent_victim'")
    return found.strip() == "1"


# --- item 2: a syntax error is answered at once, never held ------------------------------


def test_syntax_error_is_42601_with_position(strict: GatewayThread) -> None:
    with psycopg.connect(strict.dsn("alice"), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.SyntaxError) as info:
            conn.execute("SELECT 1; SELEC 2")
        diag = info.value.diag
        assert diag.message_primary == 'syntax error at or near "SELEC"'
        assert diag.statement_position == "11"
        assert diag.context is None and diag.source_file is None
        assert (diag.message_detail or "").startswith("airlock: not sent.")
        assert conn.execute("SELECT 7").fetchone() == (7,)  # the session carries on


def test_syntax_error_at_end_of_input_points_past_the_text(strict: GatewayThread) -> None:
    with psycopg.connect(strict.dsn("alice"), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.SyntaxError) as info:
            conn.execute("SELECT (1")
        assert info.value.diag.message_primary == "syntax error at end of input"
        assert info.value.diag.statement_position == "10"


@pytest.mark.parametrize(
    "sql",
    [
        "SELEC 1; DROP TABLE agent_victim",
        "DROP TABLE agent_victim; SELEC 1",
        "DROP TABLE agent_victim; SELECT 'unterminated",
    ],
)
def test_no_statement_of_a_rejected_string_runs(
    open_gw: GatewayThread, pg: PgServer, victim: None, sql: str
) -> None:
    """The server parses the whole string first: nothing runs. The gateway answers the
    same and sends nothing (checked against the server itself first)."""
    direct = subprocess.run(
        [str(pg.bindir / "psql"), "-X", "-h", pg.host, "-p", str(pg.port), "-U", "postgres",
         "-d", "postgres", "-c", sql],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert "syntax error" in direct.stderr or "unterminated" in direct.stderr
    assert victim_exists(pg)
    with psycopg.connect(open_gw.dsn("alice"), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.SyntaxError) as info:
            conn.execute(sql)
        assert (info.value.diag.message_detail or "").startswith("airlock: not sent.")
    assert victim_exists(pg)


def test_syntax_error_aborts_the_transaction_like_the_real_one(strict: GatewayThread) -> None:
    with psycopg.connect(strict.dsn("alice")) as conn:
        conn.execute("SELECT 1")
        with pytest.raises(psycopg.errors.SyntaxError):
            conn.execute("SELEC 1")
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            conn.execute("SELECT 1")
        conn.rollback()
        assert conn.execute("SELECT 2").fetchone() == (2,)


def test_syntax_error_in_the_extended_protocol(strict: GatewayThread) -> None:
    with psycopg.connect(strict.dsn("alice"), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.SyntaxError) as info:
            conn.execute("SELEC %s", [1], prepare=True)
        assert info.value.diag.statement_position == "1"
        assert info.value.diag.context is None
        assert conn.execute("SELECT %s::int", [3]).fetchone() == (3,)


def test_psql_shows_the_syntax_error_with_its_line(strict: GatewayThread, pg: PgServer) -> None:
    out = subprocess.run(
        [str(pg.bindir / "psql"), "-X", "-d", strict.dsn("alice"), "-c", "SELEC 1"],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    assert 'ERROR:  syntax error at or near "SELEC"' in out.stderr
    assert "LINE 1: SELEC 1\n        ^" in out.stderr
    assert "CONTEXT" not in out.stderr and "PL/pgSQL" not in out.stderr


def test_unmodelled_lexing_state_keeps_unknown(lax: GatewayThread) -> None:
    """With standard_conforming_strings off the grammar check does not apply: libpg_query
    would lex the text differently from the server, so the text stays `unknown`."""
    with psycopg.connect(lax.dsn("alice"), autocommit=True) as conn:
        conn.execute("SET standard_conforming_strings = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELEC 1")


# --- item 1: refusals carry DETAIL and HINT, no implementation leak ----------------------


def test_refusal_has_detail_and_hint_and_no_plpgsql_context(strict: GatewayThread) -> None:
    with psycopg.connect(strict.dsn("alice"), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as info:
            conn.execute("GRANT ALL ON SCHEMA public TO PUBLIC")
        diag = info.value.diag
        assert diag.context is None and diag.source_function is None
        assert diag.schema_name is None
        detail = diag.message_detail or ""
        assert detail.startswith("airlock: no approver.")
        assert "Categories: privilege." in detail
        assert "fallback" not in (diag.message_primary or "") + detail
        assert diag.message_hint


def test_a_clients_own_error_keeps_its_context(lax: GatewayThread) -> None:
    """Only the answer to the relay's own refusal is rewritten."""
    with psycopg.connect(lax.dsn("alice"), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.DivisionByZero) as info:
            conn.execute("SELECT 1/0")
        assert info.value.diag.source_file is not None


# --- item 1 with a person deciding: held, approved, denied, expired, withdrawn ----------

REVIEW_POLICY = {"rules": [
    {"name": "slow-code", "decision": "review", "categories": ["code"], "timeout": 1},
    {"name": "review-privilege", "decision": "review", "categories": ["privilege"]},
]}  # fmt: skip


@dataclass
class Approvals:
    gw: GatewayThread
    broker: Broker


@pytest.fixture(scope="module")
def approvals(pg: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Approvals]:
    raw = base_config(
        tmp_path_factory.mktemp("agent-approvals"),
        pg,
        policy=REVIEW_POLICY,
        approvals={"approvers": ["bob", "carol"]},
    )
    gw = GatewayThread.from_dict(raw)
    broker = Broker(gw.app.store, parse_approvals(gw.config.raw.get("approvals")),
                    node=gw.config.node, public_url="http://gateway.example")  # fmt: skip
    gw.call(broker.start())
    gw.app.checkpoint.reviewer = broker
    pg.psql("DROP TABLE IF EXISTS agent_t; CREATE TABLE agent_t(x int)")
    yield Approvals(gw, broker)
    gw.call(broker.stop())
    gw.stop()


@dataclass(frozen=True)
class Notice:
    message_primary: str
    message_detail: str
    message_hint: str


class Notices:
    """A notice's Diagnostic is valid only inside the handler: its fields are copied."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.queue: asyncio.Queue[Notice] = asyncio.Queue()
        conn.add_notice_handler(
            lambda d: self.queue.put_nowait(
                Notice(d.message_primary or "", d.message_detail or "", d.message_hint or "")
            )
        )

    async def next(self) -> Notice:
        return await asyncio.wait_for(self.queue.get(), 20)


async def _decide(approvals: Approvals, rid: str, who: str, approve: bool, why: str) -> None:
    decide = approvals.broker.decide(rid, Identity(who, frozenset()), approve, why)
    await asyncio.to_thread(approvals.gw.call, decide)


async def test_held_notice_then_approved_notice_before_the_result(approvals: Approvals) -> None:
    async with await psycopg.AsyncConnection.connect(
        approvals.gw.dsn("alice"), autocommit=True
    ) as conn:
        notices = Notices(conn)
        grant = asyncio.ensure_future(conn.execute("GRANT SELECT ON agent_t TO PUBLIC"))
        held = await notices.next()
        detail, hint = held.message_detail or "", held.message_hint or ""
        found = re.search(r"Request: ([0-9a-f]{16})\.", detail)
        assert found and detail.startswith("airlock: held."), detail
        rid = found.group(1)
        assert "Categories: privilege." in detail and "Deadline: " in detail
        assert "rule 'review-privilege'" in detail
        assert f"http://gateway.example/approvals/{rid}" in hint and "airlock.reason" in hint
        assert "fallback" not in (held.message_primary or "") + detail + hint
        await _decide(approvals, rid, "bob", True, "")
        approved = await notices.next()
        assert (approved.message_detail or "").startswith("airlock: approved.")
        assert "bob" in (approved.message_primary or "")
        await asyncio.wait_for(grant, 20)


async def test_denied_expired_and_withdrawn_are_told_apart(approvals: Approvals) -> None:
    async with await psycopg.AsyncConnection.connect(
        approvals.gw.dsn("alice"), autocommit=True
    ) as conn:
        notices = Notices(conn)
        revoke = asyncio.ensure_future(conn.execute("REVOKE SELECT ON agent_t FROM PUBLIC"))
        found = re.search(r"Request: ([0-9a-f]{16})", (await notices.next()).message_detail or "")
        assert found
        await _decide(approvals, found.group(1), "carol", False, "change\nfreeze")
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as denied:
            await asyncio.wait_for(revoke, 20)
        detail = denied.value.diag.message_detail or ""
        assert detail.startswith("airlock: denied."), detail
        assert "Decided by: carol." in detail and "change freeze" in detail
        assert denied.value.diag.context is None

        with pytest.raises(psycopg.errors.InsufficientPrivilege) as expired:
            await conn.execute("DO $$BEGIN END$$")  # `code`, held for at most 1 s
        assert (expired.value.diag.message_detail or "").startswith("airlock: expired.")

        cancelled = asyncio.ensure_future(conn.execute("GRANT UPDATE ON agent_t TO PUBLIC"))
        await notices.next()
        await notices.next()  # the expired request's notice came first
        await conn.cancel_safe()
        with pytest.raises(psycopg.errors.QueryCanceled) as withdrawn:
            await asyncio.wait_for(cancelled, 20)
        assert (withdrawn.value.diag.message_detail or "").startswith("airlock: withdrawn.")


# --- item 3: the reason --------------------------------------------------------------------


async def _held_request(approvals: Approvals, conn: psycopg.AsyncConnection[Any]) -> str:
    """Hold a GRANT, read its request, deny it; return the request id."""
    notices = Notices(conn)
    grant = asyncio.ensure_future(conn.execute("GRANT DELETE ON agent_t TO PUBLIC"))
    found = re.search(r"Request: ([0-9a-f]{16})", (await notices.next()).message_detail)
    assert found
    await _decide(approvals, found.group(1), "bob", False, "not now")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        await asyncio.wait_for(grant, 20)
    return found.group(1)


async def test_readme_pgoptions_reason_with_spaces_works(approvals: Approvals) -> None:
    dsn = approvals.gw.dsn("alice", options="-c airlock.reason=rotate keys -c timezone=UTC")
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        timezone = await (await conn.execute("SHOW timezone")).fetchone()
        assert timezone == ("UTC",)  # the option after the reason still applies
        rid = await _held_request(approvals, conn)
        doc = await asyncio.to_thread(approvals.gw.call, approvals.broker.get(rid))
        assert doc is not None and doc["agent_reason"] == "rotate keys"


async def test_set_airlock_reason_is_taken_by_the_gateway(approvals: Approvals) -> None:
    async with await psycopg.AsyncConnection.connect(
        approvals.gw.dsn("alice"), autocommit=True
    ) as conn:
        cur = await conn.execute("SET airlock.reason = 'ticket 42:\n\x1b[2Jrotate'")
        assert cur.statusmessage == "SET"  # answered at once: not held, not refused
        # Not forwarded: the server only ever got `SET airlock.reason TO DEFAULT`.
        query = "SELECT current_setting('airlock.reason', true)"
        assert await (await conn.execute(query)).fetchone() in ((None,), ("",))
        rid = await _held_request(approvals, conn)
        doc = await asyncio.to_thread(approvals.gw.call, approvals.broker.get(rid))
        assert doc is not None and doc["agent_reason"] == "ticket 42:\n\x1b[2Jrotate"
        line = cli_approvals._line(doc, 0)
        assert "reason: ticket 42:\\n\\x1b[2Jrotate" in line and "\x1b" not in line


def test_a_reason_with_another_statement_goes_through_policy(
    strict: GatewayThread, pg: PgServer, victim: None
) -> None:
    with psycopg.connect(strict.dsn("alice"), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SET airlock.reason = 'x'; DROP TABLE agent_victim")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SET LOCAL airlock.reason = 'x'")  # not taken: reviewed as before
        with conn.transaction():  # taken inside a transaction too, answered in order
            assert conn.execute("SET airlock.reason = 'in tx'").statusmessage == "SET"
            assert conn.execute("SELECT 5").fetchone() == (5,)
    assert victim_exists(pg)


# --- item 4: session-local objects are not reviewed; ddl is --------------------------------


def test_temp_objects_pass_the_default_policy_ddl_does_not(strict: GatewayThread) -> None:
    with psycopg.connect(strict.dsn("alice"), autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE agent_scratch (x int) ON COMMIT PRESERVE ROWS")
        conn.execute("INSERT INTO agent_scratch VALUES (1)")
        conn.execute("CREATE TEMP VIEW agent_scratch_v AS SELECT x FROM agent_scratch")
        assert conn.execute("SELECT x FROM agent_scratch_v").fetchone() == (1,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TEMP VIEW leak AS SELECT pg_read_file('/etc/hostname')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE agent_persistent (x int)")


# --- item 5: a startup client_encoding goes to policy like the same SET -----------------


@pytest.fixture(scope="module")
def encodings(pg: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    """A policy that lets an agent change encodings and run what then cannot be read."""
    allowed = ["read", "write", "transaction", "session", "tamper", "unknown"]
    policy = {"rules": [{"name": "latin1-ok", "decision": "allow", "categories": allowed}]}
    gw = GatewayThread.from_dict(
        base_config(tmp_path_factory.mktemp("agent-enc"), pg, policy=policy)
    )
    yield gw
    gw.stop()


def test_startup_encoding_is_refused_by_the_default_policy_as_tamper(
    strict: GatewayThread,
) -> None:
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(strict.dsn("alice", client_encoding="LATIN1"))
    assert "tamper" in str(info.value)


def test_startup_encoding_allowed_by_policy_works_like_the_set(encodings: GatewayThread) -> None:
    with psycopg.connect(encodings.dsn("alice", client_encoding="LATIN1"), autocommit=True) as c:
        assert c.info.encoding == "iso8859-1"
        assert c.execute("SHOW client_encoding").fetchone() == ("LATIN1",)
        assert c.execute("SELECT 'café'").fetchone() == ("café",)
    with psycopg.connect(encodings.dsn("alice"), autocommit=True) as c:
        c.execute("SET client_encoding = 'LATIN1'")
        assert c.execute("SELECT 'café'").fetchone() == ("café",)


def test_after_a_startup_encoding_every_statement_is_unknown(lax: GatewayThread) -> None:
    with psycopg.connect(lax.dsn("alice", client_encoding="LATIN1"), autocommit=True) as c:
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as info:
            c.execute("SELECT 1")
        assert "unknown" in (info.value.diag.message_detail or "")
