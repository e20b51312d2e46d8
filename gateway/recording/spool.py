"""Upload closed transcripts (and segments of open ones) from the local spool.

Record before forward is unchanged: every event still reaches the local file first, on the
statement path, and nothing here runs on that path. One background task:

- every ``segment_interval_s`` (or sooner once ``segment_bytes`` are waiting) uploads the
  new complete lines of each open session as a signed segment, so a node that dies
  (``kill -9``, lost disk) loses at most the unsent tail;
- uploads each closed transcript whole, reads it back, compares the bytes, then removes
  the session's segments and (``delete_local``) the local file — never before;
- retries failures with exponential backoff up to ``retry_max_s``.

The local transcript directory *is* the spool: what is still there is not yet uploaded
(found again by a scan at start, so a restart loses nothing). When the closed transcripts
waiting there reach ``spool_max_bytes`` the recorder refuses new sessions with a clear
error (fail closed) while sessions already open carry on and the backlog drains.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client import Counter, Gauge, Histogram

from gateway.config import ObjectStorage
from gateway.recording import chain
from gateway.recording.objectstore import TranscriptObjects, segment_digest
from gateway.recording.verify import transcripts
from gateway.recording.writer import Recorder, TranscriptWriter

log = logging.getLogger(__name__)

SPOOL_BYTES = Gauge("airlock_recording_spool_bytes", "Closed transcript bytes awaiting upload")
SPOOL_FILES = Gauge("airlock_recording_spool_files", "Closed transcripts awaiting upload")
UPLOADS = Counter("airlock_recording_uploads", "Object-store uploads", ["kind", "result"])
UPLOAD_LAG = Histogram(
    "airlock_recording_upload_lag_seconds",
    "From a transcript's close to its verified upload",
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, float("inf")),
)
REFUSED = Counter("airlock_recording_spool_refusals", "Sessions refused: spool full")


class UploadError(Exception):
    pass


@dataclass(slots=True)
class _Pending:
    path: Path
    size: int
    closed_at: float


@dataclass(slots=True)
class _Segments:
    index: int = 0
    offset: int = 0
    last_upload: float = 0.0
    seen: set[int] = field(default_factory=set)


class Spool:
    def __init__(
        self,
        recorder: Recorder,
        config: ObjectStorage,
        signing_key: Ed25519PrivateKey,
        objects: TranscriptObjects | None = None,
        *,
        retention_days: float = 0,
        prune_interval_s: float = 3600.0,
    ) -> None:
        self.recorder = recorder
        self.config = config
        self.objects = objects or TranscriptObjects(config)
        self._key = signing_key
        self._kid = chain.key_id(signing_key.public_key())
        self._pending: dict[str, _Pending] = {}
        self._segments: dict[str, _Segments] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._backoff = 0.0
        self.retention_days = retention_days
        self.prune_interval_s = prune_interval_s
        self._next_prune = 0.0
        self.failures = 0
        self.last_error = ""

    # -- recorder hooks (called on the event loop, never block) ------------------------
    def attach(self) -> None:
        self.recorder.admit = self.admit
        self.recorder.on_closed = self._closed

    @property
    def spool_bytes(self) -> int:
        return sum(p.size for p in self._pending.values())

    def admit(self) -> str | None:
        used = self.spool_bytes
        if used < self.config.spool_max_bytes:
            return None
        REFUSED.inc()
        why = f"; last error: {self.last_error}" if self.last_error else ""
        return (
            f"transcript spool full: {used} bytes in {len(self._pending)} transcripts wait "
            f"for upload to {self.config.url} (limit {self.config.spool_max_bytes}){why}; "
            "new sessions are refused until uploads catch up"
        )

    def _closed(self, writer: TranscriptWriter) -> None:
        self._segments.pop(writer.session_id, None)
        self._enqueue(writer.session_id, writer.path)
        self._wake.set()

    def _enqueue(self, session_id: str, path: Path, closed_at: float | None = None) -> None:
        try:
            size = path.stat().st_size
        except OSError:
            return
        self._pending[session_id] = _Pending(path, size, closed_at or time.time())
        self._idle.clear()
        self._gauges()

    def _gauges(self) -> None:
        SPOOL_BYTES.set(self.spool_bytes)
        SPOOL_FILES.set(len(self._pending))

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self, background: bool = True) -> None:
        """Queue what a previous run left (closed or crash-cut files not open now) and
        start the upload task (``background=False``: tests drive :meth:`run_once`)."""
        self.attach()
        found = await asyncio.to_thread(transcripts, self.recorder.directory)
        open_now = self.recorder.open_sessions
        for sid, path in sorted(found.items()):
            if sid not in open_now:
                self._enqueue(sid, path, path.stat().st_mtime)
        if background:
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._run(), name="transcript-spool")

    async def drain(self) -> None:
        """Wait until nothing closed is waiting (tests, shutdown)."""
        while self._pending:
            if self._task is None:
                if await self.run_once() is not None:
                    await asyncio.sleep(self._backoff)  # retry pacing, as the task does
                continue
            self._idle.clear()
            self._wake.set()
            await self._idle.wait()

    async def aclose(self, grace_s: float = 10.0) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drain(), grace_s)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._backoff or self._tick())
            self._wake.clear()
            await self.run_once()
            if self.retention_days > 0 and time.monotonic() >= self._next_prune:
                self._next_prune = time.monotonic() + self.prune_interval_s
                await self.prune_bucket()

    async def prune_bucket(self, now: float | None = None) -> list[str]:
        """Retention in the bucket (``objectprune``); errors are logged, retried later."""
        from gateway.recording.objectprune import prune_objects_once

        try:
            gone = await prune_objects_once(
                self.recorder, self.objects, self.retention_days, now or time.time()
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("pruning %s failed; retrying later", self.config.url)
            return []
        if gone:
            log.info("pruned %d transcripts past retention from %s", len(gone), self.config.url)
        return gone

    async def run_once(self) -> Exception | None:
        """One pass: due segments, then every closed transcript. Returns the error that
        stopped it (the spool keeps everything and backs off), or None."""
        try:
            await self.flush_segments()
            await self._upload_closed()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any store/network error: back off, keep the spool
            self.failures += 1
            self.last_error = str(exc).splitlines()[0][:200]
            self._backoff = min(max(self._backoff * 2, 0.5), self.config.retry_max_s)
            log.warning("transcript upload to %s failed: %s", self.config.url, self.last_error)
            return exc
        self._backoff = 0.0
        self.last_error = ""
        if not self._pending:
            self._idle.set()
        return None

    def _tick(self) -> float:
        return min(1.0, self.config.segment_interval_s)

    # -- closed transcripts -------------------------------------------------------------
    async def _upload_closed(self) -> None:
        for sid, item in list(self._pending.items()):
            try:
                await self._upload_one(sid, item)
            except Exception:
                UPLOADS.labels("transcript", "error").inc()
                raise
            UPLOADS.labels("transcript", "ok").inc()
            UPLOAD_LAG.observe(max(0.0, time.time() - item.closed_at))
            self._pending.pop(sid, None)
            self._gauges()

    async def _upload_one(self, sid: str, item: _Pending) -> None:
        try:
            data = await asyncio.to_thread(item.path.read_bytes)
        except FileNotFoundError:  # removed meanwhile (the pruner): nothing to upload
            return
        key = self.objects.transcript_key(sid)
        await self.objects.put(key, data)
        back = await self.objects.get(key)
        if back is None or hashlib.sha256(back).digest() != hashlib.sha256(data).digest():
            raise UploadError(f"read-back of {key} does not match the local transcript")
        await self.objects.delete_segments(sid)
        if self.config.delete_local:
            with contextlib.suppress(FileNotFoundError):
                await asyncio.to_thread(item.path.unlink)

    # -- segments of open sessions ------------------------------------------------------
    async def flush_segments(self, force: bool = False) -> None:
        """Upload the new complete lines of each open session that are due (``force``:
        every one that has any)."""
        now = time.monotonic()
        for sid in sorted(self.recorder.open_sessions):
            w = self.recorder.writer(sid)
            if w is None:
                continue
            st = self._segments.setdefault(sid, _Segments())
            try:
                size = os.stat(w.path).st_size
            except OSError:
                continue
            waiting = size - st.offset
            due = now - st.last_upload >= self.config.segment_interval_s
            if waiting <= 0 or (waiting < self.config.segment_bytes and not due and not force):
                continue
            await self._segment(sid, w.path, st, size)
            st.last_upload = now

    async def _segment(self, sid: str, path: Path, st: _Segments, size: int) -> None:
        def read() -> bytes:
            with path.open("rb") as fh:
                fh.seek(st.offset)
                return fh.read(size - st.offset)

        data = await asyncio.to_thread(read)
        end = data.rfind(b"\n")
        if end < 0:
            return
        data = data[: end + 1]
        last = data[:-1].rsplit(b"\n", 1)[-1] + b"\n"
        parts = chain.split(last)
        ev = chain.event_of(parts[0]) if parts else None
        seq = ev.get("seq") if ev else None
        if parts is None or not isinstance(seq, int):
            return
        digest = parts[1]
        trailer = {
            "segment": {
                "session": sid,
                "index": st.index,
                "offset": st.offset,
                "end": st.offset + len(data),
                "last_seq": seq,
                "last_hash": digest,
                "key": self._kid,
                "signature": chain.sign(self._key, segment_digest(sid, st.index, seq, digest)),
            }
        }
        body = data + chain.canonical(trailer) + b"\n"
        try:
            await self.objects.put(self.objects.segment_key(sid, st.index), body)
        except Exception:
            UPLOADS.labels("segment", "error").inc()
            raise
        UPLOADS.labels("segment", "ok").inc()
        st.index += 1
        st.offset += len(data)
