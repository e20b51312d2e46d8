"""Prune transcripts past ``recording.retention_days``. The daemon calls :func:`prune`
and records what it returns (an audit event of its own), so deletion is never silent."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from gateway.recording.verify import transcripts


@dataclass(frozen=True, slots=True)
class Pruned:
    session_id: str
    path: Path
    bytes: int
    last_write: float

    def to_json(self) -> dict[str, object]:
        return {
            "session": self.session_id,
            "path": str(self.path),
            "bytes": self.bytes,
            "last_write": self.last_write,
        }


def prune(
    directory: Path,
    retention_days: float,
    now: float | None = None,
    keep: Collection[str] = (),
) -> list[Pruned]:
    """Delete transcripts whose last write is older than ``retention_days`` (never those
    in ``keep``, e.g. open sessions), then empty day/month/year directories.

    The age is the file's mtime (its last event), so a long session is kept until its
    end has expired. ``retention_days <= 0`` keeps everything.
    """
    if retention_days <= 0:
        return []
    cutoff = (time.time() if now is None else now) - retention_days * 86400
    pruned = []
    for sid, path in sorted(transcripts(directory).items()):
        if sid in keep:
            continue
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        if st.st_mtime < cutoff:
            path.unlink(missing_ok=True)
            pruned.append(Pruned(sid, path, st.st_size, st.st_mtime))
    for parent in sorted({p.path.parent for p in pruned}, reverse=True):
        d = parent
        while d != directory and directory in d.parents:
            with contextlib.suppress(OSError):
                os.rmdir(d)  # only succeeds when empty
            d = d.parent
    return pruned
