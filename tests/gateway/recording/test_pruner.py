"""Retention: the pruner deletes expired transcripts on its own schedule, records each
deletion first (a signed maintenance transcript), and verify reports them as pruned."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.recording import Recorder, verify_all
from gateway.recording.pruner import Pruned, prune_once, run_pruner
from gateway.recording.reader import read_events
from gateway.recording.verify import pruned_sessions, transcripts

DAY = 86400.0
T0 = 1_700_000_000.0


def _session(rec: Recorder, sid: str, mtime: float) -> tuple[Path, tuple[int, str]]:
    w = rec.open(sid, ts=mtime, user="alice", protocol="postgres", target="db")
    w.statement(b"SELECT 1", "SELECT 1", categories=["read"], verdict="allow", ts=mtime)
    head = w.close(ts=mtime, reason="done")
    os.utime(w.path, (mtime, mtime))  # retention goes by the file's last write
    return w.path, head


class Clock:
    """The pruner's time and its waits, both driven by the test."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.waits: list[float] = []
        self.tick: asyncio.Queue[float] = asyncio.Queue()

    def __call__(self) -> float:
        return self.now

    async def wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += await self.tick.get()


async def test_pruner_runs_on_its_schedule_and_records_first(
    recorder: Recorder, audit_key: Ed25519PrivateKey
) -> None:
    old, old_head = _session(recorder, "old", T0 - 40 * DAY)
    mid, _ = _session(recorder, "mid", T0 - 20 * DAY)
    live = recorder.open("live", ts=T0 - 50 * DAY, user="bob")
    os.utime(live.path, (T0 - 50 * DAY, T0 - 50 * DAY))
    clock = Clock(T0)
    batches: list[list[Pruned]] = []
    got = asyncio.Event()

    def record_event(pruned: list[Pruned]) -> None:
        batches.append(pruned)
        got.set()

    task = asyncio.create_task(
        run_pruner(
            recorder, recorder.directory, 30, 3600, record_event, clock=clock, wait=clock.wait
        )
    )
    try:
        await asyncio.wait_for(got.wait(), 10)
        assert [[p.session_id for p in b] for b in batches] == [["old"]]
        assert not old.exists() and mid.exists() and live.path.exists()  # open: kept
        assert not old.parent.exists()  # its empty day directory went too
        # Nothing more is due until "mid" passes 30 days: the next passes prune nothing.
        got.clear()
        clock.tick.put_nowait(3600)
        clock.tick.put_nowait(11 * DAY)  # now mid is 31 days old
        await asyncio.wait_for(got.wait(), 10)
        assert [[p.session_id for p in b] for b in batches] == [["old"], ["mid"]]
        assert clock.waits[:2] == [3600, 3600]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    live.close(reason="end")

    # The pruning itself is on record: one signed maintenance transcript per batch.
    files = transcripts(recorder.directory)
    maint = sorted(sid for sid in files if sid.startswith("prune-"))
    assert len(maint) == 2
    events = read_events(files[maint[0]])
    assert [e["type"] for e in events] == ["session_start", "prune", "session_end"]
    assert events[0]["protocol"] == "maintenance" and events[0]["ts"] == T0
    prune_ev = events[1]
    assert (prune_ev["session"], prune_ev["head_seq"], prune_ev["head_hash"]) == (
        "old",
        *old_head,
    )
    assert events[2]["deleted"] == 1
    key = audit_key.public_key()
    assert pruned_sessions(recorder.directory, key)["old"] == old_head

    # verify --all with the store still knowing the deleted sessions: pruned, not missing.
    reports = {r.session_id: r for r in verify_all(recorder.directory, key, {"old": old_head})}
    assert reports["old"].status == "pruned" and reports["old"].ok
    assert all(r.status in ("verified", "pruned") for r in reports.values()), reports
    # ...but a store head that disagrees with the recorded one is flagged.
    bad = verify_all(recorder.directory, key, {"old": (old_head[0], "0" * 64)})
    assert {r.session_id: r.status for r in bad}["old"] == "tampered"

    # A deletion nobody recorded is still "missing".
    _, gone_head = _session(recorder, "gone", T0)
    next(p for s, p in transcripts(recorder.directory).items() if s == "gone").unlink()
    reports = {r.session_id: r for r in verify_all(recorder.directory, key, {"gone": gone_head})}
    assert [p.kind for p in reports["gone"].problems] == ["missing"]


async def test_tampered_prune_record_is_not_trusted(
    recorder: Recorder, audit_key: Ed25519PrivateKey
) -> None:
    _, head = _session(recorder, "x", T0 - 40 * DAY)
    pruned = await prune_once(recorder, recorder.directory, 30, T0)
    assert [p.session_id for p in pruned] == ["x"]
    ((sid, path),) = transcripts(recorder.directory).items()
    path.write_bytes(path.read_bytes().replace(b'"deleted":1', b'"deleted":2'))
    key = audit_key.public_key()
    assert pruned_sessions(recorder.directory, key) == {}
    statuses = {r.session_id: r.status for r in verify_all(recorder.directory, key, {"x": head})}
    assert statuses == {sid: "tampered", "x": "tampered"}  # edited record; x now missing


async def test_nothing_deleted_when_the_record_cannot_be_written(
    recorder: Recorder, audit_key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    path, _ = _session(recorder, "y", T0 - 40 * DAY)
    day = recorder.directory / "2023" / "11" / "14"  # where the record of T0 would go
    day.parent.mkdir(parents=True, exist_ok=True)
    day.write_text("not a directory")  # so opening the maintenance transcript fails
    from gateway.recording import RecorderError

    with pytest.raises(RecorderError):
        await prune_once(recorder, recorder.directory, 30, T0)
    assert path.exists()


async def test_retention_zero_keeps_everything(recorder: Recorder) -> None:
    path, _ = _session(recorder, "z", T0 - 4000 * DAY)
    await run_pruner(recorder, recorder.directory, 0, 1, lambda _: None)  # returns at once
    assert await prune_once(recorder, recorder.directory, 0, T0) == []
    assert path.exists()
