"""Issue 12 item 9: passwords inside code bodies, quoted option names, SQL inside shell text.

Each case plants a unique secret and asserts it is gone from the redacted text, whatever
the quoting; the structure around it stays readable where it can.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gateway.recording import Redactor

R = Redactor()
S = "Pl4nted-S3cret"

SQL_CASES = [
    # DO and function bodies: the role statement is inside a string constant
    f"DO $$ BEGIN ALTER ROLE app PASSWORD '{S}'; END $$",
    f"DO $body$ BEGIN CREATE ROLE app LOGIN PASSWORD '{S}'; END $body$ LANGUAGE plpgsql",
    f"DO 'BEGIN ALTER ROLE app PASSWORD ''{S}''; END'",
    f"DO $$ BEGIN EXECUTE 'ALTER ROLE app PASSWORD ''{S}'''; END $$",
    f"DO $$ BEGIN EXECUTE format('ALTER ROLE %I PASSWORD %L', 'app', '{S}'); END $$",
    f"DO $$ BEGIN EXECUTE 'ALTER ROLE app PASSWORD ' || quote_literal('{S}'); END $$",
    f"DO $$ DECLARE pw text := '{S}'; BEGIN EXECUTE 'ALTER ROLE app PASSWORD ' || quote_literal(pw); END $$",
    f"DO $$ BEGIN ALTER ROLE app PASSWORD E'{S}'; END $$",
    f"DO $$ BEGIN ALTER ROLE app PASSWORD $p${S}$p$; END $$",
    f"CREATE FUNCTION rot() RETURNS void LANGUAGE plpgsql AS $f$ BEGIN ALTER ROLE app PASSWORD '{S}'; END $f$",
    f"CREATE PROCEDURE rot() LANGUAGE sql AS 'ALTER ROLE app PASSWORD ''{S}'''",
    f"DO $$ BEGIN PERFORM dblink_exec('host=db', 'ALTER ROLE app PASSWORD ''{S}'''); END $$",
    f"SELECT format('ALTER ROLE %I PASSWORD %L', 'app', '{S}')",
    f"DO E'BEGIN ALTER ROLE app PASSWORD \\'{S}\\'; END'",
    # quoted option names and user mappings
    f"CREATE USER MAPPING FOR me SERVER s OPTIONS (user 'u', \"password\" '{S}')",
    f"ALTER USER MAPPING FOR me SERVER s OPTIONS (SET password '{S}')",
    f"ALTER USER MAPPING FOR me SERVER s OPTIONS (ADD \"password\" '{S}')",
    f"CREATE USER MAPPING FOR me SERVER s OPTIONS (\"PASSWORD\" '{S}')",
    f"CREATE USER MAPPING FOR me SERVER s OPTIONS (U&\"p\\0061ssword\" '{S}')",
    f"CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'h', password '{S}')",
    f"CREATE SUBSCRIPTION sub CONNECTION 'host=h password={S}' PUBLICATION p",
    # a password-named setting, option or argument, whatever sits between name and value
    f"SET \"app.password\" TO '{S}'",
    f"SET app.password = '{S}'",
    f"SELECT set_config('app.password', '{S}', false)",
    f"SELECT login(password => '{S}')",
    f"DO $$ DECLARE password text := '{S}'; BEGIN END $$",
    f"COMMENT ON ROLE app IS 'password: {S}'",
    f'SELECT \'{{"password": "{S}"}}\'::jsonb',
]


@pytest.mark.parametrize("sql", SQL_CASES)
def test_sql_secret_is_masked(sql: str) -> None:
    out = R.redact_sql(sql)
    assert S not in out, out
    assert "REDACTED" in out


def test_do_body_keeps_its_shape() -> None:
    out = R.redact_sql(f"DO $$ BEGIN ALTER ROLE app PASSWORD '{S}'; END $$")
    assert out == "DO $$ BEGIN ALTER ROLE app PASSWORD '[REDACTED:password]'; END $$"
    out = R.redact_sql(f"DO $$ BEGIN EXECUTE 'ALTER ROLE app PASSWORD ''{S}'''; END $$")
    assert out == ("DO $$ BEGIN EXECUTE 'ALTER ROLE app PASSWORD ''[REDACTED:password]'''; END $$")


@pytest.mark.parametrize(
    "sql",
    [
        "DO $$ BEGIN RAISE NOTICE 'hello'; END $$",
        "SELECT 'no secret here', $$dollar$$",
        "SELECT * FROM users WHERE name = 'password reset'",
        "CREATE USER MAPPING FOR me SERVER s OPTIONS (user 'bob')",
    ],
)
def test_sql_without_secrets_is_unchanged(sql: str) -> None:
    assert R.redact_sql(sql) == sql


SHELL_CASES = [
    f"psql -c \"ALTER ROLE app PASSWORD '{S}'\"",
    f"psql -h db -c \"CREATE ROLE app LOGIN PASSWORD '{S}'\" postgres",
    f"psql -c 'ALTER ROLE app PASSWORD '\"'\"'{S}'\"'\"''",
    f"echo \"ALTER USER app WITH PASSWORD '{S}';\" | psql",
    f"psql <<'EOF'\nALTER ROLE app PASSWORD '{S}';\nEOF",
    f'psql -c "ALTER ROLE app PASSWORD \\$\\${S}\\$\\$"',
    f'psql -c "ALTER ROLE app PASSWORD \\"{S}\\""',
    f"ALTER ROLE app PASSWORD {S}",  # what `echo ALTER ROLE app PASSWORD '...'` prints
    f"PGPASSWORD={S} psql -h db",
    f"PGPASSWORD='{S}' psql -h db",
    f'env PGPASSWORD="{S}" pg_dump app',
    f"PGPASSWORD=$'{S}' psql",
    f"export PGPASSWORD={S}",
    f"psql 'host=db user=app password={S}'",
    f"psql postgresql://app:{S}@db/app",
    f"pg_dump --dbname=postgres://app:{S}@db:5432/app",
    f"mysql --password={S} -h db",
    f"mysql --password {S} -h db",
    f"psql -c \"CREATE USER MAPPING FOR me SERVER s OPTIONS (password '{S}')\"",
    f'curl -d \'{{"user": "app", "password": "{S}"}}\' https://api.example',
    f"password: {S}",
]


@pytest.mark.parametrize("text", SHELL_CASES)
def test_shell_text_secret_is_masked(text: str) -> None:
    out = R.redact_text(text)
    assert S not in out, out
    assert "REDACTED" in out


@pytest.mark.parametrize(
    "text",
    [
        'FATAL:  password authentication failed for user "bob"',
        "Password: ",
        "ls -la /srv && cat README",
        "the password policy requires 12 characters",
    ],
)
def test_free_text_without_secrets_is_unchanged(text: str) -> None:
    assert R.redact_text(text) == text


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="'\\\x00$"), min_size=6))
def test_password_in_a_do_body_never_survives(pw: str) -> None:
    body = f"DO $$ BEGIN ALTER ROLE x PASSWORD '{pw.replace(chr(39), '')}'; END $$"
    out = R.redact_sql(body)
    assert out == "DO $$ BEGIN ALTER ROLE x PASSWORD '[REDACTED:password]'; END $$"


def test_found_secrets_are_reported_as_written_and_unquoted() -> None:
    text, found = (
        R.redact_sql(f"ALTER ROLE x PASSWORD '{S}'"),
        R.redact_sql_found(f"ALTER ROLE x PASSWORD '{S}'")[1],
    )
    assert S not in text
    assert f"'{S}'" in found and S in found
    assert R.redact_sql_found(f"ALTER ROLE x PASSWORD {S}")[1] == (S,)
    assert R.redact_sql_found("SELECT 1") == ("SELECT 1", ())
    # 'abcd' is kept as written; abcd alone is too short to look for in later text
    assert R.redact_sql_found("ALTER ROLE x PASSWORD 'abcd'")[1] == ("'abcd'",)


def test_transcript_scrubs_an_echoed_secret(tmp_path: object) -> None:
    from pathlib import Path

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from gateway.recording import Recorder

    recorder = Recorder(Path(str(tmp_path)), Ed25519PrivateKey.generate())
    w = recorder.open("echo", protocol="postgres", user="alice")
    w.statement(b"x", f"ALTER ROLE x PASSWORD {S}", verdict="allow")
    w.result(tag="", error=f'syntax error at or near "{S}"', sqlstate="42601")
    w.notice(f"it was {S}")
    w.exec(f"psql -c \"ALTER ROLE x PASSWORD '{S}2'\"")
    w.output("stdout", f"{S}2 echoed".encode())
    w.close()
    blob = b"".join(p.read_bytes() for p in Path(str(tmp_path)).rglob("*") if p.is_file())
    assert S.encode() not in blob
    assert b"[REDACTED:echoed]" in blob


def test_overlapping_masks_leave_nothing_behind() -> None:
    """A backslash literal is masked to the end of its statement; with a run-time built
    password every literal is masked too, inside that span: the spans must not be applied
    one over the other (the text grows, and the end of the big span would miss its tail)."""
    dynamic = "SELECT format('ALTER ROLE x PASSWORD %L', 'a'); "
    sql = dynamic + f"ALTER ROLE x PASSWORD E'a\\\\', 'q', 'q', 'q', 'q', {S}"
    out = R.redact_sql(sql)
    assert S not in out, out


_SECRET_CHARS = st.characters(
    codec="ascii", categories=["L", "N", "P", "S"], exclude_characters="'\"\\$`;"
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(SQL_CASES + SHELL_CASES),
    st.text(alphabet=_SECRET_CHARS, min_size=6, max_size=24).filter(lambda s: s[0] not in "-,"),
)
def test_any_secret_in_any_form_is_masked(case: str, secret: str) -> None:
    """Every planted form above, with secrets of any printable ASCII (no quotes, no
    spaces: the forms quote them or they end at a space)."""
    if "://" in case:  # a URL's password cannot hold these unencoded
        assume(not any(c in secret for c in "/@?#"))
    text = case.replace(S, secret)
    out = R.redact_sql(text) if case in SQL_CASES else R.redact_text(text)
    assert secret not in out, out
