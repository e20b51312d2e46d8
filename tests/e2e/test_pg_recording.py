"""Sessions land in the store and in a verifiable transcript, secrets redacted."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import psycopg
import pytest

from gateway.keys import load_audit_public
from gateway.recording.verify import find_transcript, verify_session
from tests.support.gateway import GatewayThread


def transcript(gateway: GatewayThread, session_id: str) -> list[dict[str, object]]:
    path = find_transcript(gateway.config.recording.directory, session_id)
    assert path is not None
    return [json.loads(line) for line in path.read_text().splitlines()]


def last_session(gateway: GatewayThread, user: str) -> object:
    gateway.wait_sessions_closed()
    rows = gateway.call(gateway.app.store.list_sessions(user=user))
    return rows[-1]


def test_session_row_and_transcript(gateway: GatewayThread) -> None:
    secret = "hunter2-Very-Secret"
    with psycopg.connect(
        gateway.dsn(
            "carol", application_name="agent-x", options="-c airlock.reason=nightly\\\\ report"
        )
    ) as conn:
        conn.execute("SELECT 42")
        conn.execute(f"SELECT 'postgres://u:{secret}@db.example/x' AS url")
        try:
            conn.execute("SELECT * FROM nope")
        except psycopg.errors.UndefinedTable:
            conn.rollback()
    row = last_session(gateway, "carol")
    assert row.target == "main" and row.agent == "agent-x"  # type: ignore[attr-defined]
    assert row.ended_at is not None and row.statements >= 3  # type: ignore[attr-defined]
    assert row.bytes_in > 0 and row.bytes_out > 0  # type: ignore[attr-defined]
    events = transcript(gateway, row.id)  # type: ignore[attr-defined]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "session_start" and kinds[-1] == "session_end"
    start = events[0]
    assert start["user"] == "carol" and start["reason"] == "nightly report"
    statements = [e for e in events if e["type"] == "statement"]
    texts = [s["text"] for s in statements]
    assert texts[:2] == ["BEGIN", "SELECT 42"]  # psycopg opens a transaction first
    assert all(s["verdict"] == "allow" for s in statements)
    results = [e for e in events if e["type"] == "result"]
    assert any(r.get("tag") == "SELECT 1" for r in results)
    assert any(r.get("sqlstate") == "42P01" for r in results)
    # Record before forward: each statement event precedes its result.
    assert kinds.index("statement") < kinds.index("result")
    assert (row.head_seq, row.head_hash) == (events[-1]["seq"], events[-1]["hash"])  # type: ignore[attr-defined]
    report = verify_session(
        find_transcript(gateway.config.recording.directory, row.id),  # type: ignore[arg-type,attr-defined]
        load_audit_public(gateway.config.keys.audit_public),
        (row.head_seq, row.head_hash),  # type: ignore[attr-defined]
    )
    assert report.ok, report.problems
    everything = subprocess.run(
        ["grep", "-r", "-a", secret, str(gateway.config.state_dir)], capture_output=True
    )
    assert everything.returncode == 1, everything.stdout[:500]


def test_role_password_never_written(gateway: GatewayThread, tmp_path: Path) -> None:
    password = "S3cr3t-Role-Pw-991"
    with psycopg.connect(gateway.dsn("carol"), autocommit=True) as conn:
        conn.execute(
            f"DROP ROLE IF EXISTS tmp_role_x; CREATE ROLE tmp_role_x PASSWORD '{password}'"
        )
        conn.execute("DROP ROLE tmp_role_x")
    gateway.wait_sessions_closed()
    found = subprocess.run(
        ["grep", "-r", "-a", password, str(gateway.config.state_dir)], capture_output=True
    )
    assert found.returncode == 1


def test_statement_refused_when_the_transcript_cannot_be_written(
    gateway: GatewayThread, pg
) -> None:  # type: ignore[no-untyped-def]
    """Invariant 3: a disk that fails under the transcript stops the statement, not the record."""
    import os

    pg.psql("DROP TABLE IF EXISTS rec_fail; CREATE TABLE rec_fail(a int)")
    with psycopg.connect(
        gateway.dsn("carol", application_name="disk-full"), autocommit=True
    ) as conn:
        conn.execute("INSERT INTO rec_fail VALUES (1)")

        async def break_disk() -> None:
            assert gateway.app.postgres is not None
            for live in gateway.app.postgres.live.values():
                if live.relay.ctx.session.agent == "disk-full":
                    full = os.open("/dev/full", os.O_WRONLY)
                    os.dup2(full, live.relay.ctx.recorder._fd)  # type: ignore[union-attr]
                    os.close(full)

        gateway.call(break_disk())
        with pytest.raises(psycopg.OperationalError) as info:
            conn.execute("INSERT INTO rec_fail VALUES (2)")
        assert "transcript cannot be written" in str(info.value) and "disk full" in str(info.value)
    assert pg.psql("SELECT array_agg(a) FROM rec_fail").strip() == "{1}"


def test_result_rows_sampled_bounded_and_masked(pg, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.support.gateway import base_config

    gw = GatewayThread.from_dict(
        base_config(tmp_path, pg, recording={"rows_limit": 3, "sensitive_columns": ["ssn"]})
    )
    try:
        with psycopg.connect(gw.dsn("carol", application_name="rows"), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT i AS id, 'ssn-' || i AS ssn, 'ok' AS note FROM generate_series(1, 10) i"
            ).fetchall()
            assert len(rows) == 10
        gw.wait_sessions_closed()
        row = gw.call(gw.app.store.list_sessions(user="carol"))[-1]
        events = transcript(gw, row.id)
        sample = next(e for e in events if e["type"] == "rows")
        assert sample["columns"] == ["id", "ssn", "note"]
        assert len(sample["rows"]) == 3 and sample["total"] == 10 and sample["truncated"] is True
        assert sample["rows"][0][0] == "1" and sample["rows"][0][2] == "ok"
        assert "ssn-1" not in json.dumps(sample)  # the sensitive column is masked
        kinds = [e["type"] for e in events]
        assert kinds.index("rows") == kinds.index("result") - 1  # rows, then the result
    finally:
        gw.stop()


def test_fsync_durability_group_commits_before_forwarding(pg, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """durability = fsync: statements wait for a shared fsync; many sessions share batches."""
    import threading

    from tests.support.gateway import base_config

    gw = GatewayThread.from_dict(base_config(tmp_path, pg, recording={"durability": "fsync"}))
    try:
        errors: list[BaseException] = []

        def session(n: int) -> None:
            try:
                with psycopg.connect(gw.dsn("bob"), autocommit=True) as conn:
                    for i in range(20):
                        assert conn.execute("SELECT %s::int", (n * 100 + i,)).fetchone() == (
                            n * 100 + i,
                        )
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=session, args=(n,)) for n in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        gw.wait_sessions_closed()
        recorder = gw.app.recorder
        assert recorder.fsyncs >= 200  # every statement's line was fsynced before it ran...
        assert recorder.fsync_batches < recorder.fsyncs  # ...in batches shared by sessions
    finally:
        gw.stop()
