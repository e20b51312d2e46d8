"""The recorder process of the `walproc` bench variant: tails the write-ahead log that
variant_serve's walsim writes and renders real transcript lines from it (the same
TranscriptWriter fast paths, redaction and hash chain), one transcript per session slot.
Exits when its parent, the daemon, is gone. Bench only: no recovery, no session ends."""

from __future__ import annotations

import mmap
import os
import pickle
import struct
import sys
import time
import zlib
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.model import Action, Outcome
from gateway.recording.writer import Recorder, TranscriptWriter

HEADER = struct.Struct("<IIBdI")
STATEMENT = struct.Struct("<II")
RESULT = struct.Struct("<Id")


def main(path: str, out: str) -> int:
    parent = os.getppid()
    fd = os.open(path, os.O_RDONLY)
    ring = mmap.mmap(fd, os.fstat(fd).st_size, prot=mmap.PROT_READ)
    recorder = Recorder(Path(out), Ed25519PrivateKey.generate())
    shapes: dict[int, Any] = {}
    writers: dict[int, TranscriptWriter] = {}
    dirty: set[TranscriptWriter] = set()
    pos = 0
    records = 0

    def writer(slot: int) -> TranscriptWriter:
        w = writers.get(slot)
        if w is None:
            w = writers[slot] = recorder.open(f"slot{slot}")
            w.deferred = True
        dirty.add(w)
        return w

    while True:
        length, crc, kind, _ts, sid = HEADER.unpack_from(ring, pos)
        if length == 0:  # nothing new: write what was rendered, then wait
            for w in dirty:
                w.flush()
            dirty.clear()
            if os.getppid() != parent:
                Path(out, "render-stats.txt").write_text(
                    f"records {records} cpu_s {time.process_time():.3f}\n"
                )
                return 0
            time.sleep(0.001)
            continue
        start = pos + HEADER.size
        payload = ring[start : start + length]
        if zlib.crc32(payload) != crc:  # being written right now
            continue
        pos = start + length
        records += 1
        if kind == 3:
            shape_id, value = pickle.loads(payload)  # noqa: S301 - our parent wrote it, mode 0600
            shapes[shape_id] = value
        elif kind == 1:
            slot, raw_len = STATEMENT.unpack_from(payload)
            raw = payload[STATEMENT.size : STATEMENT.size + raw_len]
            text = payload[STATEMENT.size + raw_len :].decode("utf-8", "surrogateescape")
            action_kind, classification, verdict, allowed = shapes[sid]
            writer(slot).decided(
                Action(action_kind, raw, text), Outcome(allowed, classification, verdict)
            )
        elif kind == 2:
            slot, duration_ms = RESULT.unpack_from(payload)
            writer(slot).completed(shapes[sid], duration_ms)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
