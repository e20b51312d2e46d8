"""Issue 12 item 7: SQL that binds a function (or embeds a call) for later, implicit runs.

A statement that makes the server run something later without naming it (an operator, a
cast, an aggregate, a trigger, a column default, a view, a policy...) must carry the
categories of what it binds, plus ``code`` where it binds it for later implicit execution;
and a use of an operator that is not one of PostgreSQL's own is ``unknown`` (DESIGN
invariant 10: without the target's catalog, a non-built-in object is unknown).
"""

from __future__ import annotations

import pytest

from protocols.classification import Category
from protocols.sql import classify_sql
from protocols.sql.operators import BUILTIN_OPERATORS


def cats(text: str) -> set[str]:
    return {c.value for c in classify_sql(text).categories}


# --------------------------------------------------------------------------- binding DDL

#: (statement, categories it must carry at least)
BINDS = [
    # the function named as a string, old-style aggregates, nested in CREATE SCHEMA
    ("CREATE OPERATOR ### (rightarg = text, function = 'pg_read_file')", {"export", "code"}),
    (
        "CREATE AGGREGATE a (BASETYPE = text, SFUNC = pg_read_file, STYPE = text)",
        {"export", "code"},
    ),
    ("CREATE OPERATOR ### (rightarg = text, function = set_config)", {"unknown", "code"}),
    (
        "CREATE SCHEMA s CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW EXECUTE FUNCTION lo_manage(a)",
        {"export", "code"},
    ),
    ("CREATE SCHEMA s CREATE VIEW v AS SELECT pg_read_file('/x')", {"export", "code"}),
    (
        "CREATE RULE \"_RETURN\" AS ON SELECT TO t DO INSTEAD SELECT pg_read_file('/x')",
        {"export", "code"},
    ),
    ("CREATE TABLE t (a int) PARTITION BY RANGE ((pg_stat_file('x')))", {"export", "code"}),
    ("EXPLAIN CREATE MATERIALIZED VIEW v AS SELECT pg_read_file('/x')", {"export", "code"}),
    # item 7's own examples
    ("CREATE OPERATOR ### (rightarg = text, function = pg_read_file)", {"export", "code"}),
    (
        "CREATE OPERATOR public.### (rightarg = text, procedure = pg_catalog.pg_read_file)",
        {"export", "code"},
    ),
    (
        "CREATE OPERATOR ### (leftarg = oid, rightarg = text, function = lo_export)",
        {"export", "admin", "code"},
    ),
    ('CREATE OPERATOR ### (rightarg = text, function = "pg_read_file")', {"export", "code"}),
    ('CREATE OPERATOR ### (rightarg = text, function = U&"\\0070g_read_file")', {"export", "code"}),
    ("CREATE OPERATOR === (leftarg = int, rightarg = int, function = int4eq)", {"code"}),
    ("CREATE CAST (int AS text) WITH FUNCTION pg_read_file(int)", {"export", "code"}),
    ("CREATE CAST (mytype AS text) WITH FUNCTION public.f(mytype) AS IMPLICIT", {"code"}),
    ("CREATE CAST (mytype AS text) WITHOUT FUNCTION AS IMPLICIT", {"code"}),
    ("CREATE AGGREGATE a(text) (sfunc = pg_read_file, stype = text)", {"export", "code"}),
    (
        "CREATE AGGREGATE a(text) (sfunc = textcat, stype = text, finalfunc = lo_import)",
        {"export", "admin", "code"},
    ),
    ("CREATE AGGREGATE a(text) (sfunc = f, stype = text)", {"code"}),
    ("CREATE CONVERSION c FOR 'UTF8' TO 'LATIN1' FROM pg_read_file", {"export", "code"}),
    ("CREATE CONVERSION c FOR 'UTF8' TO 'LATIN1' FROM my_conv", {"code"}),
    (
        "CREATE TRANSFORM FOR int LANGUAGE plpython3u (FROM SQL WITH FUNCTION pg_read_file(internal), TO SQL WITH FUNCTION f(internal))",
        {"export", "admin", "code"},
    ),
    (
        "CREATE EVENT TRIGGER et ON ddl_command_start EXECUTE FUNCTION pg_read_file()",
        {"export", "admin", "code"},
    ),
    ("ALTER OPERATOR === (int, int) SET (RESTRICT = pg_read_file)", {"export", "code"}),
    ("ALTER OPERATOR === (int, int) SET (RESTRICT = eqsel, JOIN = eqjoinsel)", {"code"}),
    ("ALTER TYPE t SET (RECEIVE = lo_import, SEND = f_send)", {"export", "admin", "code"}),
    ("ALTER TYPE t SET (SEND = f_send)", {"code"}),
    ("CREATE TYPE t (input = f_in, output = f_out)", {"code"}),
    ("CREATE TYPE t (input = pg_read_file, output = textout)", {"export", "code"}),
    ("CREATE TYPE r AS RANGE (subtype = int4, canonical = f_canon)", {"code"}),
    ("CREATE TYPE r AS RANGE (subtype = float8, subtype_diff = pg_read_file)", {"export", "code"}),
    (
        "CREATE OPERATOR CLASS c FOR TYPE int USING btree AS OPERATOR 1 <, FUNCTION 1 pg_read_file(int)",
        {"export", "code"},
    ),
    ("CREATE OPERATOR CLASS c FOR TYPE int USING btree AS FUNCTION 1 my_cmp(int, int)", {"code"}),
    (
        "ALTER OPERATOR FAMILY f USING btree ADD FUNCTION 1 lo_export(int, int)",
        {"export", "admin", "code"},
    ),
    ("ALTER OPERATOR FAMILY f USING btree ADD OPERATOR 1 === (int, int)", {"code"}),
    ("CREATE TEXT SEARCH PARSER p (start = f1, gettoken = f2, end = f3, lextypes = f4)", {"code"}),
    ("CREATE TEXT SEARCH TEMPLATE t (init = f1, lexize = pg_read_file)", {"export", "code"}),
    # a DDL that embeds a privileged call carries it, plus code: it runs later, unreviewed
    ("CREATE TABLE t (a text DEFAULT pg_read_file('/etc/passwd'))", {"export", "admin", "code"}),
    (
        "CREATE TABLE t (a text GENERATED ALWAYS AS (pg_read_file(b)) STORED, b text)",
        {"export", "code"},
    ),
    ("CREATE TABLE t (a text CHECK (pg_read_file(a) IS NOT NULL))", {"export", "code"}),
    ("ALTER TABLE t ALTER COLUMN a SET DEFAULT pg_read_file('/etc/shadow')", {"export", "code"}),
    ("ALTER TABLE t ADD COLUMN a text DEFAULT lo_export(1, '/tmp/x')", {"export", "admin", "code"}),
    ("CREATE DOMAIN d AS text CHECK (pg_read_file(VALUE) IS NOT NULL)", {"export", "code"}),
    ("ALTER DOMAIN d ADD CHECK (lo_import(VALUE) > 0)", {"export", "code"}),
    ("CREATE INDEX i ON t ((pg_read_file(path)))", {"export", "code"}),
    ("CREATE INDEX i ON t (a) WHERE pg_ls_dir(a) IS NOT NULL", {"export", "code"}),
    ("CREATE VIEW v AS SELECT pg_read_file('/etc/passwd')", {"export", "code"}),
    ("CREATE VIEW v AS SELECT * FROM pg_authid", {"export", "code"}),
    ("CREATE MATERIALIZED VIEW v AS SELECT pg_read_file('/etc/passwd')", {"export", "code"}),
    (
        "CREATE RULE r AS ON INSERT TO t DO ALSO SELECT lo_export(1, '/tmp/x')",
        {"export", "admin", "code"},
    ),
    (
        "CREATE POLICY p ON t USING (pg_read_file('/etc/passwd') <> '')",
        {"privilege", "export", "code"},
    ),
    ("ALTER POLICY p ON t WITH CHECK (pg_terminate_backend(1))", {"privilege", "admin", "code"}),
    (
        "CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW WHEN (pg_ls_dir('/') IS NULL) EXECUTE FUNCTION f()",
        {"export", "code"},
    ),
    (
        "CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW EXECUTE FUNCTION lo_manage(a)",
        {"export", "code"},
    ),
    ("CREATE STATISTICS s ON (pg_read_file(a)) FROM t", {"export", "code"}),
    (
        "CREATE TABLE t (a text DEFAULT current_setting('x') || set_config('role', 'postgres', false))",
        {"privilege", "code"},
    ),
    ("CREATE TABLE t (a int DEFAULT 1 === 2)", {"unknown", "code"}),
]


@pytest.mark.parametrize(("text", "want"), BINDS, ids=[b[0][:60] for b in BINDS])
def test_binding_carries_what_it_binds(text: str, want: set[str]) -> None:
    result = classify_sql(text)
    assert want <= {c.value for c in result.categories}, result
    assert not result.benign
    assert result.reasons


@pytest.mark.parametrize(
    ("text", "want"),
    [
        (
            "CREATE TABLE t (id uuid DEFAULT gen_random_uuid(), at timestamptz DEFAULT now())",
            {"ddl"},
        ),
        (
            "CREATE TABLE t (id bigint DEFAULT nextval('t_id_seq'), n text NOT NULL CHECK (n <> ''))",
            {"ddl"},
        ),
        (
            "CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY, a int, b int GENERATED ALWAYS AS (a * 2) STORED)",
            {"ddl"},
        ),
        ("CREATE INDEX i ON users (lower(email))", {"ddl"}),
        ("CREATE INDEX i ON users (email) WHERE deleted_at IS NULL", {"ddl"}),
        ("CREATE UNIQUE INDEX i ON t USING gin (doc jsonb_path_ops)", {"ddl"}),
        ("ALTER TABLE t ADD CONSTRAINT c EXCLUDE USING gist (r WITH &&)", {"ddl"}),
        ("ALTER TABLE t ALTER COLUMN a SET DEFAULT now()", {"ddl"}),
        ("CREATE VIEW v AS SELECT id, lower(email) FROM users WHERE id > 10", {"ddl", "read"}),
        ("CREATE DOMAIN posint AS int CHECK (VALUE > 0)", {"ddl"}),
        ("CREATE TYPE mood AS ENUM ('sad', 'ok')", {"ddl"}),
        ("CREATE TYPE pair AS (a int, b text)", {"ddl"}),
        ("CREATE TYPE r AS RANGE (subtype = int4)", {"ddl"}),
        ("CREATE TYPE shell_only", {"ddl"}),
        ("CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()", {"ddl"}),
        ("CREATE RULE r AS ON INSERT TO t DO INSTEAD NOTHING", {"ddl"}),
    ],
)
def test_benign_ddl_stays_ddl(text: str, want: set[str]) -> None:
    assert cats(text) == want


# --------------------------------------------------------------------------- operators


@pytest.mark.parametrize(
    "text",
    [
        "SELECT 1 === 2",
        "SELECT ### '/etc/passwd'",
        "SELECT * FROM t WHERE a ### b",
        "SELECT 1 OPERATOR(public.+) 2",
        "SELECT 1 OPERATOR(myschema.=) 2",
        "SELECT * FROM t ORDER BY a USING ===",
        "SELECT * FROM t WHERE a === ANY (SELECT b FROM u)",
        "SELECT * FROM t WHERE a === ANY (ARRAY[1, 2])",
        "UPDATE t SET a = 1 WHERE id === 5",
        "DELETE FROM t WHERE id <=> 5",
        "ALTER TABLE t ADD CONSTRAINT c EXCLUDE USING gist (r WITH ===)",
        "SELECT 1 OPERATOR(pg_catalog.===) 2",
    ],
)
def test_non_builtin_operator_is_unknown(text: str) -> None:
    result = classify_sql(text)
    assert Category.UNKNOWN in result.categories, result
    assert any("operator" in r for r in result.reasons)


@pytest.mark.parametrize(
    "text",
    [
        "SELECT 1 + 2 * 3 - 4 / 5 % 6, 2 ^ 3, |/ 16, @ -5, 'a' || 'b'",
        "SELECT * FROM t WHERE a = 1 AND b <> 2 AND c != 3 AND d >= 4 AND e <= 5 AND f < 6 AND g > 7",
        "SELECT * FROM t WHERE a LIKE 'x%' OR b ILIKE 'y' OR c NOT LIKE 'z' OR d SIMILAR TO 'q'",
        "SELECT * FROM t WHERE a ~ '^x' AND b ~* 'y' AND c !~ 'z'",
        "SELECT * FROM t WHERE tags @> ARRAY['a'] AND tags && ARRAY['b'] AND doc ? 'k' AND doc ->> 'k' = 'v'",
        "SELECT doc #> '{a,b}', doc #>> '{a}', doc - 'k', doc @? '$.a', p <-> point(0, 0) FROM t",
        "SELECT * FROM t WHERE a IN (1, 2) AND b NOT IN (3) AND c IS DISTINCT FROM d AND e BETWEEN 1 AND 2",
        "SELECT * FROM t WHERE to_tsvector(body) @@ to_tsquery('x') AND ip << inet '10.0.0.0/8'",
        "SELECT NULLIF(a, b), a = ANY (ARRAY[1, 2]), a < ALL (SELECT b FROM u) FROM t ORDER BY a USING >",
        "SELECT 1 OPERATOR(pg_catalog.+) 2",
    ],
)
def test_builtin_operators_stay_benign(text: str) -> None:
    result = classify_sql(text)
    assert result.benign, result


def test_builtin_operator_table_is_plausible() -> None:
    assert {"=", "<>", "+", "||", "~~", "@>", "&&", "->>", "@@", "<->"} <= BUILTIN_OPERATORS
    assert not {"===", "###", "<=>", "!=="} & BUILTIN_OPERATORS
    assert "!=" not in BUILTIN_OPERATORS  # the parser turns != into <> before we see it


# --------------------------------------------------------------------------- function forms of catalogs


@pytest.mark.parametrize(
    "name",
    [
        "pg_hba_file_rules",
        "pg_ident_file_mappings",
        "pg_show_all_file_settings",
        "pg_ls_dir",
        "pg_ls_logdir",
        "pg_ls_waldir",
        "pg_ls_tmpdir",
        "pg_ls_archive_statusdir",
        "pg_ls_logicalmapdir",
        "pg_ls_replslotdir",
        "pg_stat_file",
        "pg_read_binary_file",
        "pg_current_logfile",
    ],
)
def test_function_forms_of_sensitive_catalogs_are_export(name: str) -> None:
    assert "export" in cats(f"SELECT * FROM pg_catalog.{name}()")
    assert "export" in cats(f"SELECT {name}()")


# --------------------------------------------------------------------------- search_path


@pytest.mark.parametrize(
    "text",
    [
        "SET search_path = public, pg_catalog",
        "SET search_path TO app, PG_CATALOG",
        "SET LOCAL search_path = public, pg_catalog, pg_temp",
        "SELECT set_config('search_path', 'public, pg_catalog', false)",
        "SELECT set_config('search_path', '\"$user\",public,\"pg_catalog\"', true)",
        "ALTER ROLE bob SET search_path = public, pg_catalog",
        "ALTER FUNCTION f() SET search_path = public, pg_catalog",
    ],
)
def test_search_path_that_lets_user_objects_shadow_builtins_is_unknown(text: str) -> None:
    """pg_catalog is searched first unless a search_path names it later: then a user's
    ``public.=`` or ``public.lower`` wins over the built-in of that name, and the operator
    check above (built-in names) would be fooled."""
    result = classify_sql(text)
    assert Category.UNKNOWN in result.categories, result


@pytest.mark.parametrize(
    "text",
    [
        "SET search_path = public",
        "SET search_path TO app, public",
        'SET search_path = "$user", public',
        "SET search_path = pg_catalog, public",
        "SELECT pg_catalog.set_config('search_path', '', false)",
        "SET search_path TO DEFAULT",
        "RESET search_path",
    ],
)
def test_ordinary_search_paths_stay_session(text: str) -> None:
    assert classify_sql(text).benign


def test_alter_function_support_binds_a_function() -> None:
    assert {"code", "export"} <= cats("ALTER FUNCTION f(int) SUPPORT pg_read_file")
    assert "code" in cats("ALTER FUNCTION f(int) SUPPORT my_support")
    assert cats("ALTER FUNCTION f(int) IMMUTABLE") == {"ddl"}


# --------------------------------------------------------------------------- code bodies


@pytest.mark.parametrize(
    ("text", "want"),
    [
        (
            "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT pg_read_file('/etc/passwd') $$",
            {"code", "export", "admin"},
        ),
        (
            "CREATE FUNCTION f() RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN PG_READ_FILE('/x'); END $$",
            {"code", "export"},
        ),
        (
            "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS 'BEGIN PERFORM lo_export(1, ''/tmp/x''); END'",
            {"code", "export", "admin"},
        ),
        (
            "CREATE FUNCTION f() RETURNS SETOF text LANGUAGE sql AS 'SELECT rolpassword FROM pg_authid'",
            {"code", "export"},
        ),
        (
            "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'SELECT pg_ls_dir(''/'')'; END $$",
            {"code", "export"},
        ),
        (
            "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM set_config('role', 'postgres', false); END $$",
            {"code", "privilege"},
        ),
        ("DO $$ BEGIN PERFORM pg_terminate_backend(42); END $$", {"code", "admin"}),
        ("DO $$ BEGIN PERFORM dblink_exec('host=x', 'DROP TABLE t'); END $$", {"code", "export"}),
        ("CREATE PROCEDURE p() LANGUAGE sql AS $$ SELECT pg_reload_conf() $$", {"code", "admin"}),
    ],
)
def test_code_bodies_carry_the_calls_they_make(text: str, want: set[str]) -> None:
    """A function body runs on every later call (SELECT f() looks like a read); a DO body
    runs now but is opaque: both carry the flagged calls their text makes."""
    assert want <= cats(text), classify_sql(text)


def test_plain_bodies_stay_code() -> None:
    assert cats("CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql AS $$ SELECT a + 1 $$") == {
        "code"
    }
    assert cats("DO $$ BEGIN RAISE NOTICE 'reading a file'; END $$") == {"code"}
