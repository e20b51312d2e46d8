"""The built-in tables the SQL classifier relies on, checked against a live PostgreSQL 15.

``protocols.sql.operators`` is generated from ``pg_operator`` (scripts/gen_sql_builtins.py);
if a server version adds or drops an operator name, this fails instead of the classifier
silently calling a new built-in ``unknown`` or a dropped one benign. The function forms of
sensitive catalogs are checked the same way: every set-returning function a sensitive
catalog view reads from, and every built-in file-access function, must be ``export``.
"""

from __future__ import annotations

import json
from typing import Any

from pglast.parser import parse_sql_json

from protocols.classification import Category
from protocols.sql import classify_sql
from protocols.sql import tables as T
from protocols.sql.operators import BUILTIN_OPERATORS
from tests.support.pg import PgServer


def test_operator_table_matches_the_server(pg: PgServer) -> None:
    live = pg.psql("SELECT DISTINCT oprname FROM pg_operator WHERE oid < 16384").split()
    assert set(live) == BUILTIN_OPERATORS


def test_every_builtin_operator_is_benign_in_use(pg: PgServer) -> None:
    rows = pg.psql(
        "SELECT DISTINCT oprname, oprkind FROM pg_operator WHERE oid < 16384"
    ).splitlines()
    for row in rows:
        name, kind = row.rsplit("|", 1)
        left = "a " if kind == "b" else ""
        for spelled in (f"OPERATOR(pg_catalog.{name})", f"OPERATOR({name})"):
            text = f"SELECT {left}{spelled} b FROM t"
            assert classify_sql(text).benign, text


def _functions_read_by(viewdef: str) -> set[str]:
    """The argument-less functions a view's FROM clause reads (RangeFunction): the view's
    data source. A function given arguments (pg_options_to_table(umoptions)) only
    reshapes what the view passes it."""
    found: set[str] = set()

    def walk(node: Any, in_range_function: bool) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, in_range_function)
        elif isinstance(node, dict):
            for key, value in node.items():
                if key == "FuncCall" and in_range_function and not value.get("args"):
                    found.add(value["funcname"][-1]["String"]["sval"])
                walk(value, in_range_function or key == "RangeFunction")

    walk(json.loads(parse_sql_json(viewdef)), False)
    return found


def test_function_forms_of_sensitive_catalogs_are_export(pg: PgServer) -> None:
    views = pg.psql(
        "SELECT schemaname || '.' || viewname FROM pg_views"
        " WHERE schemaname IN ('pg_catalog', 'information_schema')"
    ).split()
    sensitive = sorted(v for v in views if v.split(".")[1] in T.SENSITIVE_CATALOGS)
    assert "pg_catalog.pg_hba_file_rules" in sensitive
    functions: set[str] = set()
    for view in sensitive:
        definition = pg.psql(f"SELECT pg_get_viewdef('{view}'::regclass)")
        functions |= _functions_read_by(definition)
    assert {"pg_hba_file_rules", "pg_show_all_file_settings"} <= functions
    file_functions = pg.psql(
        "SELECT DISTINCT proname FROM pg_proc WHERE oid < 16384 AND (proname LIKE 'pg\\_ls\\_%'"
        " OR proname LIKE 'pg\\_read\\_%' OR proname LIKE 'pg\\_stat\\_file%'"
        " OR proname LIKE '%file\\_settings%' OR proname LIKE '%\\_file\\_%'"
        " OR proname LIKE 'pg\\_current\\_logfile%' OR proname LIKE 'lo\\_%port')"
    ).split()
    assert len(file_functions) >= 12, file_functions
    for name in sorted(functions | set(file_functions)):
        result = classify_sql(f"SELECT * FROM pg_catalog.{name}()")
        assert Category.EXPORT in result.categories, (name, result)
