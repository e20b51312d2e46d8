from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.recording import Recorder, Redactor
from gateway.recording.redact import luhn_ok

R = Redactor(
    patterns=[r"ACME-[0-9]{6}", r"pin:(?P<s>\d{8})"], sensitive_columns=["ssn", "users.email"]
)

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
    "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
)
PEM = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nQUFBQUFB\n"
    "-----END OPENSSH PRIVATE KEY-----"
)
# (text containing a secret, the secret, the mask kind)
PLANTED = [
    ("key id AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE", "aws-access-key"),
    (
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "aws-secret-key",
    ),
    (f"key:\n{PEM}\nafter", "b3BlbnNzaC1rZXktdjEAAAAA", "pem"),
    (f"token={JWT}", JWT.split(".")[2], "jwt"),
    ("Authorization: Bearer abcDEF123456789.xyz", "abcDEF123456789.xyz", "bearer"),
    ("Authorization: Basic YWxpY2U6czNjcmV0LXB3", "YWxpY2U6czNjcmV0LXB3", "basic"),
    ("psql postgres://alice:Tr0ub4dor%26@db:5432/app", "Tr0ub4dor%26", "url-password"),
    ("host=db user=app password=CorrectHorse9 dbname=x", "CorrectHorse9", "password"),
    ("PGPASSWORD=Sup3rS3cret psql", "Sup3rS3cret", "password"),
    ("slack xoxb-1234567890-abcdefghijkl", "xoxb-1234567890-abcdefghijkl", "slack-token"),
    ("gh ghp_" + "A1b2C3d4" * 5, "ghp_" + "A1b2C3d4" * 5, "github-token"),
    (
        "pat github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
        "github-token",
    ),
    ("card 4111 1111 1111 1111 exp", "4111 1111 1111 1111", "card"),
    ("card 5500-0000-0000-0004.", "5500-0000-0000-0004", "card"),
    ("ticket ACME-123456 opened", "ACME-123456", "custom"),
    ("pin:73019264 ok", "73019264", "custom"),
]


@pytest.mark.parametrize(("text", "secret", "kind"), PLANTED)
def test_detectors(text: str, secret: str, kind: str) -> None:
    out = R.redact_text(text)
    assert secret not in out
    assert f"[REDACTED:{kind}]" in out


@pytest.mark.parametrize(
    "text",
    [
        "SELECT abalance FROM pgbench_accounts WHERE aid = 48213;",
        "Basic information about the table",
        "order 4111111111111112 (not Luhn-valid)",
        "ls -la /srv && cat README",
        "id 1234567890123",  # 13 digits, Luhn-invalid
    ],
)
def test_leaves_ordinary_text(text: str) -> None:
    assert R.redact_text(text) == text


@pytest.mark.parametrize(
    ("sql", "secret"),
    [
        ("CREATE ROLE app LOGIN PASSWORD 'pa''ss word'", "pa''ss word"),
        ("alter user app with encrypted password 'Zz9!x'", "Zz9!x"),
        ("ALTER ROLE app PASSWORD $tag$dollar secret$tag$ VALID UNTIL 'infinity'", "dollar secret"),
        ("ALTER ROLE app PASSWORD E'esc\\'aped' ; SELECT 1", "aped"),
        ("CREATE USER MAPPING FOR me SERVER s OPTIONS (user 'u', password 'fdw-pw')", "fdw-pw"),
        ("SELECT 1; ALTER ROLE x PASSWORD 'unterminated", "unterminated"),
        ("ALTER ROLE x PASSWORD U&'d\\0061t'", "d\\0061t"),
    ],
)
def test_sql_password_literals(sql: str, secret: str) -> None:
    out = R.redact_sql(sql)
    assert secret not in out
    assert "REDACTED" in out


def test_sql_keeps_structure() -> None:
    assert (
        R.redact_sql("ALTER ROLE app PASSWORD 'x1' VALID UNTIL '2030-01-01'")
        == "ALTER ROLE app PASSWORD '[REDACTED:password]' VALID UNTIL '2030-01-01'"
    )
    assert R.redact_sql("ALTER ROLE app PASSWORD NULL") == "ALTER ROLE app PASSWORD NULL"


def test_rows_by_name_and_qualified() -> None:
    cols = ["id", "SSN", "email", "note"]
    assert R.redact_row(cols, [1, "1", "a@b", None], table="users") == [
        1,
        "[REDACTED:column]",
        "[REDACTED:column]",
        None,
    ]
    assert R.redact_row(cols, [1, "1", "a@b", "x"], table="orders") == [
        1,
        "[REDACTED:column]",
        "a@b",
        "x",
    ]
    assert R.column_mask(["email", "email"], ["public.users", "other"]) == (True, False)


def test_luhn() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_redactor_never_raises(text: str) -> None:
    R.redact_text(text)
    R.redact_sql(text)
    R.redact_sql("ALTER ROLE x PASSWORD " + text)
    R.redact_row(["ssn", "x"], [text, text])


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="'\\\x00"), min_size=6))
def test_role_password_never_survives(pw: str) -> None:
    out = R.redact_sql(f"ALTER ROLE x PASSWORD '{pw}'")
    assert out == "ALTER ROLE x PASSWORD '[REDACTED:password]'"


def test_planted_secrets_never_reach_the_file(recorder: Recorder) -> None:
    """Every writer helper redacts; grep the transcript directory for each secret."""
    w = recorder.open("planted", protocol="postgres", user="alice")
    for text, _, _ in PLANTED:
        w.statement(text.encode(), text, verdict="allow")
        w.notice(text)
        w.approval("r1", "denied", by="bob", reason=text)
        w.result(tag="", error=text, sqlstate="XX000")
        s = w.row_sampler(["note"])
        s.add([text])
        s.flush()
        w.exec(text)
        w.term_output(text.encode())
        w.term_input(text.encode(), echo=True)
        w.output("stderr", text.encode()[:10])
        w.sftp("put", text, 1)
    w.statement(
        b"ALTER ROLE a PASSWORD 'Hunter2!xyz'",
        "ALTER ROLE a PASSWORD 'Hunter2!xyz'",
        verdict="review",
    )
    w.close()
    blob = b"".join(p.read_bytes() for p in recorder.directory.rglob("*") if p.is_file())
    for _, secret, _ in PLANTED:
        # exec output is bounded to 16 bytes here and may cut a secret before detection
        assert secret.encode() not in blob, secret
    assert b"Hunter2!xyz" not in blob


def test_precheck_is_cheap() -> None:
    """The common case (no candidate substring) stays around a microsecond; generous bound
    so a loaded CI machine does not flake."""
    import time

    text = "SELECT abalance FROM pgbench_accounts WHERE aid = 48213;"
    n = 20000
    t = time.perf_counter()
    for _ in range(n):
        R.redact_sql(text)
    per = (time.perf_counter() - t) / n
    assert per < 20e-6, per
