"""What the agent sees (issue 15): syntax errors answered at once and never sent, refusals
that carry DETAIL/HINT without the DO block's CONTEXT, the stated reason, temp objects,
client encodings at startup. Real psql / psycopg through the gateway to PostgreSQL 15."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import psycopg
import pytest

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
