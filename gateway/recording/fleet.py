"""Read transcripts from any node: the local directory first, then the object store.

``replay`` and ``verify`` work on files, so :func:`merged_view` builds a private temporary
directory holding the wanted transcripts — local files linked, uploaded ones downloaded,
and for a session whose full transcript is not uploaded yet, its uploaded segments joined
in order. :func:`notes_for` then says which sessions came from segments only ("not yet
uploaded", with the last event the signed segments cover), so ``verify`` tells that
from "missing" (nothing anywhere).
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import binascii
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.config import Config, ObjectStorage
from gateway.recording import chain
from gateway.recording.objectstore import StoredSegment, TranscriptObjects, segment_digest
from gateway.recording.verify import MAINTENANCE_PREFIX as MAINTENANCE
from gateway.recording.verify import Problem, VerifyReport, transcripts

_NOTES: dict[Path, dict[str, list[Problem]]] = {}


def ledger_directory(state_dir: Path) -> Path:
    """Where a node keeps its approvals ledgers (gateway/approvals/ledger.py)."""
    return state_dir / "ledger"


def check_segments(
    session_id: str, segments: Iterable[StoredSegment], public_key: Ed25519PublicKey
) -> tuple[bytes, list[Problem]]:
    """Join segments in order; problems for gaps and for trailers that do not verify."""
    out = bytearray()
    problems: list[Problem] = []
    expected_index, offset = 0, 0
    for seg in segments:
        t = seg.trailer
        if seg.index != expected_index or t.get("offset") != offset:
            problems.append(
                Problem("deleted", None, f"segment {expected_index} of {session_id} is missing")
            )
        last_seq, last_hash = t.get("last_seq"), t.get("last_hash")
        sig, kid = t.get("signature"), t.get("key")
        ok = (
            isinstance(last_seq, int)
            and isinstance(last_hash, str)
            and isinstance(sig, str)
            and kid == chain.key_id(public_key)
            and t.get("session") == session_id
            and t.get("index") == seg.index
        )
        if ok:
            assert isinstance(sig, str) and isinstance(last_seq, int)
            assert isinstance(last_hash, str)
            try:
                public_key.verify(
                    base64.b64decode(sig, validate=True),
                    bytes.fromhex(segment_digest(session_id, seg.index, last_seq, last_hash)),
                )
            except (InvalidSignature, binascii.Error, ValueError):
                ok = False
        if ok:
            last = seg.data.rstrip(b"\n").rsplit(b"\n", 1)[-1] + b"\n"
            parts = chain.split(last)
            ok = parts is not None and parts[1] == last_hash
        if not ok:
            problems.append(
                Problem("bad-signature", None, f"segment {seg.index} trailer does not verify")
            )
        out += seg.data
        expected_index, offset = seg.index + 1, int(str(t.get("end", offset)))
    return bytes(out), problems


def _cleanup(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


async def _gather(
    objects: TranscriptObjects,
    local: dict[str, Path],
    wanted: str | None,
    view: Path,
    public_key: Ed25519PublicKey,
) -> dict[str, list[Problem]]:
    notes: dict[str, list[Problem]] = {}
    if wanted is not None:  # and the pruner's records, which say what retention removed
        ids = [wanted, *(i for i in await objects.transcript_ids() if i.startswith(MAINTENANCE))]
    else:
        ids = sorted(set(await objects.transcript_ids()) | set(await objects.segment_sessions()))
    for sid in ids:
        if sid in local:
            continue
        data = await objects.transcript(sid)
        if data is None:
            segments = await objects.segments(sid)
            if not segments:
                continue
            data, problems = check_segments(sid, segments, public_key)
            last = segments[-1].trailer.get("last_seq")
            problems.append(
                Problem(
                    "truncated",
                    None,
                    f"not yet uploaded: only segments up to event {last} are in "
                    f"{objects.url}; the rest is still on the recording node (or lost "
                    "with it)",
                    tamper=False,
                )
            )
            notes[sid] = problems
        (view / f"{sid}.jsonl").write_bytes(data)
    return notes


def ledger_storage(storage: ObjectStorage) -> ObjectStorage:
    """Where the approvals ledgers go: ``prefix/ledger`` of the same bucket."""
    return replace(storage, prefix=f"{storage.prefix}/ledger".lstrip("/"))


def merged_view(
    config: Config,
    session_id: str | None,
    public_key: Ed25519PublicKey,
    *,
    ledger: bool = False,
) -> Path:
    """A temporary directory with the local and uploaded transcripts (``session_id``
    only, or every one; ``ledger``: the approvals ledgers instead), removed at exit."""
    view = Path(tempfile.mkdtemp(prefix="airlock-view-"))
    atexit.register(_cleanup, view)
    directory = config.recording.directory
    storage = config.recording.storage
    if ledger:
        directory = ledger_directory(config.state_dir)
        storage = ledger_storage(storage) if storage is not None else None
    local = transcripts(directory) if directory.is_dir() else {}
    for sid, path in local.items():
        if session_id is None or sid == session_id or sid.startswith(MAINTENANCE):
            (view / f"{sid}.jsonl").symlink_to(path.resolve())
    if storage is not None:
        objects = TranscriptObjects(storage)
        _NOTES[view] = asyncio.run(_gather(objects, local, session_id, view, public_key))
    return view


def not_uploaded(directory: Path) -> set[str]:
    """Sessions of a :func:`merged_view` that only have segments in the store."""
    return set(_NOTES.get(directory, {}))


def annotate(directory: Path, reports: Iterable[VerifyReport]) -> list[VerifyReport]:
    """Add the object-store findings of :func:`merged_view` to verify reports."""
    notes = _NOTES.get(directory, {})
    out = []
    for r in reports:
        for p in notes.get(r.session_id, []):
            r.problems.append(p)
        out.append(r)
    return out
