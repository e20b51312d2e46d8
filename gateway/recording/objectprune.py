"""Retention in the object store: the pruner's rule and audit trail, applied to uploads.

With ``recording.storage`` set, closed transcripts leave the local disk once uploaded, so
the local pruner (``pruner.py``) finds little; this pass does the same for the bucket. It
lists ``prefix/transcripts/`` and, for each object last modified before the cutoff (not
a maintenance transcript), records a ``prune`` event with the object's last (seq, hash) in
a maintenance transcript ``prune-…`` written through the recorder — before deleting
anything — then deletes the objects. The maintenance transcript is closed, signed and
uploaded like any other, so ``verify`` on any node reports those sessions ``pruned``
(deleted on purpose, on record) rather than ``missing``. Several nodes may prune the same
object: deleting twice is harmless and each deletion is on record.
"""

from __future__ import annotations

import contextlib

from gateway.recording import chain
from gateway.recording.objectstore import TranscriptObjects
from gateway.recording.pruner import open_prune_record
from gateway.recording.verify import MAINTENANCE_PREFIX
from gateway.recording.writer import Recorder, RecorderError


def _head(data: bytes) -> tuple[int, str]:
    for raw in reversed(data.splitlines(keepends=True)):
        parts = chain.split(raw)
        ev = chain.event_of(parts[0]) if parts else None
        seq = ev.get("seq") if parts and ev is not None else None
        if parts and isinstance(seq, int):
            return seq, parts[1]
    return -1, ""


async def prune_objects_once(
    recorder: Recorder, objects: TranscriptObjects, retention_days: float, now: float
) -> list[str]:
    """One pass; returns the session ids deleted from the bucket. Raises RecorderError
    (nothing deleted) if the record cannot be written."""
    if retention_days <= 0:
        return []
    cutoff = now - retention_days * 86400
    expired = [
        (sid, key, size)
        for sid, key, modified, size in await objects.transcript_metas()
        if modified < cutoff and not sid.startswith(MAINTENANCE_PREFIX)
    ]
    if not expired:
        return []
    writer = open_prune_record(recorder, now, retention_days, cutoff, storage=objects.url)
    deleted: list[str] = []
    try:
        for session, key, size in expired:
            data = await objects.get(key)
            if data is None:
                continue
            seq, digest = _head(data)
            writer.write(
                "prune",
                ts=now,
                session=session,
                path=f"{objects.url}/{key}",
                bytes=size,
                head_seq=seq,
                head_hash=digest,
            )
            deleted.append(key)
        await writer.durable()
        for key in deleted:
            await objects.delete(key)
    except BaseException:
        with contextlib.suppress(RecorderError):
            writer.close(ts=now, reason="pruning failed")
        raise
    writer.close(ts=now, reason="retention", recorded=len(deleted), deleted=len(deleted))
    return [s for s, k, _ in expired if k in deleted]
