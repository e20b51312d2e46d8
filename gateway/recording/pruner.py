"""The daemon's retention task: delete transcripts past ``recording.retention_days``, and
record each deletion first, in a transcript of its own.

Each pruning run that finds expired files writes one *maintenance transcript*
``prune-<ms>-<hex>`` through the :class:`Recorder` (so it is hash-chained and signed like
any session): one ``prune`` event per file — written before that file is deleted, with the
file's last (seq, hash) so an auditor can match it against the store's head — and a signed
``session_end`` with the count actually deleted. ``airlock verify`` reads these records and
reports such sessions as ``pruned`` instead of ``missing``. Maintenance transcripts are never
pruned themselves: they are the audit trail of deletions (a few hundred bytes per run).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from gateway.recording import chain
from gateway.recording.retention import Pruned, prune
from gateway.recording.verify import MAINTENANCE_PREFIX, transcripts
from gateway.recording.writer import Recorder, RecorderError, TranscriptWriter

log = logging.getLogger("airlock.recording")

__all__ = ["Expired", "Pruned", "find_expired", "prune_once", "run_pruner"]


@dataclass(frozen=True, slots=True)
class Expired:
    """A transcript found past retention, with its last event (read before deletion)."""

    session_id: str
    path: Path
    bytes: int
    last_write: float
    head_seq: int
    head_hash: str


def _head(path: Path, size: int) -> tuple[int, str]:
    """(seq, hash) of the last complete line; reads only the file's tail."""
    with path.open("rb") as fh:
        fh.seek(max(0, size - 65536))
        tail = fh.read()
    for raw in reversed(tail.splitlines(keepends=True)):
        parts = chain.split(raw)
        ev = chain.event_of(parts[0]) if parts else None
        seq = ev.get("seq") if parts and ev is not None else None
        if parts and isinstance(seq, int):
            return seq, parts[1]
    return -1, ""


def find_expired(
    directory: Path, retention_days: float, now: float, keep: frozenset[str]
) -> list[Expired]:
    """Transcripts whose last write is older than the cutoff (same rule as
    ``retention.prune``), skipping ``keep`` and maintenance transcripts."""
    if retention_days <= 0:
        return []
    cutoff = now - retention_days * 86400
    found = []
    for sid, path in sorted(transcripts(directory).items()):
        if sid in keep or sid.startswith(MAINTENANCE_PREFIX):
            continue
        try:
            st = path.stat()
            if st.st_mtime >= cutoff:
                continue
            seq, digest = _head(path, st.st_size)
        except FileNotFoundError:
            continue
        found.append(Expired(sid, path, st.st_size, st.st_mtime, seq, digest))
    return found


def open_prune_record(
    recorder: Recorder, now: float, retention_days: float, cutoff: float, **fields: object
) -> TranscriptWriter:
    """The maintenance transcript that puts a retention pass on record before it deletes."""
    sid = f"{MAINTENANCE_PREFIX}{int(now * 1000)}-{secrets.token_hex(3)}"
    return recorder.open(
        sid,
        ts=now,
        protocol="maintenance",
        user="airlock",
        target="recording",
        retention_days=retention_days,
        cutoff=cutoff,
        **fields,
    )


async def prune_once(
    recorder: Recorder, directory: Path, retention_days: float, now: float
) -> list[Pruned]:
    """One pass: find expired transcripts, record each, then delete them. Returns what
    was deleted. Raises RecorderError (nothing deleted) if the record cannot be written."""
    keep = frozenset(recorder.open_sessions)
    expired = await asyncio.to_thread(find_expired, directory, retention_days, now, keep)
    if not expired:
        return []
    writer = open_prune_record(recorder, now, retention_days, now - retention_days * 86400)
    try:
        for e in expired:
            writer.write(
                "prune",
                ts=now,
                session=e.session_id,
                path=str(e.path),
                bytes=e.bytes,
                last_write=e.last_write,
                head_seq=e.head_seq,
                head_hash=e.head_hash,
            )
        await writer.durable()  # with durability fsync, on disk before anything is deleted
        # Deleting only what was recorded: every other session id is kept; prune re-checks
        # the age, so a file written to since the scan survives.
        recorded = {e.session_id for e in expired}
        others = frozenset(transcripts(directory)) - recorded
        pruned = await asyncio.to_thread(prune, directory, retention_days, now, others | keep)
    except BaseException:
        with contextlib.suppress(RecorderError):
            writer.close(ts=now, reason="pruning failed")
        raise
    writer.close(
        ts=now,
        reason="retention",
        recorded=len(expired),
        deleted=len(pruned),
        bytes=sum(p.bytes for p in pruned),
    )
    return pruned


async def run_pruner(
    recorder: Recorder,
    directory: Path,
    retention_days: float,
    interval_s: float,
    record_event: Callable[[list[Pruned]], None],
    *,
    clock: Callable[[], float] = time.time,
    wait: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Prune every ``interval_s`` seconds until cancelled (``retention_days <= 0``: return
    at once). ``record_event`` gets each non-empty batch after it is recorded and deleted
    (the app logs it / counts it). A failed pass is logged and retried next interval:
    retention must not take the daemon down, and nothing is deleted unrecorded."""
    if retention_days <= 0:
        return
    while True:
        try:
            pruned = await prune_once(recorder, directory, retention_days, clock())
        except Exception:
            log.exception("transcript pruning failed; retrying in %ss", interval_s)
        else:
            if pruned:
                record_event(pruned)
        await wait(interval_s)
