"""The built-in function table against a live PostgreSQL 15, and what invariant 10 buys.

``protocols.sql.functions`` is generated from ``pg_proc`` (scripts/gen_sql_builtins.py); if
a server version adds or drops a function name, the first test fails instead of the
classifier silently calling a new built-in ``unknown`` or a dropped one benign.
"""

from __future__ import annotations

import psycopg
import pytest

from protocols.sql import classify_sql
from protocols.sql.functions import BUILTIN_FUNCTIONS
from tests.support.gateway import GatewayThread, base_config
from tests.support.pg import PgServer


def test_function_table_matches_the_server(pg: PgServer) -> None:
    live = pg.psql("SELECT DISTINCT proname FROM pg_proc WHERE oid < 16384").split()
    assert set(live) == BUILTIN_FUNCTIONS


def test_no_builtin_function_name_is_unknown_by_itself() -> None:
    for name in sorted(BUILTIN_FUNCTIONS - {"set_config"}):  # judged by its arguments
        result = classify_sql(f'SELECT pg_catalog."{name}"()')
        assert "unknown" not in {c.value for c in result.categories}, (name, result.reasons)


def test_a_function_created_out_of_band_is_not_run_unreviewed(
    pg: PgServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A DBA's `cleanup()` that deletes every row, called with a plain SELECT through the
    default policy: held for review (refused here: no approval channel), and nothing runs."""
    pg.psql(
        "DROP TABLE IF EXISTS kept; CREATE TABLE kept(a int); INSERT INTO kept VALUES (1),(2);"
        "CREATE OR REPLACE FUNCTION public.cleanup() RETURNS void LANGUAGE sql "
        "AS 'DELETE FROM kept'; GRANT ALL ON kept TO PUBLIC"
    )
    gw = GatewayThread.from_dict(base_config(tmp_path_factory.mktemp("fn"), pg, policy={}))
    try:
        with psycopg.connect(gw.dsn("alice"), autocommit=True) as conn:
            for text in ("SELECT cleanup()", "SELECT public.cleanup()", "SELECT * FROM cleanup()"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="approval"):
                    conn.execute(text)
            assert conn.execute("SELECT lower('OK'), count(*) FROM kept").fetchone() == ("ok", 2)
    finally:
        gw.stop()
    assert pg.psql("SELECT count(*) FROM kept").strip() == "2"
