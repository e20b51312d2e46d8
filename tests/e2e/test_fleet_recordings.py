"""Two `airlock serve` nodes sharing one PostgreSQL store and one SeaweedFS bucket: a
session recorded on node A is listed, replayed and verified on node B after A's disk is
wiped; a `kill -9` of A during a long session loses at most the unsent segment, and
verify on B says so. A node that cannot upload refuses new sessions once its spool is
full, and accepts them again when the backlog drains."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from gateway.config import load_config
from gateway.recording.objectstore import TranscriptObjects
from tests.support.daemon import Daemon, airlock, write_config
from tests.support.pg import PgServer
from tests.support.seaweed import ACCESS_KEY, SECRET_KEY, SeaweedServer


@pytest.fixture
def fleet(
    pg: PgServer, seaweed: SeaweedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Daemon, Path, Path]]:
    monkeypatch.setenv("AIRLOCK_FLEET_S3_KEY", ACCESS_KEY)
    monkeypatch.setenv("AIRLOCK_FLEET_S3_SECRET", SECRET_KEY)
    name = f"airlock_fleet_{uuid.uuid4().hex[:8]}"
    pg.psql(f"CREATE DATABASE {name}")
    store = f"postgresql://postgres@{pg.host}:{pg.port}/{name}"
    bucket = seaweed.new_bucket()
    configs = []
    for node in ("A", "B"):
        state = tmp_path / node
        state.mkdir()
        keys = tmp_path / "A" / "keys"  # one audit key for the fleet
        configs.append(
            write_config(
                state,
                pg,
                gateway={"node": node, "state_dir": str(state), "store": store},
                keys={"audit_key": str(keys / "audit_ed25519")},
                recording={
                    "storage": f"s3://{bucket}/fleet",
                    "s3": {
                        "endpoint": seaweed.endpoint,
                        "allow_http": True,
                        "access_key_id_env": "AIRLOCK_FLEET_S3_KEY",
                        "secret_access_key_env": "AIRLOCK_FLEET_S3_SECRET",
                        "segment_interval_s": 0.2,
                    },
                },
            )
        )
    a = Daemon(configs[0])
    try:
        yield a, configs[0], configs[1]
    finally:
        a.stop()
        pg.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _until(check: object, what: str, timeout: float = 30) -> None:
    """Poll the object store's own state (another process uploads), with a deadline."""
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _session_of(conf_b: Path, node: str, seen: set[str]) -> str:
    out = airlock("sessions", "--config", str(conf_b), "--json")
    assert out.returncode == 0, out.stderr
    rows = [r for r in json.loads(out.stdout) if r["node"] == node and r["session"] not in seen]
    assert len(rows) == 1, rows
    return str(rows[0]["session"])


def test_session_from_a_is_replayed_and_verified_on_b_after_a_is_lost(
    fleet: tuple[Daemon, Path, Path],
) -> None:
    a, conf_a, conf_b = fleet
    objects = TranscriptObjects(load_config(conf_a).recording.storage)  # type: ignore[arg-type]
    with psycopg.connect(a.dsn(), autocommit=True) as conn:
        for i in range(3):
            conn.execute(f"SELECT {i} AS fleet_closed")
    sid = _session_of(conf_b, "A", set())
    _until(lambda: asyncio.run(objects.transcript(sid)) is not None, "the upload of " + sid)
    shutil.rmtree(conf_a.parent / "transcripts", ignore_errors=True)  # A's disk is gone
    out = airlock("verify", "--config", str(conf_b), sid, "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(out.stdout)["reports"][0]["status"] == "verified"
    out = airlock("replay", "--config", str(conf_b), sid, "--format", "json")
    assert out.returncode == 0 and "SELECT 2 AS fleet_closed" in out.stdout, out.stderr
    # An evidence bundle exported on B from the bucket verifies with the public key alone.
    bundle = conf_b.parent / "evidence.tar"
    out = airlock("export", "--config", str(conf_b), "--session", sid, "-o", str(bundle))
    assert out.returncode == 0, out.stdout + out.stderr
    pub = conf_a.parent / "keys" / "audit_ed25519.pub"
    out = airlock("verify", "--bundle", str(bundle), "--public-key", str(pub), "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    assert [r["session"] for r in json.loads(out.stdout)["reports"]] == [sid]

    # A long session; segments reach the bucket while it runs; then kill -9 of A.
    conn = psycopg.connect(a.dsn(), autocommit=True)
    for i in range(5):
        conn.execute(f"SELECT {i} AS fleet_long")
    long_sid = _session_of(conf_b, "A", {sid})

    def covered() -> bool:
        segs = asyncio.run(objects.segments(long_sid))
        return any(b"SELECT 4 AS fleet_long" in s.data for s in segs)

    _until(covered, "a segment covering the fifth statement")
    a.stop()  # SIGKILL: nothing is closed or flushed
    conn.close()
    shutil.rmtree(conf_a.parent / "transcripts", ignore_errors=True)
    out = airlock("verify", "--config", str(conf_b), long_sid, "--json")
    report = json.loads(out.stdout)["reports"][0]
    assert out.returncode == 3, out.stdout + out.stderr
    assert report["status"] == "unclosed"
    assert any("not yet uploaded" in p["detail"] for p in report["problems"]), report
    out = airlock("replay", "--config", str(conf_b), long_sid, "--format", "json")
    texts = [json.loads(x).get("text") for x in out.stdout.splitlines()]
    assert [t for t in texts if t and "fleet_long" in t] == [
        f"SELECT {i} AS fleet_long" for i in range(5)
    ]


def test_node_that_cannot_upload_refuses_new_sessions_once_its_spool_is_full(
    pg: PgServer, seaweed: SeaweedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRLOCK_FLEET_S3_KEY", ACCESS_KEY)
    monkeypatch.setenv("AIRLOCK_FLEET_S3_SECRET", SECRET_KEY)
    bucket = f"late{uuid.uuid4().hex[:12]}"  # does not exist yet: every upload fails
    conf = write_config(
        tmp_path, pg,
        recording={"storage": f"s3://{bucket}/fleet",
                   "s3": {"endpoint": seaweed.endpoint, "allow_http": True,
                          "access_key_id_env": "AIRLOCK_FLEET_S3_KEY",
                          "secret_access_key_env": "AIRLOCK_FLEET_S3_SECRET",
                          "spool_max_bytes": 1, "retry_max_s": 0.5}},
    )  # fmt: skip
    a = Daemon(conf)
    try:
        with psycopg.connect(a.dsn(), autocommit=True) as conn:
            conn.execute("SELECT 1 AS spooled")
        a.wait_log("failed")  # the upload of that transcript failed: it waits in the spool
        with pytest.raises(psycopg.OperationalError, match="transcript spool full"):
            psycopg.connect(a.dsn(), autocommit=True).close()
        seaweed.new_bucket(bucket)  # the store is back: the backlog drains
        objects = TranscriptObjects(load_config(conf).recording.storage)  # type: ignore[arg-type]
        _until(lambda: asyncio.run(objects.transcript_ids()) != [], "the backlog to drain")
        _until(lambda: _connects(a), "new sessions to be accepted again")
    finally:
        a.stop()


def _connects(a: Daemon) -> bool:
    try:
        psycopg.connect(a.dsn(), autocommit=True).close()
    except psycopg.OperationalError as exc:
        assert "spool full" in str(exc), exc
        return False
    return True
