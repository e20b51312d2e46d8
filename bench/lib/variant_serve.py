"""`airlock serve` with parts switched off, to measure what each part costs (bench only).

Variants:
  passthrough  the checkpoint allows every message without classifying or recording it
               (the relay alone: issue 2's "checkpoint that allows everything")
  norecord     full classification and policy, no transcript
  noresult     transcripts, but no result events (what they cost)
  nowrite      transcripts built but never written (what the write system call costs)
  walsim       statement and result events packed into a write-ahead log, never rendered
  walproc      walsim, plus a second process that renders the transcripts from that log
  batched      walsim, plus in-process rendering every 10 ms instead of before forwarding
  native       statement and result events rendered by bench/lib/native/render.c (gcc)
  timed        full, printing the median time of each recording step to its log at exit
  full         the shipped daemon (same as `airlock serve`)

A suffix after a dot runs another copy: "full.2" is a second full daemon, to compare like
with like (every variant is started the same way).

Production has no switch for any of this; the bench patches the composition root here.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from gateway import app, cli
from gateway.checkpoint import Checkpoint, SessionContext
from gateway.model import Action, Decision, Outcome, Verdict
from protocols.classification import Category, Classification

ALLOW = Outcome(
    True,
    Classification(("bench",), frozenset({Category.READ})),
    Verdict(Decision.ALLOW, "bench-passthrough", "bench"),
)


def passthrough(self: Checkpoint, ctx: SessionContext, action: Action) -> Outcome:
    return ALLOW


def _time_recording() -> None:
    """Wall time of each recording step in place, printed to the log at exit (the timer
    itself costs ~0.1 µs per call; medians, so preemption outliers do not count)."""
    import atexit
    import statistics
    import time
    from collections.abc import Callable

    from gateway.postgres import listener
    from gateway.recording import writer

    samples: dict[str, list[int]] = {}

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        spent = samples.setdefault(name, [])
        clock = time.perf_counter_ns

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = clock()
            result = fn(*args, **kwargs)
            spent.append(clock() - t0)
            return result

        return wrapper

    Checkpoint._record = staticmethod(timed("statement event", Checkpoint._record))  # type: ignore[method-assign]
    writer.TranscriptWriter.flush = timed("flush (write)", writer.TranscriptWriter.flush)  # type: ignore[method-assign]
    result_recorder = listener._result_recorder

    def timed_results(ctx: SessionContext) -> Any:
        on_result = result_recorder(ctx)
        return on_result and timed("result event", on_result)

    listener._result_recorder = timed_results
    from gateway.postgres import relay
    from protocols.pgwire import messages
    from protocols.sql import cache

    cache.SqlClassifierCache.classify = timed("classify", cache.SqlClassifierCache.classify)  # type: ignore[method-assign]
    messages.MessageReader.feed = timed("feed", messages.MessageReader.feed)  # type: ignore[method-assign]
    relay.PgRelay._action = timed("action", relay.PgRelay._action)  # type: ignore[method-assign]
    empty = timed("timer alone", lambda: None)

    def report() -> None:
        for _ in range(1000):
            empty()
        for name, spent in samples.items():
            if spent:
                median = statistics.median(spent) / 1000
                print(f"timed {name}: n={len(spent)} median {median:.2f} µs", flush=True)

    atexit.register(report)


def _simulate_wal(directory: str, render: bool = False) -> None:
    """What the relay's loop would still do per event if transcripts were rendered by
    another process from a write-ahead log: pack the raw statement bytes, its text and its
    decision's shape into a shared file mapping (the page cache: survives a kill -9, like
    os.write). With ``render``, bench/lib/wal_render.py tails that log in a second process
    and renders the real transcript lines from it (the whole design, CPU included);
    without, nothing is rendered and this prices only the in-loop half."""
    import mmap
    import os
    import pickle
    import struct
    import subprocess
    import time
    import zlib

    from gateway.recording import writer

    path = os.path.join(directory, "wal-sim")
    size = 1 << 30  # sparse; a bench run writes well under this, so no wrap-around
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    os.ftruncate(fd, size)
    ring = mmap.mmap(fd, size)
    header = struct.Struct("<IIBdI")  # length, crc32, type, ts, shape id
    shapes: dict[object, int] = {}
    slots: dict[int, int] = {}
    state = [0]

    def put(kind: int, sid: int, payload: bytes) -> None:
        at = state[0]
        end = at + header.size + len(payload)
        ring[at + header.size : end] = payload
        header.pack_into(ring, at, len(payload), zlib.crc32(payload), kind, time.time(), sid)
        state[0] = end

    def shape_of(key: object, value: object) -> int:
        sid = shapes.get(key)
        if sid is None:
            sid = shapes[key] = len(shapes)
            put(3, sid, pickle.dumps((sid, value)))
        return sid

    def slot_of(w: Any) -> int:
        slot = slots.get(id(w))
        if slot is None:
            slot = slots[id(w)] = len(slots)
        return slot

    def decided(self: Any, action: Any, outcome: Any) -> None:
        c, v = outcome.classification, outcome.verdict
        key = (action.kind, c.categories, c.objects, v.decision, v.rule, outcome.allowed)
        sid = shape_of(key, (action.kind, c, v, outcome.allowed))
        raw = action.raw
        text = action.text.encode("utf-8", "surrogateescape")
        put(1, sid, struct.pack("<II", slot_of(self), len(raw)) + raw + text)

    def completed(self: Any, tag: str, duration_ms: float) -> None:
        put(2, shape_of(tag, tag), struct.pack("<Id", slot_of(self), duration_ms))

    writer.TranscriptWriter.decided = decided  # type: ignore[method-assign]
    writer.TranscriptWriter.completed = completed  # type: ignore[method-assign]
    if render:
        out = os.path.join(directory, "wal-render")
        subprocess.Popen(
            [sys.executable, os.path.join(os.path.dirname(__file__), "wal_render.py"), path, out]
        )


def _simulate_batched(directory: str) -> None:
    """walsim plus rendering in-process, in batches: each event's real transcript line is
    produced (redaction, canonical JSON, hash chain) and written every 10 ms per session
    instead of before each forward. Prices an in-process write-ahead-log design."""
    import asyncio

    from gateway.recording import writer

    decided, completed = writer.TranscriptWriter.decided, writer.TranscriptWriter.completed
    _simulate_wal(directory)
    put_decided, put_completed = writer.TranscriptWriter.decided, writer.TranscriptWriter.completed
    queues: dict[Any, list[tuple[Any, ...]]] = {}

    def render() -> None:
        for w, queue in list(queues.items()):
            queues.pop(w)
            if w.closed:  # ended within the 10 ms: a real design renders before session_end
                continue
            for item in queue:
                if item[0] == 1:
                    decided(w, item[1], item[2])
                else:
                    completed(w, item[1], item[2])
            w.flush()

    async def renderer() -> None:
        while True:
            await asyncio.sleep(0.01)
            render()

    started: list[asyncio.Task[None]] = []

    def lazy_decided(self: Any, action: Any, outcome: Any) -> None:
        put_decided(self, action, outcome)
        queues.setdefault(self, []).append((1, action, outcome))
        if not started:
            started.append(asyncio.get_running_loop().create_task(renderer()))

    def lazy_completed(self: Any, tag: str, duration_ms: float) -> None:
        put_completed(self, tag, duration_ms)
        queues.setdefault(self, []).append((2, tag, duration_ms))

    writer.TranscriptWriter.decided = lazy_decided  # type: ignore[method-assign]
    writer.TranscriptWriter.completed = lazy_completed  # type: ignore[method-assign]


def _check_native(native: Any, segments: Any) -> None:
    """Refuse to start unless the C renderer writes the Python templates' exact bytes."""
    import binascii
    import hashlib
    import random

    import orjson

    from gateway.recording import writer
    from gateway.recording.template import compile_template

    constants = {"type": "statement", "kind": "query", "categories": ["read"], "rule": "r%d"}
    tpl = compile_template(constants, writer._STATEMENT_SLOTS)
    rtpl = compile_template({"type": "result", "tag": "SELECT 1"}, writer._RESULT_SLOTS)
    assert tpl is not None and rtpl is not None
    prev = bytes(range(32))
    prevx = binascii.hexlify(prev)
    for seq in range(20000):
        text = "".join(chr(random.randrange(128)) for _ in range(random.randrange(60)))
        ts = 1.7e9 + random.random() * 1e8
        duration = round(random.random() * random.choice([1, 1e3, 1e6]), 3)
        sha = binascii.hexlify(hashlib.sha256(text.encode()).digest())
        bodies = [
            (
                native.statement(segments(tpl.fmt), prev, prevx, seq, text.encode(), text, ts),
                tpl.fmt % (prevx, seq, sha, orjson.dumps(text), orjson.dumps(ts)),
            ),
            (
                native.result(segments(rtpl.fmt), prev, prevx, seq, duration, ts),
                rtpl.fmt % (orjson.dumps(duration), prevx, seq, orjson.dumps(ts)),
            ),
        ]
        for out, body in bodies:
            if out is None:  # the redaction precheck sent it to Python
                continue
            digest = hashlib.sha256(prev + body).digest()
            line = b'%s,"hash":"%s"}\n' % (body[:-1], binascii.hexlify(digest))
            assert out == (line, digest, binascii.hexlify(digest)), (text, out, line)


def _native(directory: str) -> None:
    """The two hot events rendered by bench/lib/native/render.c (compiled here with gcc,
    linked to OpenSSL's SHA-256): what a native renderer would save. Falls back to the
    Python path for text it would have to redact, non-ASCII text and reviews."""
    import importlib.util
    import subprocess
    import sysconfig
    import time

    from gateway.recording import writer

    src = os.path.join(os.path.dirname(__file__), "native", "render.c")
    so = os.path.join(directory, "_airlock_render.so")
    include = sysconfig.get_paths()["include"]
    cmd = ["gcc", "-O2", "-shared", "-fPIC", "-Wno-deprecated-declarations", f"-I{include}"]
    subprocess.run([*cmd, src, "-o", so, "-lcrypto"], check=True)
    spec = importlib.util.spec_from_file_location("_airlock_render", so)
    assert spec is not None and spec.loader is not None
    native = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(native)

    def segments(fmt: bytes) -> tuple[bytes, ...]:
        parts, current, i = [], b"", 0
        while i < len(fmt):
            if fmt[i : i + 2] == b"%%":
                current, i = current + b"%", i + 2
            elif fmt[i : i + 2] in (b"%s", b"%d"):
                parts.append(current)
                current, i = b"", i + 2
            else:
                current, i = current + fmt[i : i + 1], i + 1
        return (*parts, current)

    _check_native(native, segments)
    cut: dict[bytes, tuple[bytes, ...]] = {}
    python_decided, python_completed = (
        writer.TranscriptWriter.decided,
        writer.TranscriptWriter.completed,
    )

    def decided(self: Any, action: Any, outcome: Any) -> None:
        c, v = outcome.classification, outcome.verdict
        key = (action.kind, c.categories, c.objects, v.decision, v.rule, outcome.allowed)
        tpl = self._rec._templates.get(key)
        if (
            tpl is None
            or self.closed
            or outcome.request_id is not None
            or self._rec.redactor._custom
        ):
            python_decided(self, action, outcome)
            return
        segs = cut.get(tpl.fmt) or cut.setdefault(tpl.fmt, segments(tpl.fmt))
        out = native.statement(
            segs, self._raw, self._hex, self._seq + 1, action.raw, action.text, time.time()
        )
        if out is None:
            python_decided(self, action, outcome)
            return
        line, self._raw, self._hex = out
        self._append(line)
        self._seq += 1

    def completed(self: Any, tag: str, duration_ms: float) -> None:
        tpl = self._rec._templates.get(tag)
        if tpl is None or self.closed:
            python_completed(self, tag, duration_ms)
            return
        segs = cut.get(tpl.fmt) or cut.setdefault(tpl.fmt, segments(tpl.fmt))
        line, self._raw, self._hex = native.result(
            segs, self._raw, self._hex, self._seq + 1, round(duration_ms, 3), time.time()
        )
        self._append(line)
        self._seq += 1

    writer.TranscriptWriter.decided = decided  # type: ignore[method-assign]
    writer.TranscriptWriter.completed = completed  # type: ignore[method-assign]


def main() -> int:
    variant, rest = sys.argv[1].split(".")[0], sys.argv[2:]  # "full.2": a second copy
    if variant == "noresult":  # transcripts without result events (to price them)
        from gateway.postgres import listener

        listener._result_recorder = lambda ctx: None  # type: ignore[assignment]
        variant = "full"
    if variant == "nowrite":  # everything but the transcript's write system call
        from gateway.recording import writer

        writer.TranscriptWriter._write_now = lambda self, data: None  # type: ignore[method-assign]
        variant = "full"
    if variant == "timed":
        _time_recording()
        variant = "full"
    if variant == "native":
        _native(os.path.dirname(os.path.abspath(rest[rest.index("--config") + 1])))
        variant = "full"
    if variant in ("walsim", "walproc", "batched"):
        directory = os.path.dirname(os.path.abspath(rest[rest.index("--config") + 1]))
        if variant == "batched":
            _simulate_batched(directory)
        else:
            _simulate_wal(directory, render=variant == "walproc")
        variant = "full"
    if variant == "timednorecord":
        _time_recording()
        variant = "norecord"
    if variant == "passthrough":
        Checkpoint.check = passthrough  # type: ignore[method-assign,assignment]
    if variant in ("passthrough", "norecord"):
        app.Airlock.open_transcript = lambda self, session: None  # type: ignore[method-assign,assignment,return-value]
    elif variant != "full":
        raise SystemExit(f"unknown variant {variant!r}")
    return cli.main(["serve", *rest])


if __name__ == "__main__":
    sys.exit(main())
