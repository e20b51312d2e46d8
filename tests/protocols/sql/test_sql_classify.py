"""Behaviours of the SQL classifier, one test per decision."""

from __future__ import annotations

import pglast.ast
import pytest

from protocols.classification import Category, Classification
from protocols.sql import (
    KNOWN_STATEMENTS,
    NO_EFFECTS,
    LexingState,
    SqlClassifierCache,
    analyze_sql,
    apply_prepared,
    classify_sql,
    sql_effects,
)
from protocols.sql import classify as classify_module
from protocols.sql.lexing import is_utf8, normalize_encoding

U = Category.UNKNOWN


def cats(text: str, **kw: object) -> set[str]:
    return {c.value for c in classify_sql(text, **kw).categories}  # type: ignore[arg-type]


# --------------------------------------------------------------------------- lexing state


@pytest.mark.parametrize("enc", ["UTF8", "utf8", "UTF-8", "utf_8", "Unicode"])
def test_utf8_spellings_are_modelable(enc: str) -> None:
    assert LexingState(True, enc).modelable
    assert LexingState(True, enc).problem == ""


@pytest.mark.parametrize("enc", ["SJIS", "BIG5", "GBK", "GB18030", "LATIN1", "SQL_ASCII", "EUC_JP"])
def test_other_encodings_are_not_modelable(enc: str) -> None:
    state = LexingState(True, enc)
    assert not state.modelable
    result = classify_sql("SELECT 1", state)
    assert result.categories == {U}
    assert enc in result.reasons[0]


def test_scs_off_makes_everything_unknown() -> None:
    state = LexingState(standard_conforming_strings=False)
    assert not state.modelable
    assert classify_sql("SELECT 1", state).categories == {U}
    assert "standard_conforming_strings" in state.problem
    assert sql_effects("PREPARE p AS SELECT 1", state) is NO_EFFECTS


def test_the_backslash_split_pitfall() -> None:
    text = "SELECT 'a\\'' ; DROP TABLE t; --'"
    # One statement to a standard-conforming server (and to libpg_query)...
    assert classify_sql(text).statements == ("SelectStmt",)
    # ...two to a server with scs off: so that state must fail closed.
    assert classify_sql(text, LexingState(False)).categories == {U}


def test_normalize_encoding() -> None:
    assert normalize_encoding("UTF-8") == "utf8"
    assert is_utf8("unicode") and not is_utf8("latin1")


# --------------------------------------------------------------------------- robustness


def test_empty_and_comment_only_are_benign_and_empty() -> None:
    for text in ["", "  \n", "-- x", "/* x */", ";;"]:
        result = classify_sql(text)
        assert result.statements == () and result.categories == frozenset()
        assert result.benign


@pytest.mark.parametrize(
    "text", ["SELEC 1", "SELECT 'x", "SELECT 1\x00; DROP TABLE t", "SELECT '\ud800'"]
)
def test_bad_input_is_unknown(text: str) -> None:
    result = classify_sql(text)
    assert result.categories == {U}
    assert result.reasons


def test_deep_nesting_does_not_raise() -> None:
    text = "SELECT " + "(" * 3000 + "1" + ")" * 3000
    result = classify_sql(text)
    assert result.categories in ({U}, {Category.READ})


def test_unclassified_statement_type_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(classify_module, "KNOWN_STATEMENTS", frozenset())
    result = classify_sql("SELECT 1")
    assert U in result.categories
    assert "SelectStmt" in result.reasons[0]


def test_every_top_level_statement_type_is_known() -> None:
    not_top_level = {"PLAssignStmt", "RawStmt", "ReplicaIdentityStmt", "ReturnStmt"}
    not_top_level.add("SetOperationStmt")
    stmt_types = {n for n in dir(pglast.ast) if n.endswith("Stmt")} - not_top_level
    assert stmt_types <= KNOWN_STATEMENTS


# --------------------------------------------------------------------------- statements


def test_every_statement_of_a_multi_statement_string() -> None:
    result = classify_sql("SELECT 1; INSERT INTO t VALUES (1); GRANT ALL ON t TO bob")
    assert result.statements == ("SelectStmt", "InsertStmt", "GrantStmt")
    assert {Category.READ, Category.WRITE, Category.PRIVILEGE} <= result.categories


def test_objects() -> None:
    result = classify_sql("SELECT pg_catalog.lower(x) FROM app.users u JOIN db.s.t ON true")
    assert result.objects == ("function:pg_catalog.lower", "table:app.users", "table:db.s.t")
    assert "role:bob" in classify_sql("GRANT SELECT ON t TO bob").objects
    assert "role:admin" in classify_sql("GRANT admin TO CURRENT_USER").objects
    assert "role:current_user" in classify_sql("GRANT admin TO CURRENT_USER").objects
    assert "role:eve" in classify_sql("CREATE ROLE eve").objects
    assert "role:x" in classify_sql("SET ROLE x").objects
    assert "setting:work_mem" in classify_sql("SET work_mem = '1MB'").objects
    assert "table:a" in classify_sql("DROP TABLE a, b.c").objects
    assert "table:b.c" in classify_sql("DROP TABLE a, b.c").objects
    assert "path:/etc/passwd" in classify_sql("COPY t FROM '/etc/passwd'").objects
    assert "program:id" in classify_sql("COPY t TO PROGRAM 'id'").objects
    assert "path:/etc/passwd" in classify_sql("SELECT pg_read_file('/etc/passwd')").objects


def test_quoted_identifiers_are_case_sensitive() -> None:
    # Quoted upper case is another function (not the built-in): unknown, not export.
    assert cats('SELECT "PG_READ_FILE"(1)') == {"read", "unknown"}
    assert "export" in cats("SELECT PG_READ_FILE(1)")
    assert "export" in cats('SELECT U&"\\0070g_read_file"(1)')


def test_explain_plans_without_running() -> None:
    assert cats("EXPLAIN DELETE FROM t") == {"read"}
    assert cats("EXPLAIN (ANALYZE off) DELETE FROM t") == {"read"}
    assert cats("EXPLAIN (ANALYZE 0) DELETE FROM t") == {"read"}
    assert "destructive" in cats("EXPLAIN ANALYZE DELETE FROM t")
    assert "destructive" in cats("EXPLAIN (ANALYSE) DELETE FROM t")
    assert "destructive" in cats("EXPLAIN (ANALYZE on) DELETE FROM t")
    assert "destructive" in cats("EXPLAIN (ANALYZE 1) DELETE FROM t")
    assert "destructive" in cats("EXPLAIN (ANALYZE TRUE) DELETE FROM t")
    # functions are flagged even when only planned
    assert "export" in cats("EXPLAIN SELECT pg_read_file('x')")


def test_where_restriction_rules() -> None:
    destructive = [
        "DELETE FROM t",
        "DELETE FROM t WHERE true",
        "DELETE FROM t WHERE 1 = 1",
        "DELETE FROM t WHERE id = 1 OR true",
        "DELETE FROM t WHERE id = id",
        "DELETE FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.x = 1)",
        "UPDATE t SET a = 1 FROM u WHERE u.flag",
    ]
    restricted = [
        "DELETE FROM t WHERE id = 1",
        "DELETE FROM t WHERE true AND id = 1",
        "DELETE FROM t WHERE id = 1 OR id = 2",
        "DELETE FROM t x WHERE EXISTS (SELECT 1 FROM u WHERE u.id = x.id)",
        "DELETE FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.id = t.id)",
        "DELETE FROM t WHERE id IN (SELECT id FROM u)",
        "UPDATE t SET a = 1 WHERE CURRENT OF c",
        "UPDATE t SET a = 1 FROM u WHERE t.id = u.id",
    ]
    for text in destructive:
        assert "destructive" in cats(text), text
    for text in restricted:
        assert cats(text) == {"write"} or cats(text) == {"write", "read"}, text


def test_writes_hidden_inside_reads() -> None:
    assert "destructive" in cats("WITH d AS (DELETE FROM t RETURNING 1) SELECT * FROM d")
    assert {"ddl", "write"} <= cats("SELECT * INTO t2 FROM t")
    assert {"ddl", "write"} <= cats("CREATE TABLE t2 AS SELECT 1")
    assert "export" in cats("DECLARE c CURSOR FOR SELECT pg_read_file('x')")
    assert "privilege" in cats("SELECT 1 FROM t WHERE set_config('role', 'x', true) = 'x'")


def test_copy_directions() -> None:
    assert cats("COPY t FROM STDIN") == {"write"}
    assert cats("COPY t TO STDOUT") == {"read", "export"}
    assert cats("COPY t TO '/tmp/x'") == {"read", "export", "admin"}
    assert cats("COPY t TO PROGRAM 'x'") == {"read", "export", "admin", "code"}
    assert cats("COPY t FROM '/x'") == {"write", "export", "admin"}
    assert cats("COPY t FROM PROGRAM 'x'") == {"write", "admin", "code"}
    assert "export" in cats("COPY (SELECT * FROM pg_authid) TO STDOUT")


def test_settings() -> None:
    assert cats("SET search_path = a") == {"session"}
    assert cats("SET enable_hashjoin = off") == {"session"}
    assert cats("SET ROLE x") == {"privilege"}
    assert cats('SET "Role" TO x') == {"privilege"}  # GUC names are case-insensitive
    assert cats("SET app.tenant = 1") == {"privilege"}
    assert cats("SET log_min_messages = panic") == {"tamper"}
    assert cats("SET nonexistent_thing = 1") == {"unknown"}
    assert cats("SET standard_conforming_strings = on") == {"session"}
    assert cats("SET standard_conforming_strings = off") == {"tamper"}
    assert cats("SET client_encoding = 'utf-8'") == {"session"}
    assert cats("SET client_encoding = 'latin1'") == {"tamper"}
    assert cats("SET TRANSACTION READ ONLY") == {"transaction"}
    assert cats("RESET ALL") == {"session"}
    assert cats("SELECT set_config('work_mem', '1MB', false)") == {"read", "session"}
    assert "unknown" in cats("SELECT set_config(x, 'y', false) FROM t")
    assert "tamper" in cats("SELECT set_config('standard_conforming_strings'::text, 'off', false)")


def test_functions_by_prefix_and_attribute_notation() -> None:
    assert "export" in cats("SELECT dblink_get_result('c')")
    assert "export" in cats("SELECT * FROM pg_ls_tmpdir()")
    assert "admin" in cats("SELECT pg_drop_replication_slot('s')")
    assert "export" in cats("SELECT t.pg_read_file FROM t")
    assert cats("SELECT my_func(1)") == {"read", "unknown"}  # not built in: invariant 10


def test_catalog_writes() -> None:
    assert "admin" in cats("DELETE FROM pg_catalog.pg_class WHERE oid = 1")
    assert "admin" in cats("TRUNCATE pg_largeobject")
    assert {"tamper", "privilege"} <= cats("UPDATE pg_settings SET setting = 'x' WHERE name = 'y'")


def test_misc_statement_decisions() -> None:
    assert cats("ANALYZE t") == {"write"}
    assert cats("VACUUM t") == {"admin"}
    assert cats("PREPARE TRANSACTION 'x'") == {"admin"}
    assert cats("BEGIN") == {"transaction"}
    assert "admin" in cats("CREATE FUNCTION f() RETURNS int LANGUAGE c AS 'lib', 'f'")
    assert cats("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'select 1'") == {"code"}
    assert {"admin", "destructive"} <= cats("DROP EXTENSION x")
    assert {"privilege", "destructive"} <= cats("DROP POLICY p ON t")


# --------------------------------------------------------------------------- prepared state


def test_prepare_stores_the_inner_classification() -> None:
    result, effects = analyze_sql("PREPARE p(int) AS DELETE FROM t WHERE id = $1")
    assert result.categories == {Category.WRITE}
    ((name, inner),) = effects.prepared
    assert name == "p"
    assert inner.statements == ("DeleteStmt",)
    assert inner.categories == {Category.WRITE}
    wipe = sql_effects("PREPARE w AS DELETE FROM t").prepared[0][1]
    assert Category.DESTRUCTIVE in wipe.categories
    # the PREPARE itself is flagged with what it prepares
    assert "destructive" in cats("PREPARE w AS DELETE FROM t")


def test_execute_takes_the_prepared_classification() -> None:
    wipe = Classification(("DeleteStmt",), frozenset({Category.DESTRUCTIVE}), ("table:t",))
    read = Classification(("SelectStmt",), frozenset({Category.READ}))
    result = classify_sql("EXECUTE w", prepared={"w": wipe, "r": read})
    assert result.categories == {Category.DESTRUCTIVE}
    assert result.objects == ("table:t",)
    assert not result.cacheable
    assert classify_sql("EXECUTE r(1)", prepared={"r": read}).categories == {Category.READ}
    missing = classify_sql("EXECUTE nope", prepared={"r": read})
    assert missing.categories == {U} and not missing.cacheable
    assert "explain" not in cats("EXPLAIN EXECUTE nope")
    assert "unknown" in cats("EXPLAIN EXECUTE nope")


def test_deallocate_and_discard_effects() -> None:
    assert sql_effects("DEALLOCATE p").deallocated == ("p",)
    assert sql_effects("DEALLOCATE PREPARE p").deallocated == ("p",)
    assert sql_effects("DEALLOCATE ALL").deallocate_all
    assert sql_effects("DISCARD ALL").deallocate_all
    assert not sql_effects("DISCARD PLANS").deallocate_all
    assert sql_effects("SELECT 1") is NO_EFFECTS
    assert sql_effects("SELEC") is NO_EFFECTS


def test_setting_effects() -> None:
    assert sql_effects("SET standard_conforming_strings = off").settings == (
        ("standard_conforming_strings", "off"),
    )
    assert sql_effects("SET NAMES 'SJIS'").settings == (("client_encoding", "SJIS"),)
    assert sql_effects("RESET client_encoding").settings == (("client_encoding", None),)
    assert sql_effects(
        "SELECT set_config('standard_conforming_strings', 'off', true)"
    ).settings == (("standard_conforming_strings", "off"),)
    assert sql_effects("SET work_mem = '1MB'").settings == ()


# --------------------------------------------------------------------------- cache


def test_cache_hits_on_exact_text_and_state_only() -> None:
    cache = SqlClassifierCache(maxsize=2)
    first = cache.classify("SELECT 1")
    assert cache.classify("SELECT 1") is first
    assert cache.hits == 1
    cache.classify("select 1")  # different bytes: a miss
    assert cache.misses == 2
    off = cache.classify("SELECT 1", LexingState(False))
    assert off.categories == {U}
    assert len(cache) == 2  # LRU bound evicted the oldest
    cache.clear()
    assert len(cache) == 0


def test_cache_does_not_store_uncacheable() -> None:
    cache = SqlClassifierCache()
    read = Classification(("SelectStmt",), frozenset({Category.READ}))
    assert cache.classify("EXECUTE r", prepared={"r": read}).categories == {Category.READ}
    assert cache.classify("EXECUTE r").categories == {U}  # not served from cache
    assert len(cache) == 0


def test_cache_with_zero_size_stores_nothing() -> None:
    cache = SqlClassifierCache(maxsize=0)
    cache.classify("SELECT 1")
    assert len(cache) == 0


# --------------------------------------------------------------------------- applying effects


def test_execute_of_a_statement_prepared_in_the_same_text() -> None:
    assert cats("PREPARE q AS SELECT 1; EXECUTE q") == {"read"}
    assert "destructive" in cats("PREPARE w AS DELETE FROM t; EXECUTE w")
    assert "unknown" in cats("PREPARE q AS SELECT 1; DEALLOCATE q; EXECUTE q")
    read = Classification(("SelectStmt",), frozenset({Category.READ}))
    assert "unknown" in cats("DEALLOCATE ALL; EXECUTE r", prepared={"r": read})
    assert "unknown" in cats("DISCARD ALL; EXECUTE r", prepared={"r": read})


def test_effects_ops_keep_text_order() -> None:
    effects = sql_effects("PREPARE p AS SELECT 1; DEALLOCATE p; DEALLOCATE ALL")
    assert [(op, name) for op, name, _ in effects.ops] == [
        ("prepare", "p"),
        ("deallocate", "p"),
        ("deallocate_all", ""),
    ]


def test_apply_prepared_errs_towards_stricter() -> None:
    wipe = Classification(("DeleteStmt",), frozenset({Category.DESTRUCTIVE}))
    session = {"p": wipe}
    # PREPARE p fails on the server ("already exists") and aborts the rest, so p stays the
    # DELETE: the map must not end up believing p is a harmless SELECT.
    after = apply_prepared(session, sql_effects("PREPARE p AS SELECT 1"))
    assert Category.DESTRUCTIVE in after["p"].categories
    after = apply_prepared(session, sql_effects("PREPARE p AS SELECT 1; DEALLOCATE p"))
    assert "p" not in after  # EXECUTE p is then unknown: fail closed
    after = apply_prepared(session, sql_effects("DEALLOCATE p; PREPARE p AS SELECT 1"))
    assert after["p"].categories == {Category.READ}
    assert apply_prepared(session, sql_effects("DISCARD ALL")) == {}
    assert apply_prepared(session, sql_effects("SELECT 1")) == session


def test_constants_of_every_kind() -> None:
    assert "session" in cats("SELECT set_config('work_mem', 1.5, false)")
    assert "session" in cats("SELECT set_config('standard_conforming_strings', true::text, true)")
    assert "tamper" in cats("SELECT set_config('standard_conforming_strings', false::text, true)")
    assert "unknown" in cats("SELECT set_config(NULL, 'x', false)")
    assert "tamper" in cats("SELECT set_config('client_encoding', 8, false)")
    assert "destructive" in cats("EXPLAIN (ANALYZE 1.5) DELETE FROM t")


def test_benign_attribute_and_function_shapes() -> None:
    assert cats("SELECT (t).a FROM t") == {"read"}
    assert cats("ALTER FUNCTION f() IMMUTABLE") == {"ddl"}
    assert cats("CREATE FUNCTION f(a int[]) RETURNS int LANGUAGE sql AS 'select 1'") == {"code"}


def test_unreadable_option_argument_counts_as_on() -> None:
    from protocols.sql.context import defelem_text

    # the grammar gives EXPLAIN options only String/Integer/Float arguments; anything else
    # reads as None, which _explain treats as ANALYZE on (the stricter reading)
    assert defelem_text({"TypeName": {}}) is None


@pytest.mark.parametrize(
    "text",
    [
        "SELECT public.cleanup()",
        "SELECT cleanup()",
        "SELECT evil.lower('x')",  # a user's function named like a built-in
        "SELECT \"Lower\"('x')",
        "INSERT INTO t VALUES (my_default())",
        "SELECT * FROM my_srf()",
        "SELECT my_agg(x) FROM t",
        "SELECT count(*) OVER (), my_window() OVER () FROM t",
        "CREATE TABLE t2 (id int DEFAULT my_default())",
        "UPDATE t SET a = my_func(a) WHERE id = 1",
    ],
)
def test_a_call_of_a_function_postgres_does_not_ship_is_unknown(text: str) -> None:
    """Invariant 10: without the target's catalog, what a user's function runs is unknown."""
    assert "unknown" in cats(text)


@pytest.mark.parametrize(
    "text",
    [
        "SELECT lower('X'), now(), count(*), coalesce(a, 0) FROM t",
        "SELECT pg_catalog.lower('x'), information_schema._pg_expandarray(ARRAY[1])",
        "SELECT extract(year FROM now()), position('a' IN 'abc'), substring('abc' FROM 2)",
        "SELECT trim(both ' ' FROM ' a '), overlay('abc' PLACING 'x' FROM 2), now() AT TIME ZONE 'UTC'",
        "SELECT gen_random_uuid(), nextval('s'), jsonb_build_object('a', 1), string_agg(a, ',') FROM t",
    ],
)
def test_built_in_functions_stay_read(text: str) -> None:
    assert cats(text) == {"read"}
