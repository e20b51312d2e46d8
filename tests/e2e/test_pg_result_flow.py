"""Results of every size reach the client whole, over TLS and plain TCP (issue 19).

The stall this guards against: the gateway wrote TLS records of up to 16 KiB, libpq reads a
record only as far as its input buffer's free space (8 KiB or more), and a client that polls
the socket between reads (psycopg's pure-Python wait loop over Debian's libpq 15) then
waited forever for bytes OpenSSL already held. PostgreSQL itself never writes records over
8 KiB of plaintext; neither may the gateway.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator

import asyncpg
import psycopg
import pytest

from tests.support.daemon import Daemon, write_config
from tests.support.gateway import PASSWORDS, GatewayThread
from tests.support.pg import PgServer

# Sizes around every buffer on the path: libpq's 8 KiB reads and 16 KiB initial buffer,
# the 16 KiB TLS record, asyncio's 64 KiB transport high-water mark, the SSL protocol's
# 256/512 KiB marks, and a few large ones.
SIZES = [1, 100, 8191, 8192, 8193, 16383, 16384, 16385, 40000, 65535, 65536, 65537,
         262143, 262144, 262145, 524287, 524288, 524289, 1 << 20, 3_000_001]  # fmt: skip
ROWS = [1, 7, 50]
BIG = 24 << 20  # "tens of MB"
TLS_HEADER = 5
# TLS 1.3 adds a content-type byte and a 16-byte tag to each record; 256 is the RFC bound
# on expansion and covers TLS 1.2 ciphers too.
MAX_RECORD = 8192 + 256


def _query(size: int, rows: int) -> str:
    return f"SELECT repeat('x', {max(1, size // rows)}) AS v FROM generate_series(1, {rows})"


class TlsTap:
    """A byte-for-byte TCP relay in front of the gateway that parses the TLS records the
    gateway sends (headers are in the clear) and can read slowly, like a slow client."""

    def __init__(self, port: int, slow: bool = False) -> None:
        self.port, self.slow = port, slow
        self.records: list[tuple[int, int]] = []  # (content type, length) gateway -> client
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0), self.loop
        ).result(10)
        self.listen_port = server.sockets[0].getsockname()[1]

    async def _handle(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        ur, uw = await asyncio.open_connection("127.0.0.1", self.port)
        await asyncio.gather(self._pipe(cr, uw, False), self._pipe(ur, cw, True))

    async def _pipe(self, r: asyncio.StreamReader, w: asyncio.StreamWriter, down: bool) -> None:
        pending, tls = b"", False
        try:
            while data := await r.read(1024 if (down and self.slow) else 65536):
                if down:
                    if not tls and data[:1] == b"S":  # the answer to SSLRequest
                        tls, data_rest = True, data[1:]
                        pending = data_rest
                    elif tls:
                        pending += data
                    while tls and len(pending) >= TLS_HEADER:
                        length = int.from_bytes(pending[3:5], "big")
                        if len(pending) < TLS_HEADER + length:
                            break
                        self.records.append((pending[0], length))
                        pending = pending[TLS_HEADER + length :]
                w.write(data)
                await w.drain()
                if down and self.slow:
                    await asyncio.sleep(0)  # yield: the client side drains 1 KiB at a time
        except ConnectionError:
            pass
        finally:
            w.close()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture(params=["require", "disable"])
def sslmode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_tls_records_are_never_larger_than_postgres_own(gateway: GatewayThread) -> None:
    """The cause, checked on the wire: every record the gateway writes fits libpq's read."""
    tap = TlsTap(gateway.port)
    try:
        dsn = gateway.dsn(sslmode="require").replace(f"'{gateway.port}'", f"'{tap.listen_port}'")
        with psycopg.connect(dsn, autocommit=True) as conn:
            for size in (70000, 1 << 20):
                assert len(conn.execute(_query(size, 3)).fetchall()) == 3
            notices: list[str] = []
            conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
            conn.execute("DO $$BEGIN RAISE NOTICE '%', repeat('n', 20000); END$$")
            assert notices == ["n" * 20000]
        app_data = [length for kind, length in tap.records if kind == 23]
        assert app_data, "no TLS application data seen"
        assert max(app_data) <= MAX_RECORD, sorted(app_data)[-5:]
    finally:
        tap.close()


PURE_PYTHON_CLIENT = r"""
import json, random, sys, psycopg
dsn, sizes = sys.argv[1], json.loads(sys.argv[2])
with psycopg.connect(dsn, autocommit=True) as conn:
    assert psycopg.pq.__impl__ == "python", psycopg.pq.__impl__
    # Many small rows on a fresh connection (libpq's input buffer still 16 KiB; one large
    # message would grow it for good and hide the stall): the last TLS record of a result
    # straddles libpq's free buffer space. The old code hung within the first 30 queries.
    rnd = random.Random(1)
    for _ in range(600):
        size, n = rnd.randint(1000, 300000), rnd.randint(5, 400)
        q = f"SELECT repeat('x', {size // n}) FROM generate_series(1, {n})"
        got = conn.execute(q).fetchall()
        assert len(got) == n and len(got[-1][0]) == size // n, (size, n)
    for size in sizes:  # then one large message per size, in binary
        got = conn.cursor(binary=True).execute("SELECT repeat(%s, %s)", ("y", size)).fetchone()
        assert len(got[0]) == size
print("ok")
"""


@pytest.fixture(scope="module")
def daemon(pg: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """`airlock serve` as shipped (its own process, uvloop): the stall depended on the
    timing of the production process and did not show in the in-process gateway."""
    proc = Daemon(write_config(tmp_path_factory.mktemp("flow"), pg))
    try:
        yield proc
    finally:
        proc.stop()


def test_libpq_poll_client_never_stalls(daemon: Daemon, sslmode: str) -> None:
    """The reproduction: psycopg's pure-Python implementation over the system libpq polls
    the socket between reads; over TLS it hung on the old code within a few queries."""
    env = {**os.environ, "PSYCOPG_IMPL": "python"}
    dsn = re.sub(r"sslmode=\w+", f"sslmode={sslmode}", daemon.dsn())
    proc = subprocess.run(
        [sys.executable, "-c", PURE_PYTHON_CLIENT, dsn, json.dumps(SIZES)],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"


def test_psycopg_results_of_every_size_and_pipelined(gateway: GatewayThread, sslmode: str) -> None:
    with psycopg.connect(gateway.dsn(sslmode=sslmode), autocommit=True) as conn:
        assert conn.pgconn.ssl_in_use is (sslmode == "require")
        for size in [*SIZES, BIG]:
            rows = conn.execute(_query(size, 3)).fetchall()
            assert len(rows) == 3 and len(rows[0][0]) == max(1, size // 3)
        with conn.pipeline():
            curs = [conn.execute("SELECT repeat('p', %s)", (size,)) for size in SIZES]
        assert [len(c.fetchone()[0]) for c in curs] == SIZES  # type: ignore[index]


async def _asyncpg_sizes(port: int, tls: bool) -> None:
    context: ssl.SSLContext | bool = False
    if tls:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    conn = await asyncpg.connect(host="127.0.0.1", port=port, user="bob",
                                 password=PASSWORDS["bob"], database="main", ssl=context)  # fmt: skip
    try:
        for size in [*SIZES, BIG]:
            text = await conn.fetchval("SELECT repeat('a', $1::int)", size)
            assert len(text) == size
            data = await conn.fetchval("SELECT decode(repeat('ab', $1::int), 'hex')", size // 2)
            assert len(data) == size // 2
    finally:
        await conn.close()


def test_asyncpg_results_of_every_size(gateway: GatewayThread, sslmode: str) -> None:
    asyncio.run(_asyncpg_sizes(gateway.port, sslmode == "require"))


def test_slow_reader_gets_everything(gateway: GatewayThread) -> None:
    """A client that drains 1 KiB at a time: the gateway waits for it (back-pressure) and
    the result still arrives whole, over TLS and plain."""
    tap = TlsTap(gateway.port, slow=True)
    try:
        for mode in ("require", "disable"):
            dsn = gateway.dsn(sslmode=mode).replace(f"'{gateway.port}'", f"'{tap.listen_port}'")
            with psycopg.connect(dsn, autocommit=True) as conn:
                for size in (65537, 600_000, 4_000_000):
                    assert len(conn.execute(_query(size, 50)).fetchall()) == 50
    finally:
        tap.close()
