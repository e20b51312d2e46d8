"""Issue 12 item 9: a secret planted through a real session is nowhere under the state
directory (transcripts, the SQLite store and its -wal, logs) and in no log record.

Postgres: real psycopg through the gateway to the real server, with a review policy in
retry mode so that every flagged statement also becomes an approval request in the store.
SSH: the real OpenSSH client through the gateway to a real sshd, exec commands that carry
SQL and connection strings.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.logs import JsonFormatter, TextFormatter
from gateway.recording.redact import Redactor
from gateway.recording.writer import Recorder
from tests.support.gateway import GatewayThread, base_config
from tests.support.pg import PgServer
from tests.support.ssh_gateway import run, ssh_gateway
from tests.support.sshd import Sshd

FLAGGED = ["privilege", "code", "admin", "export", "unknown", "destructive", "tamper", "ddl"]
POLICY = {"rules": [
    {"name": "review-flagged", "decision": "review", "mode": "retry", "categories": FLAGGED},
    {"name": "allow-rest", "decision": "allow",
     "categories": ["read", "write", "transaction", "session"]},
]}  # fmt: skip


def _secret(n: int) -> str:
    return f"Pl4nt{n:02d}zq9"  # one token: an error that quotes a token quotes it whole


PG_PLANTS = [
    "DO $$ BEGIN ALTER ROLE nobody_x PASSWORD '{s}'; END $$",
    "DO $$ BEGIN EXECUTE 'ALTER ROLE nobody_x PASSWORD ''{s}'''; END $$",
    "DO $$ BEGIN EXECUTE format('ALTER ROLE %I PASSWORD %L', 'nobody_x', '{s}'); END $$",
    "CREATE FUNCTION rot_x() RETURNS void LANGUAGE plpgsql"
    " AS $f$ BEGIN ALTER ROLE nobody_x PASSWORD '{s}'; END $f$",
    "CREATE USER MAPPING FOR CURRENT_USER SERVER nosrv OPTIONS (user 'u', \"password\" '{s}')",
    "ALTER USER MAPPING FOR CURRENT_USER SERVER nosrv OPTIONS (SET password '{s}')",
    "CREATE SERVER nosrv2 FOREIGN DATA WRAPPER nofdw OPTIONS (password '{s}')",
    "COPY (SELECT 1) TO PROGRAM 'PGPASSWORD={s} psql -h db'",
    "SELECT format('ALTER ROLE %I PASSWORD %L', 'nobody_x', '{s}')",  # read: rows sampled
    "SELECT 'psql -c \"ALTER ROLE x PASSWORD ''{s}''\"' AS cmd",  # read: rows sampled
]


@pytest.fixture(scope="module")
def gw(pg: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    raw = base_config(
        tmp_path_factory.mktemp("planted"), pg, policy=POLICY, http={"listen": "127.0.0.1:0"}
    )
    gateway = GatewayThread.from_dict(raw)
    try:
        yield gateway
    finally:
        gateway.stop()


def _logged(caplog: pytest.LogCaptureFixture, secrets: list[str]) -> list[str]:
    """Secrets in the log lines the gateway's formatters would write for every record
    captured (DEBUG included, asyncssh's own too), JSON and text."""
    redactor = Redactor()
    lines = [
        fmt.format(record)
        for record in caplog.records
        for fmt in (JsonFormatter(redactor), TextFormatter(redactor))
    ]
    return [s for s in secrets if any(s in line for line in lines)]


def _grep(directory: Path, secrets: list[str]) -> list[str]:
    found = []
    for secret in secrets:
        out = subprocess.run(
            ["grep", "-r", "-a", "-l", secret, str(directory)], capture_output=True
        )
        assert out.returncode in (0, 1), out.stderr  # 2: the directory is gone
        if out.returncode == 0:
            found.append(f"{secret}: {out.stdout.decode()}")
    return found


def test_postgres_plants_never_persist(gw: GatewayThread, caplog: pytest.LogCaptureFixture) -> None:
    secrets = [_secret(i) for i in range(len(PG_PLANTS))]
    reason_secret = _secret(20)
    caplog.set_level(logging.DEBUG)
    refused = 0
    dsn = gw.dsn(
        "carol", "trusty", options=f"-c airlock.reason=rotate\\\\ password={reason_secret}"
    )
    with psycopg.connect(dsn, autocommit=True) as conn:
        for template, secret in zip(PG_PLANTS, secrets, strict=True):
            try:
                conn.execute(template.format(s=secret)).fetchall()
            except psycopg.errors.InsufficientPrivilege:
                refused += 1  # review in retry mode: refused now, a request in the store
    gw.wait_sessions_closed()
    assert refused >= 7  # the flagged ones became approval requests
    requests = gw.call(gw.app.store.list("request"))
    assert len(requests) >= 7
    state = gw.config.state_dir
    assert list(state.rglob("*.jsonl")) and list(state.rglob("*.db*"))
    secrets.append(reason_secret)  # session_start and every request carry the reason
    assert _grep(state, secrets) == []
    assert _logged(caplog, secrets) == []


#: Reach the server (allow-all gateway) and come back as errors that may quote the text.
ERROR_PLANTS = [
    "ALTER ROLE nobody_x PASSWORD {s}",  # syntax error at or near "<secret>"
    "ALTER ROLE nobody_x PASSWORD '{s}",  # unterminated quoted string at or near "'<secret>"
    "DO $$ BEGIN EXECUTE 'ALTER ROLE nobody_x PASSWORD ''{s}'''; END $$",
    "CREATE USER MAPPING FOR CURRENT_USER SERVER nosrv OPTIONS (password '{s}', password 'x')",
]


def test_server_errors_do_not_echo_a_planted_secret(
    gateway: GatewayThread, caplog: pytest.LogCaptureFixture
) -> None:
    secrets = [_secret(30 + i) for i in range(len(ERROR_PLANTS))]
    caplog.set_level(logging.DEBUG)
    with psycopg.connect(gateway.dsn("carol", "trusty"), autocommit=True) as conn:
        for template, secret in zip(ERROR_PLANTS, secrets, strict=True):
            with pytest.raises(psycopg.Error):
                conn.execute(template.format(s=secret))
    gateway.wait_sessions_closed()
    assert _grep(gateway.config.state_dir, secrets) == []
    assert _logged(caplog, secrets) == []


SSH_PLANTS = [
    "echo psql -c \"ALTER ROLE app PASSWORD '{s}'\"",
    "echo \"ALTER USER app WITH PASSWORD '{s}';\" > /dev/null",
    "PGPASSWORD={s} true",
    "echo 'host=db user=app password={s}' > /dev/null",
    "true postgresql://app:{s}@db/app",
    "echo ALTER ROLE app PASSWORD '{s}'",  # prints it unquoted: stdout is recorded too
    "printf '%s\\n' \"CREATE USER MAPPING FOR me SERVER s OPTIONS (password '{s}')\"",
]


async def test_ssh_exec_plants_never_persist(
    sshd: Sshd, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    directory = tmp_path
    recorder = Recorder(directory, Ed25519PrivateKey.generate())
    allow_all = {"rules": [{"name": "all", "decision": "allow", "categories": [
        "read", "write", "unknown", "export", "privilege", "code", "admin", "destructive",
        "tamper", "file-transfer"]}]}  # fmt: skip
    secrets = [_secret(50 + i) for i in range(len(SSH_PLANTS))]
    caplog.set_level(logging.DEBUG)

    def factory(session):  # type: ignore[no-untyped-def]
        return recorder.open(session.id, user=session.identity.user, target=session.target)

    async with ssh_gateway(sshd, allow_all, recorder_factory=factory) as g:
        for template, secret in zip(SSH_PLANTS, secrets, strict=True):
            rc, _, err = await run(g.ssh_argv("agent", template.format(s=secret)))
            assert rc == 0, (template, err)
        printed = await run(g.ssh_argv("agent", SSH_PLANTS[5].format(s=secrets[5])))
        assert secrets[5].encode() in printed[1]  # the client sees it; the record must not
        assert _grep(g.directory, secrets) == []  # before ssh_gateway removes its directory
    await recorder.aclose()
    assert any(directory.rglob("*.jsonl"))
    assert _grep(directory, secrets) == []
    assert caplog.records
    assert _logged(caplog, secrets) == []
