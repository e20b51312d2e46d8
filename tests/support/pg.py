"""A real PostgreSQL 15 server for the test session (Debian's binaries, initdb'd here)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from gateway.keys import write_tls_certificate
from tests.support.servers import free_port, require_binary

UPSTREAM_PASSWORD = "upstream-secret-Zq9"  # injected by the gateway; clients never see it


def bindir() -> Path:
    pg_config = require_binary("pg_config", "pg_config (postgresql-common)")
    out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True)
    path = Path(out.stdout.strip())
    require_binary(str(path / "postgres"), "PostgreSQL 15 server binaries")
    return path


def _as_postgres(cmd: list[str], **kw: object) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@dataclass
class PgServer:
    host: str
    port: int
    datadir: Path
    bindir: Path
    process: subprocess.Popen[bytes]
    log: Path
    cafile: Path

    def dsn(self, user: str = "postgres", dbname: str = "postgres") -> str:
        return f"host={self.host} port={self.port} user={user} dbname={dbname}"

    def psql(self, sql: str, user: str = "postgres", dbname: str = "postgres") -> str:
        out = subprocess.run(
            [
                str(self.bindir / "psql"),
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                self.dsn(user, dbname),
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if out.returncode:
            raise RuntimeError(f"psql failed: {out.stderr}")
        return out.stdout

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.datadir.parent, ignore_errors=True)  # the mkdtemp of start_postgres


def start_postgres(extra_conf: str = "") -> PgServer:
    bins = bindir()
    # A short directory: Unix socket paths over 107 bytes are fatal to the server.
    base = Path(tempfile.mkdtemp(prefix="alpg"))
    datadir = base / "data"
    os.chmod(base, 0o755)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    subprocess.run(
        _as_postgres(
            [
                str(bins / "initdb"),
                "-D",
                str(datadir),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        ),
        cwd=base,
        check=True,
        capture_output=True,
    )
    cert, key = datadir / "server.crt", datadir / "server.key"
    write_tls_certificate(cert, key, ("localhost", "127.0.0.1"))
    cafile = base / "ca.crt"
    shutil.copy(cert, cafile)
    if os.geteuid() == 0:
        for path in (cert, key):
            shutil.chown(path, "postgres", "postgres")
    port = free_port()
    (datadir / "pg_hba.conf").write_text(
        "local all all trust\n"
        "host all up_scram 127.0.0.1/32 scram-sha-256\n"
        "host all up_md5 127.0.0.1/32 md5\n"
        "hostssl all up_tls 127.0.0.1/32 scram-sha-256\n"
        "hostnossl all up_tls 127.0.0.1/32 reject\n"
        "host all all 127.0.0.1/32 trust\n"
    )
    with open(datadir / "postgresql.conf", "a") as conf:
        conf.write(
            f"\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{base}'\n"
            "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"
            "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            "max_connections = 300\nshared_buffers = 128MB\n"
            "log_statement = 'all'\nlog_line_prefix = '%m [%p] %u@%d '\n" + extra_conf
        )
    log = base / "server.log"
    logf = open(log, "wb")  # noqa: SIM115 - owned by the server process
    proc = subprocess.Popen(
        _as_postgres([str(bins / "postgres"), "-D", str(datadir)]),
        cwd=base,
        stdout=logf,
        stderr=subprocess.STDOUT,
    )
    server = PgServer("127.0.0.1", port, datadir, bins, proc, log, cafile)
    deadline = time.monotonic() + 60
    while True:  # poll readiness with pg_isready: the server tells us when it accepts
        ready = subprocess.run(
            [str(bins / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-t", "1"],
            capture_output=True,
        )
        if ready.returncode == 0:
            break
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"postgres did not start: {log.read_text()[-2000:]}")
    server.psql(
        "SET password_encryption = 'scram-sha-256';"
        f"CREATE ROLE up_scram LOGIN SUPERUSER PASSWORD '{UPSTREAM_PASSWORD}';"
        f"CREATE ROLE up_tls LOGIN SUPERUSER PASSWORD '{UPSTREAM_PASSWORD}';"
        "SET password_encryption = 'md5';"
        f"CREATE ROLE up_md5 LOGIN SUPERUSER PASSWORD '{UPSTREAM_PASSWORD}';"
    )
    server.psql("CREATE DATABASE app")
    return server
