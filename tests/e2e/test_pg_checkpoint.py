"""The checkpoint seam through the real relay: denials with real-error semantics, a held
statement that stalls only its own session, and lexing-state attacks that never run."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from gateway.checkpoint import Checkpoint, SessionContext
from gateway.model import Action, Outcome, Verdict
from gateway.policy import load_policy
from protocols.classification import Classification
from tests.support.gateway import GatewayThread, base_config
from tests.support.pg import PgServer

ALLOW_TAMPER = {"rules": [{"name": "allow-tamper", "decision": "allow",
                           "categories": ["tamper", "session", "read", "write", "ddl", "transaction"]}]}  # fmt: skip


@pytest.fixture(scope="module")
def strict(pg: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    """The built-in default policy: read/write/transaction/session pass, the rest is reviewed
    (and, with no approval channel configured, refused)."""
    gw = GatewayThread.from_dict(base_config(tmp_path_factory.mktemp("strict"), pg, policy={}))
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def lax(pg: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    """Lets `SET standard_conforming_strings = off` itself through, to attack what follows."""
    gw = GatewayThread.from_dict(
        base_config(tmp_path_factory.mktemp("lax"), pg, policy=ALLOW_TAMPER)
    )
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def victim(pg: PgServer) -> Iterator[str]:
    pg.psql(
        "DROP TABLE IF EXISTS victim; CREATE TABLE victim(a int); INSERT INTO victim VALUES (1)"
    )
    yield "victim"


def read_replies(sock: int, ready_count: int) -> bytes:
    """Read a (non-blocking) client socket until `ready_count` ReadyForQuery messages came."""
    import os
    import select

    data = b""
    while data.count(b"Z\x00\x00\x00\x05") < ready_count:
        readable, _, _ = select.select([sock], [], [], 10)
        assert readable, "no reply within 10 s"
        chunk = os.read(sock, 65536)
        assert chunk, "connection closed"
        data += chunk
    return data


#: With standard_conforming_strings on: one harmless SELECT of two string literals. With it
#: off: `SELECT 'a'', '` then `DROP TABLE victim` then a comment.
ATTACK = "SELECT 'a\\', ' ; DROP TABLE victim; --'"


def victim_exists(pg: PgServer) -> bool:
    return pg.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'victim'").strip() == "1"


def test_denied_statement_is_42501_with_reason(strict: GatewayThread) -> None:
    with psycopg.connect(strict.dsn("alice"), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as info:
            conn.execute("GRANT ALL ON SCHEMA public TO PUBLIC")
        assert info.value.sqlstate == "42501"
        assert "approval required" in str(info.value) and "privilege" in str(info.value)
        assert conn.execute("SELECT 'next works'").fetchone() == ("next works",)


def test_denial_aborts_an_explicit_transaction(strict: GatewayThread, pg: PgServer) -> None:
    pg.psql("DROP TABLE IF EXISTS txn_t; CREATE TABLE txn_t(a int)")
    with psycopg.connect(strict.dsn("alice")) as conn:
        conn.execute("INSERT INTO txn_t VALUES (1)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DROP TABLE txn_t")
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            conn.execute("SELECT 1")
        conn.rollback()
    assert pg.psql("SELECT count(*) FROM txn_t").strip() == "0"


@pytest.mark.parametrize("pipeline_sync", [False, True])
def test_denied_parse_in_a_pipeline_acts_like_a_real_error(
    strict: GatewayThread, pg: PgServer, pipeline_sync: bool
) -> None:
    """Same table state and same client experience as a statement the server rejects."""
    states = {}
    for failing, error in (
        ("SELECT 1/0", psycopg.errors.DivisionByZero),
        ("TRUNCATE pipe_t", psycopg.errors.InsufficientPrivilege),  # refused: destructive
    ):
        pg.psql("DROP TABLE IF EXISTS pipe_t; CREATE TABLE pipe_t(a int)")
        with psycopg.connect(strict.dsn("alice"), autocommit=True) as conn:
            with pytest.raises(error), conn.pipeline() as p:
                conn.execute("INSERT INTO pipe_t VALUES (%s)", (1,))
                if pipeline_sync:
                    p.sync()
                conn.execute(failing)
                conn.execute("INSERT INTO pipe_t VALUES (%s)", (2,))  # skipped to Sync
            assert conn.execute("SELECT 'usable'").fetchone() == ("usable",)
        states[failing] = pg.psql("SELECT array_agg(a) FROM pipe_t").strip()
    assert states["SELECT 1/0"] == states["TRUNCATE pipe_t"]
    assert states["TRUNCATE pipe_t"] == ("{1}" if pipeline_sync else "")


def test_fastpath_function_call_is_refused(strict: GatewayThread) -> None:
    """The fastpath FunctionCall runs a function by OID, unseen: `unknown`, reviewed."""
    import struct

    from protocols.pgwire import messages as m

    # Plain TCP: the test writes raw protocol bytes onto the socket beside libpq.
    with psycopg.connect(strict.dsn("alice", sslmode="disable"), autocommit=True) as conn:
        import os

        # FunctionCall(oid of pg_sleep... any oid), 0 arg formats, 0 args, text result.
        os.write(conn.pgconn.socket, m.message(b"F", struct.pack("!ihhh", 2101, 0, 0, 0)))
        # Read the reply on the raw socket: an ErrorResponse 42501 then ReadyForQuery.
        data = read_replies(conn.pgconn.socket, 1)
        assert b"C42501" in data and b"approval required" in data


def test_sql_prepare_then_execute_takes_the_prepared_classification(strict: GatewayThread) -> None:
    with psycopg.connect(strict.dsn("alice"), autocommit=True) as conn:
        conn.execute("PREPARE ok AS SELECT 1")
        assert conn.execute("EXECUTE ok").fetchone() == (1,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("EXECUTE never_prepared")  # unknown name: fail closed


@pytest.mark.parametrize(
    "setter",
    [
        "SET standard_conforming_strings = off",
        "SELECT set_config('standard_conforming_strings', 'off', false)",
        "SET client_encoding = 'SJIS'",
    ],
)
def test_lexing_attack_never_runs_the_drop(
    lax: GatewayThread, pg: PgServer, victim: str, setter: str
) -> None:
    attack = ATTACK
    with psycopg.connect(lax.dsn("alice"), autocommit=True) as conn:
        conn.execute(setter)
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as info:
            conn.execute(attack, prepare=False)
        assert "unknown" in str(info.value)
    assert victim_exists(pg)


def test_pipelined_lexing_attack_is_held_until_the_server_reports(
    lax: GatewayThread, pg: PgServer, victim: str
) -> None:
    """Both Query messages in one write: the second must be classified with scs off."""
    import os

    from protocols.pgwire import messages as m

    # Plain TCP: both messages are written raw, in one write, beside libpq.
    with psycopg.connect(lax.dsn("alice", sslmode="disable"), autocommit=True) as conn:
        sock = conn.pgconn.socket
        os.write(sock, m.query("SET standard_conforming_strings = off") + m.query(ATTACK))
        data = read_replies(sock, 2)
        assert b"C42501" in data
    assert victim_exists(pg)


def test_startup_route_is_refused(lax: GatewayThread) -> None:
    with pytest.raises(
        psycopg.OperationalError, match="standard_conforming_strings=off is refused"
    ):
        psycopg.connect(lax.dsn("alice", options="-c standard_conforming_strings=off"))


class GateReviewer:
    """A reviewer that holds a statement until the test releases it (a human, in the
    test's hands), then approves it."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.event: asyncio.Event | None = None
        self.held = threading.Event()

    async def review(
        self, ctx: SessionContext, action: Action, classification: Classification, verdict: Verdict
    ) -> Outcome:
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()
        self.held.set()
        await self.event.wait()
        return Outcome(True, classification, verdict, request_id="test")

    def release(self) -> None:
        assert self.loop is not None and self.event is not None
        self.loop.call_soon_threadsafe(self.event.set)


#: Statements with the marker are reviewed (and so held by a GateReviewer).
HOLD = {"rules": [{"name": "hold", "decision": "review", "text": "hold_me"}]}


def test_a_held_statement_stalls_only_its_session(pg: PgServer, tmp_path: Path) -> None:
    gate = GateReviewer()
    checkpoint = Checkpoint(load_policy(HOLD), reviewer=gate)
    gw = GatewayThread.from_dict(base_config(tmp_path, pg, policy={}), checkpoint)
    try:
        result: dict[str, object] = {}

        def held_session() -> None:
            with psycopg.connect(gw.dsn("alice"), autocommit=True) as conn:
                result["held"] = conn.execute("SELECT 'hold_me'").fetchone()
                result["done_at"] = time.monotonic()

        thread = threading.Thread(target=held_session)
        thread.start()
        assert gate.held.wait(10)
        # While it is held, other sessions keep their full speed.
        with psycopg.connect(gw.dsn("bob"), autocommit=True) as other:
            for i in range(300):
                assert other.execute("SELECT %s::int", (i,)).fetchone() == (i,)
        assert "held" not in result and thread.is_alive()
        released_at = time.monotonic()
        gate.release()
        thread.join(10)
        assert result["held"] == ("hold_me",)
        assert result["done_at"] >= released_at  # type: ignore[operator]
    finally:
        gw.stop()


def test_prepared_statement_is_decided_again_at_execute_after_a_reload(
    pg: PgServer, tmp_path: Path
) -> None:
    """A statement prepared under one policy does not keep running under a stricter one."""
    gw = GatewayThread.from_dict(base_config(tmp_path, pg, policy={}))
    try:
        with psycopg.connect(gw.dsn("alice"), autocommit=True) as conn:
            query = "SELECT count(*) FROM pg_class WHERE relname = %s"
            for _ in range(3):  # psycopg prepares server-side after repeated use
                assert conn.execute(query, ("pg_class",), prepare=True).fetchone() == (1,)
            deny_reads = load_policy(
                {"rules": [{"name": "no-reads", "decision": "deny", "categories": ["read"]}]}
            )

            async def swap() -> None:
                gw.app.checkpoint.replace_policy(deny_reads)

            gw.call(swap())
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="no-reads"):
                conn.execute(query, ("pg_class",), prepare=True)
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="no-reads"):
                conn.execute(query, ("pg_class",), prepare=True)  # still refused, not stale
    finally:
        gw.stop()


def test_a_held_statement_keeps_its_transaction_alive(pg: PgServer, tmp_path: Path) -> None:
    """The upstream's idle_in_transaction_session_timeout does not end a session whose
    statement is waiting for a human; the transaction goes on afterwards."""
    gate = GateReviewer()
    gw = GatewayThread.from_dict(
        base_config(tmp_path, pg), Checkpoint(load_policy(HOLD), reviewer=gate)
    )
    try:
        with psycopg.connect(gw.dsn("alice")) as conn:  # psycopg opens a transaction
            conn.execute("SET idle_in_transaction_session_timeout = '300ms'")
            result: dict[str, object] = {}

            def held() -> None:
                try:
                    result["row"] = conn.execute("SELECT 'hold_me'").fetchone()
                except psycopg.Error as exc:
                    result["error"] = exc

            thread = threading.Thread(target=held)
            thread.start()
            assert gate.held.wait(10)
            time.sleep(1.0)  # the scenario itself: stay held past the server's idle timeout
            gate.release()
            thread.join(10)
            assert result.get("row") == ("hold_me",), result
            assert conn.execute(
                "SELECT current_setting('idle_in_transaction_session_timeout')"
            ).fetchone() == ("0",)
            conn.commit()
            # SET LOCAL ended with the transaction: the client's own setting is back.
            assert conn.execute(
                "SELECT current_setting('idle_in_transaction_session_timeout')"
            ).fetchone() == ("300ms",)
    finally:
        gw.stop()


def test_extended_pipeline_lexing_attack_never_runs_the_drop(
    lax: GatewayThread, pg: PgServer, victim: str
) -> None:
    """SET scs = off and the attack in one extended-protocol batch (no Sync between them):
    the server reports the new setting only at Sync, so the attack cannot be classified."""
    with psycopg.connect(lax.dsn("alice"), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.pipeline():
            conn.execute("SET standard_conforming_strings = off")
            conn.execute(ATTACK)
        assert conn.execute("SELECT 'usable'").fetchone() == ("usable",)
    assert victim_exists(pg)


def test_after_a_reload_a_prepared_statement_is_decided_again_once(
    pg: PgServer, tmp_path: Path
) -> None:
    """Re-deciding is once per statement per policy change, not on every Execute after it."""
    import json

    gw = GatewayThread.from_dict(base_config(tmp_path, pg, policy={}))
    try:
        with psycopg.connect(gw.dsn("alice", application_name="redecide"), autocommit=True) as conn:
            query = "SELECT %s::int + 1"
            assert conn.execute(query, (1,), prepare=True).fetchone() == (2,)

            async def swap() -> None:
                gw.app.checkpoint.replace_policy(load_policy({}))  # same rules, new version

            gw.call(swap())
            for i in range(5):
                assert conn.execute(query, (i,), prepare=True).fetchone() == (i + 1,)
        gw.wait_sessions_closed()
        path = next(gw.config.recording.directory.rglob("*.jsonl"))
        events = [json.loads(line) for line in path.read_text().splitlines()]
        decided = [e for e in events if e["type"] == "statement" and "::int + 1" in e["text"]]
        assert len(decided) == 2  # the Parse, then one re-decision at the first Execute
    finally:
        gw.stop()


class CountingReviewer:
    """Approves every review at once and counts them: each count is one human decision."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def review(
        self, ctx: SessionContext, action: Action, classification: Classification, verdict: Verdict
    ) -> Outcome:
        self.texts.append(action.text)
        return Outcome(True, classification, verdict, request_id=f"r{len(self.texts)}")


@pytest.fixture
def approve_all(pg: PgServer, tmp_path: Path) -> Iterator[tuple[GatewayThread, CountingReviewer]]:
    pg.psql("DROP TABLE IF EXISTS prep_victim; CREATE TABLE prep_victim(a int)")
    reviewer = CountingReviewer()
    gw = GatewayThread.from_dict(
        base_config(tmp_path, pg, policy={}), Checkpoint(load_policy({}), reviewer=reviewer)
    )
    yield gw, reviewer
    gw.stop()


def _victim_rows(pg: PgServer) -> int:
    return int(pg.psql("SELECT count(*) FROM prep_victim").strip())


def _statement_events(gw: GatewayThread, needle: str) -> list[dict[str, object]]:
    import json

    gw.wait_sessions_closed()
    path = next(gw.config.recording.directory.rglob("*.jsonl"))
    events = [json.loads(line) for line in path.read_text().splitlines()]
    return [e for e in events if e["type"] == "statement" and needle in str(e["text"])]


def test_protocol_execute_of_an_sql_prepared_statement_is_decided_every_time(
    approve_all: tuple[GatewayThread, CountingReviewer], pg: PgServer
) -> None:
    """One approved `PREPARE x AS DELETE ...`, then Bind/Execute of `x` (the protocol and
    SQL share one namespace): every execution needs its own decision and is recorded."""
    gw, reviewer = approve_all
    with psycopg.connect(gw.dsn("alice"), autocommit=True) as conn:
        conn.execute("PREPARE wipe AS DELETE FROM prep_victim")
        assert len(reviewer.texts) == 1
        for run in range(3):
            pg.psql("INSERT INTO prep_victim VALUES (1)")
            result = conn.pgconn.exec_prepared(b"wipe", [])
            assert result.status == psycopg.pq.ExecStatus.COMMAND_OK, result.error_message
            assert _victim_rows(pg) == 0
            assert len(reviewer.texts) == 2 + run  # a human decided this execution too
    assert len(_statement_events(gw, "wipe")) == 4  # the PREPARE and each execution


def test_a_protocol_name_redefined_by_sql_prepare_is_not_run_under_its_old_decision(
    approve_all: tuple[GatewayThread, CountingReviewer], pg: PgServer
) -> None:
    """Parse `s1` (a harmless SELECT, allowed), then DEALLOCATE and PREPARE `s1` anew as a
    DELETE: Bind/Execute of `s1` runs the DELETE and must be decided as one, every time."""
    gw, reviewer = approve_all
    with psycopg.connect(gw.dsn("alice"), autocommit=True) as conn:
        assert conn.pgconn.prepare(b"s1", b"SELECT 1").status == psycopg.pq.ExecStatus.COMMAND_OK
        assert conn.pgconn.exec_prepared(b"s1", []).status == psycopg.pq.ExecStatus.TUPLES_OK
        assert reviewer.texts == []
        conn.execute("DEALLOCATE s1")
        conn.execute("PREPARE s1 AS DELETE FROM prep_victim")
        assert len(reviewer.texts) == 1
        for run in range(2):
            pg.psql("INSERT INTO prep_victim VALUES (1)")
            result = conn.pgconn.exec_prepared(b"s1", [])
            assert result.status == psycopg.pq.ExecStatus.COMMAND_OK, result.error_message
            assert len(reviewer.texts) == 2 + run
        conn.execute("DISCARD ALL")
        assert conn.pgconn.prepare(b"s1", b"SELECT 2").status == psycopg.pq.ExecStatus.COMMAND_OK
        assert conn.pgconn.exec_prepared(b"s1", []).status == psycopg.pq.ExecStatus.TUPLES_OK
        assert len(reviewer.texts) == 3  # a fresh protocol Parse is decided at Parse again


def test_execute_of_a_name_the_gateway_never_saw_prepared_is_unknown(
    approve_all: tuple[GatewayThread, CountingReviewer],
) -> None:
    """A statement name with no definition the gateway knows is judged `unknown` (here:
    reviewed, approved, and then the server reports it does not exist)."""
    gw, reviewer = approve_all
    with psycopg.connect(gw.dsn("alice"), autocommit=True) as conn:
        result = conn.pgconn.exec_prepared(b"nowhere", [])
        assert result.status == psycopg.pq.ExecStatus.FATAL_ERROR
        assert b"does not exist" in (result.error_message or b"")
        assert len(reviewer.texts) == 1


def test_sql_prepare_sent_through_parse_redefines_the_name_too(
    approve_all: tuple[GatewayThread, CountingReviewer], pg: PgServer
) -> None:
    """The same redefinition with DEALLOCATE and PREPARE sent as extended-protocol
    statements (Parse/Bind/Execute) instead of simple queries."""
    gw, reviewer = approve_all
    with psycopg.connect(gw.dsn("alice"), autocommit=True) as conn:
        pgconn = conn.pgconn
        assert pgconn.prepare(b"s2", b"SELECT 1").status == psycopg.pq.ExecStatus.COMMAND_OK
        assert pgconn.exec_params(b"DEALLOCATE s2", []).status == psycopg.pq.ExecStatus.COMMAND_OK
        result = pgconn.exec_params(b"PREPARE s2 AS DELETE FROM prep_victim", [])
        assert result.status == psycopg.pq.ExecStatus.COMMAND_OK, result.error_message
        assert len(reviewer.texts) == 1
        for run in range(2):
            assert pgconn.exec_prepared(b"s2", []).status == psycopg.pq.ExecStatus.COMMAND_OK
            assert len(reviewer.texts) == 2 + run
