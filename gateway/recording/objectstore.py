"""Transcripts in an S3-compatible object store, shared by every node of a fleet.

Layout under ``s3://bucket/prefix``:

- ``transcripts/<session>.jsonl`` — a closed (or crash-cut, recovered) transcript, the
  exact bytes of the local file, uploaded once it no longer changes;
- ``segments/<session>/<index>.jsonl`` — while a session is open: consecutive byte
  ranges of its file, each ending at a line boundary, followed by one trailer line
  ``{"segment": {...}}`` that signs the hash of the range's last event with the audit
  key (see :func:`segment_digest`). Segments are removed once the full transcript is up.

The client is obstore (Rust ``object_store`` under a native asyncio API): no thread pool
per request, typed, and it speaks to any S3-compatible server (SeaweedFS in the tests).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import obstore
from obstore.store import S3Store

if TYPE_CHECKING:
    from obstore.store import RetryConfig

from gateway.config import ObjectStorage

SEGMENT_DOMAIN = b"airlock-segment-v1:"


def segment_digest(session_id: str, index: int, last_seq: int, last_hash: str) -> str:
    """What a segment trailer's signature signs (hex): domain-separated, so it can never
    be taken for a session_end signature, and bound to session, index and head."""
    msg = SEGMENT_DOMAIN + f"{session_id}:{index}:{last_seq}:{last_hash}".encode()
    return hashlib.sha256(msg).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredSegment:
    index: int
    data: bytes  # the transcript lines of this range, trailer removed
    trailer: Mapping[str, object]


class TranscriptObjects:
    """Thin async wrapper: the keys of the layout above, and not-found as None."""

    def __init__(self, config: ObjectStorage) -> None:
        self.config = config
        options: dict[str, object] = {"region": config.region}
        if config.endpoint:
            options["endpoint"] = config.endpoint
            options["virtual_hosted_style_request"] = False
        if config.access_key_id is not None:
            options["access_key_id"] = config.access_key_id
        if config.secret_access_key is not None:
            options["secret_access_key"] = config.secret_access_key
        if config.session_token is not None:
            options["session_token"] = config.session_token
        if config.sse:
            options["server_side_encryption"] = config.sse
        if config.sse_kms_key_id:
            options["sse_kms_key_id"] = config.sse_kms_key_id
        # Few client-level retries: the spool retries with its own backoff and counts
        # failures (metrics), and a CLI read should fail fast.
        retry: RetryConfig = {"max_retries": 2, "retry_timeout": timedelta(seconds=20)}
        self._store = S3Store(
            config.bucket,
            client_options={"allow_http": config.allow_http, "timeout": "30s"},
            retry_config=retry,
            **options,  # type: ignore[arg-type]
        )
        self._base = f"{config.prefix}/" if config.prefix else ""

    @property
    def url(self) -> str:
        return self.config.url

    def transcript_key(self, session_id: str) -> str:
        return f"{self._base}transcripts/{session_id}.jsonl"

    def segment_key(self, session_id: str, index: int) -> str:
        return f"{self._base}segments/{session_id}/{index:08d}.jsonl"

    async def put(self, key: str, data: bytes) -> None:
        await obstore.put_async(self._store, key, data)

    async def get(self, key: str) -> bytes | None:
        try:
            result = await obstore.get_async(self._store, key)
        except FileNotFoundError:
            return None
        return bytes(await result.bytes_async())

    async def delete(self, key: str) -> None:
        await obstore.delete_async(self._store, key)

    async def keys(self, prefix: str) -> list[str]:
        out: list[str] = []
        async for batch in obstore.list(self._store, prefix=self._base + prefix):
            out.extend(str(meta["path"]) for meta in batch)
        return sorted(out)

    async def transcript(self, session_id: str) -> bytes | None:
        return await self.get(self.transcript_key(session_id))

    async def transcript_ids(self) -> list[str]:
        prefix = f"{self._base}transcripts/"
        return [
            k.removeprefix(prefix).removesuffix(".jsonl")
            for k in await self.keys("transcripts/")
            if k.endswith(".jsonl")
        ]

    async def transcript_metas(self) -> list[tuple[str, str, float, int]]:
        """(session id, key, last modified as epoch seconds, size) of each transcript."""
        prefix = f"{self._base}transcripts/"
        out = []
        async for batch in obstore.list(self._store, prefix=prefix):
            for meta in batch:
                key = str(meta["path"])
                if key.endswith(".jsonl"):
                    sid = key.removeprefix(prefix).removesuffix(".jsonl")
                    out.append((sid, key, meta["last_modified"].timestamp(), int(meta["size"])))
        return sorted(out)

    async def segment_sessions(self) -> list[str]:
        prefix = f"{self._base}segments/"
        keys = await self.keys("segments/")
        return sorted({k.removeprefix(prefix).split("/", 1)[0] for k in keys})

    async def segments(self, session_id: str) -> list[StoredSegment]:
        """The session's uploaded segments in index order (unparseable ones skipped: the
        verifier then reports the gap as lines missing)."""
        out = []
        for key in await self.keys(f"segments/{session_id}/"):
            name = key.rsplit("/", 1)[-1].removesuffix(".jsonl")
            data = await self.get(key)
            if data is None or not name.isdigit():
                continue
            seg = parse_segment(int(name), data)
            if seg is not None:
                out.append(seg)
        return out

    async def delete_segments(self, session_id: str) -> None:
        for key in await self.keys(f"segments/{session_id}/"):
            await self.delete(key)


def parse_segment(index: int, data: bytes) -> StoredSegment | None:
    import json

    body, sep, last = data.rstrip(b"\n").rpartition(b"\n")
    if not sep:
        body, last = b"", data.rstrip(b"\n")
    try:
        trailer = json.loads(last)
    except ValueError:
        return None
    if not isinstance(trailer, dict) or not isinstance(trailer.get("segment"), dict):
        return None
    return StoredSegment(index, body + b"\n" if body else b"", trailer["segment"])
