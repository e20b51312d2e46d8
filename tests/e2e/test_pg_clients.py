"""Real clients through the gateway to a real PostgreSQL 15: they must not notice Airlock."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import asyncpg
import psycopg
import pytest

import tests.support.gateway
from tests.support.gateway import PASSWORDS, GatewayThread, asyncpg_ssl
from tests.support.pg import PgServer


@pytest.fixture(autouse=True, params=["require", "disable"])
def client_sslmode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every client test runs over TLS (what real clients use) and over plain TCP."""
    monkeypatch.setattr(tests.support.gateway, "SSLMODE", request.param)
    return str(request.param)


def psql(gateway: GatewayThread, *args: str, user: str = "alice", target: str = "main",
         input: str | None = None, **dsn: str) -> subprocess.CompletedProcess[str]:  # fmt: skip
    return subprocess.run(
        [
            "psql",
            "-X",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            gateway.dsn(user, target, **dsn),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        input=input,
    )


def test_psql_queries_errors_and_multistatement(gateway: GatewayThread) -> None:
    out = psql(gateway, "-c", "SELECT 1 AS a, 'x' AS b")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "1|x\n"
    out = psql(
        gateway,
        "-c",
        "CREATE TEMP TABLE t(a int); INSERT INTO t VALUES (1),(2); SELECT sum(a) FROM t",
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "3"
    out = psql(gateway, "-c", "SELECT * FROM no_such_table")
    assert out.returncode == 1
    assert 'relation "no_such_table" does not exist' in out.stderr
    # The session survives an error: the next statement in the same session works.
    out = psql(gateway, "-v", "ON_ERROR_STOP=0", input="SELECT 1/0;\nSELECT 'after';\n")
    assert "division by zero" in out.stderr
    assert "after" in out.stdout


def test_psql_copy_both_ways(gateway: GatewayThread, tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("".join(f"{i},name-{i}\n" for i in range(5000)))
    dst = tmp_path / "out.csv"
    script = (
        "DROP TABLE IF EXISTS copy_t; CREATE TABLE copy_t(id int, name text);\n"
        f"\\copy copy_t FROM '{src}' WITH (FORMAT csv)\n"
        f"\\copy (SELECT * FROM copy_t ORDER BY id) TO '{dst}' WITH (FORMAT csv)\n"
        "SELECT count(*) FROM copy_t;\n"
    )
    out = psql(gateway, input=script)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "5000"
    assert dst.read_text() == src.read_text()


@pytest.mark.parametrize("mode", ["simple", "extended", "prepared"])
def test_pgbench(gateway: GatewayThread, mode: str) -> None:
    env_dsn = gateway.dsn("alice", "app").split()
    env = {"PGPASSWORD": PASSWORDS["alice"], "PATH": "/usr/bin:/bin"}
    conn = ["-h", "127.0.0.1", "-p", str(gateway.port), "-U", "alice"]
    if mode == "simple":
        init = subprocess.run(
            ["pgbench", "-i", "-q", "-s", "1", *conn, "app"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert init.returncode == 0, init.stderr
    run = subprocess.run(
        ["pgbench", "-S", "-M", mode, "-c", "4", "-t", "200", "-n", *conn, "app"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "number of transactions actually processed: 800/800" in run.stdout
    assert "number of failed transactions: 0" in run.stdout
    assert env_dsn  # the DSN helper names the target


async def test_asyncpg_prepared_executemany_copy_cursor_notify(gateway: GatewayThread) -> None:
    conn = await asyncpg.connect(
        host="127.0.0.1",
        port=gateway.port,
        user="bob",
        password=PASSWORDS["bob"],
        database="main",
        ssl=asyncpg_ssl(),
    )
    try:
        await conn.execute("DROP TABLE IF EXISTS apg; CREATE TABLE apg(id int primary key, v text)")
        stmt = await conn.prepare("SELECT $1::int * 2")
        assert await stmt.fetchval(21) == 42
        await conn.executemany(
            "INSERT INTO apg VALUES ($1, $2)", [(i, f"v{i}") for i in range(100)]
        )
        await conn.copy_records_to_table(
            "apg", records=[(i, "c") for i in range(100, 300)], columns=["id", "v"]
        )
        assert await conn.fetchval("SELECT count(*) FROM apg") == 300
        async with conn.transaction():
            seen = [
                r["id"] async for r in conn.cursor("SELECT id FROM apg ORDER BY id", prefetch=50)
            ]
        assert seen == list(range(300))
        got: asyncio.Queue[str] = asyncio.Queue()
        await conn.add_listener("chan", lambda *a: got.put_nowait(a[3]))
        other = await asyncpg.connect(
            host="127.0.0.1",
            port=gateway.port,
            user="carol",
            password=PASSWORDS["carol"],
            database="main",
            ssl=asyncpg_ssl(),
        )
        await other.execute("NOTIFY chan, 'hello'")
        await other.close()
        assert await asyncio.wait_for(got.get(), 10) == "hello"
    finally:
        await conn.close()


def test_psycopg_pipeline_copy_server_cursor(gateway: GatewayThread) -> None:
    with psycopg.connect(gateway.dsn("alice"), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS pc; CREATE TABLE pc(id int, v text)")
        with conn.pipeline():
            for i in range(50):
                conn.execute("INSERT INTO pc VALUES (%s, %s)", (i, f"p{i}"))
            cur = conn.execute("SELECT count(*) FROM pc")
        assert cur.fetchone() == (50,)
        with conn.cursor().copy("COPY pc FROM STDIN") as copy:
            for i in range(50, 1050):
                copy.write_row((i, f"c{i}"))
        rows = []
        with conn.cursor().copy("COPY (SELECT id FROM pc ORDER BY id) TO STDOUT") as copy:
            rows = [int(bytes(r).strip()) for r in copy]
        assert rows == list(range(1050))
        with conn.transaction(), conn.cursor(name="server_side") as cur:
            cur.itersize = 100
            cur.execute("SELECT id FROM pc ORDER BY id")
            assert [r[0] for r in cur] == list(range(1050))


def test_psycopg_cancel_through_gateway(gateway: GatewayThread) -> None:
    with psycopg.connect(gateway.dsn("alice"), autocommit=True) as conn:
        pid = conn.info.backend_pid
        # The pid the client sees is the upstream's own (clients match it in pg_stat_activity).
        assert conn.execute("SELECT pg_backend_pid()").fetchone() == (pid,)
        # cancel_safe: psycopg's blocking cancel() holds the GIL, which would freeze this
        # in-process gateway; cancel_safe sends the same CancelRequest without blocking.
        timer = __import__("threading").Timer(0.5, conn.cancel_safe)
        timer.start()
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled) as info:
            conn.execute("SELECT pg_sleep(30)")
        assert info.value.sqlstate == "57014"
        assert time.monotonic() - started < 1.5
        assert conn.execute("SELECT 'still usable'").fetchone() == ("still usable",)


def test_tls_client_and_verified_tls_upstream(gateway: GatewayThread, pg: PgServer) -> None:
    with psycopg.connect(gateway.dsn("alice", "tls", sslmode="require")) as conn:
        # Client leg is TLS (terminated by Airlock); the upstream leg verify-full TLS too.
        assert conn.pgconn.ssl_in_use
        assert conn.execute(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        ).fetchone() == (True,)


@pytest.mark.parametrize("target", ["main", "app", "trusty"])
def test_upstream_auth_methods(gateway: GatewayThread, target: str) -> None:
    """scram-sha-256, md5 and trust upstreams; the client only ever knows its own password."""
    with psycopg.connect(gateway.dsn("carol", target)) as conn:
        user = conn.execute("SELECT current_user").fetchone()
    assert user == ({"main": "up_scram", "app": "up_md5", "trusty": "postgres"}[target],)


def test_parameter_status_relayed(gateway: GatewayThread) -> None:
    with psycopg.connect(gateway.dsn("alice", application_name="agent-7")) as conn:
        assert (
            conn.info.parameter_status(
                "server_version",
            ).startswith(b"15")
            if False
            else conn.info.server_version >= 150000
        )
        assert conn.info.parameter_status("application_name") == "agent-7"
        assert conn.info.parameter_status("standard_conforming_strings") == "on"


def test_psql_cancel_with_sigint(gateway: GatewayThread, pg: PgServer) -> None:
    """libpq's own cancel path: Ctrl-C in psql sends a CancelRequest to the gateway."""
    import signal

    proc = subprocess.Popen(
        ["psql", "-X", "-At", "-d", gateway.dsn("bob", application_name="to-cancel"), "-c", "SELECT pg_sleep(30)"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # Wait until the statement is running upstream (the server tells us), then Ctrl-C.
        deadline = time.monotonic() + 20
        while "active" not in pg.psql(
            "SELECT state FROM pg_stat_activity WHERE application_name = 'to-cancel' AND query LIKE '%pg_sleep%'"
        ):
            assert time.monotonic() < deadline, "statement never became active"
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
        assert time.monotonic() - started < 1.0
        assert "canceling statement due to user request" in err
    finally:
        proc.kill()
