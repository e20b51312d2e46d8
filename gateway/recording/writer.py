"""Append-only, hash-chained, signed transcripts: one JSON-lines file per session.

``write`` is on every relay's per-statement hot path: it serialises the event once
(canonical JSON is both what is hashed and what is written), hashes it, and hands the line
to the kernel with one ``os.write`` on an ``O_APPEND`` descriptor kept open for the
session, before it returns (record before forward, durability ``os``). With durability
``fsync`` one background task fsyncs every dirty transcript in a batch (group commit), and
``await writer.durable()`` returns once a batch that covers the writer's last event is done.
"""

from __future__ import annotations

import asyncio
import binascii
import codecs
import contextlib
import errno
import hashlib
import os
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.files import private_dirs
from gateway.recording import chain
from gateway.recording.redact import Redactor
from gateway.recording.template import Slot, Template, compile_template

if TYPE_CHECKING:
    from gateway.model import Action, Outcome, Session

#: Opens the transcript of a session that starts (None: the session is not recorded).
TranscriptFactory = Callable[["Session"], "TranscriptWriter | None"]

_SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_RECENT_HEADS = 4096
_TEMPLATES = 4096  # distinct statement/result shapes kept pre-encoded per process
_sha256 = hashlib.sha256
_hexlify = binascii.hexlify
_dumps = orjson.dumps
_now = time.time

_STATEMENT_SLOTS = (
    ("prev", Slot.HEX),
    ("seq", Slot.INT),
    ("sha256", Slot.HEX),
    ("text", Slot.JSON),
    ("ts", Slot.JSON),
)
_RESULT_SLOTS = (
    ("duration_ms", Slot.JSON),
    ("prev", Slot.HEX),
    ("seq", Slot.INT),
    ("ts", Slot.JSON),
)


class RecorderError(Exception):
    """The transcript cannot be written; the message says why. Callers fail closed."""


class Durability(StrEnum):
    OS = "os"  # in the kernel (page cache) before the action is forwarded
    FSYNC = "fsync"  # on stable storage: await writer.durable() before forwarding


def transcript_path(directory: Path, session_id: str, started: float) -> Path:
    """``<dir>/<YYYY>/<MM>/<DD>/<session_id>.jsonl``, dated by session start in UTC, so
    retention and listing can walk days and a directory never grows without bound."""
    t = time.gmtime(started)
    return (
        directory
        / f"{t.tm_year:04d}"
        / f"{t.tm_mon:02d}"
        / f"{t.tm_mday:02d}"
        / (f"{session_id}.jsonl")
    )


def check_session_id(session_id: str) -> None:
    if not _SESSION_ID.fullmatch(session_id):
        raise ValueError(f"session id {session_id!r} is not a safe file name")


def _why(exc: OSError, path: Path) -> RecorderError:
    reason = {
        errno.ENOSPC: "disk full",
        errno.EDQUOT: "disk quota exceeded",
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
        errno.EROFS: "read-only file system",
        errno.EBADF: "transcript file is closed",
        errno.EIO: "I/O error",
    }.get(exc.errno or 0, exc.strerror or str(exc))
    return RecorderError(f"cannot write transcript {path}: {reason}")


#: How many distinct secrets a session's transcript keeps scrubbing later text of.
_SECRETS_KEPT = 32


class TranscriptWriter:
    """The transcript of one session. Created by :meth:`Recorder.open`; not thread-safe
    (one session's relay writes it from its own task)."""

    def __init__(self, recorder: Recorder, session_id: str, path: Path, fd: int) -> None:
        self.session_id = session_id
        self.path = path
        self._rec = recorder
        self._fd = fd
        self.fsync = recorder.durability is Durability.FSYNC  # checked on every event
        self._seq = -1
        genesis = chain.genesis(session_id)
        self._hex = genesis.encode()  # the head hash, as hex bytes (what lines embed)
        self._raw = bytes.fromhex(genesis)
        self.synced_seq = -1
        self.closed = False
        self._echo_hidden = False
        #: Secrets this session's statements and commands carried (longest first): the
        #: server's or the program's reply may quote them where no detector would know
        #: them (``syntax error at or near "..."``), so later text is scrubbed of them.
        self._secrets: tuple[str, ...] = ()
        self._streams: dict[tuple[str, object], int] = {}
        self._decoders: dict[tuple[str, object], codecs.IncrementalDecoder] = {}
        #: Deferred mode (the Postgres relay): lines collect here and reach the kernel in
        #: one write at :meth:`flush`, which the relay calls before it forwards anything.
        self.deferred = False
        self._pending: list[bytes] = []
        self._broken: RecorderError | None = None

    # -- core ---------------------------------------------------------------------------
    @property
    def head(self) -> tuple[int, str]:
        return self._seq, self._hex.decode()

    def write(self, event_type: str, **fields: object) -> str:
        """Append one event and return its hash once the line is in the kernel.

        Field values must be JSON-serialisable and already redacted (the typed helpers
        below redact for you); ``ts`` (epoch seconds) overrides the wall clock. Raises
        RecorderError if the line cannot be written.
        """
        if self.closed:
            raise RecorderError(f"transcript {self.path} is closed")
        if not fields.keys().isdisjoint(chain.RESERVED):
            raise ValueError(f"reserved field in {sorted(fields)}")
        return self._event(event_type, fields)

    def _event(self, event_type: str, fields: dict[str, object]) -> str:
        """The hot path of write(): fields are the caller's own dict, checked already."""
        seq = self._seq + 1
        fields["seq"] = seq
        if fields.get("ts") is None:
            fields["ts"] = time.time()
        fields["type"] = event_type
        fields["prev"] = self._hex.decode()
        body = chain.canonical(fields)
        if event_type == chain.SESSION_END:
            h = _sha256(self._raw)  # == chain.link(prev, body), without fromhex
            h.update(body)
            raw = h.digest()
            digest = raw.hex()
            line = chain.line(
                body, digest, chain.sign(self._rec.signing_key, digest), self._rec.key_id
            )
            self._append(line)
            self._seq, self._raw, self._hex = seq, raw, digest.encode()
            if self.fsync:
                self._rec._dirty[self.session_id] = self
            return digest
        return self._link(seq, body).decode()

    def _link(self, seq: int, body: bytes) -> bytes:
        """Chain, splice and append one canonical body; returns its hash (hex bytes)."""
        h = _sha256(self._raw)
        h.update(body)
        raw = h.digest()
        digest = _hexlify(raw)
        self._append(b'%s,"hash":"%s"}\n' % (body[:-1], digest))
        self._seq, self._raw, self._hex = seq, raw, digest
        if self.fsync:
            self._rec._dirty[self.session_id] = self
        return digest

    def _append(self, data: bytes) -> None:
        if self._broken is not None:
            raise self._broken
        if self.deferred:
            if not self._pending:
                self._rec._deferred[self.session_id] = self
            self._pending.append(data)
            return
        self._write_now(data)

    def defer(self) -> None:
        """Switch to deferred mode: the caller flushes before forwarding (one write per
        batch); lines still held when the session goes quiet are written within 0.1 s."""
        self.deferred = True
        self._rec.start_idle_flusher()

    @property
    def unsynced(self) -> bool:
        """With durability ``fsync``: events written that no fsync covers yet."""
        return self.fsync and self.synced_seq < self._seq

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    def flush(self) -> None:
        """Hand every deferred line to the kernel in one write (record before forward).

        A failure breaks the writer for good: the chain already counts those events, so
        nothing more may be written after a gap; callers end the session (fail closed).
        """
        if not self._pending:
            return
        data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
        self._pending.clear()
        self._rec._deferred.pop(self.session_id, None)
        try:
            self._write_now(data)
        except RecorderError as exc:
            self._broken = exc
            raise

    def _write_now(self, data: bytes) -> None:
        try:
            n = os.write(self._fd, data)
            if n != len(data):
                # A short write on a regular file means the disk filled mid-line; the
                # partial line is what a verifier reports as a truncated tail.
                raise OSError(errno.ENOSPC, "short write")
        except OSError as exc:
            raise _why(exc, self.path) from exc

    async def durable(self) -> None:
        """With durability ``fsync``: wait until this writer's last event is on disk."""
        self.flush()
        if self.fsync and self.synced_seq < self._seq:
            await self._rec._flush_covering(self)

    def close(self, **fields: object) -> tuple[int, str]:
        """Write ``session_end`` (its hash signed with the audit key), close the file and
        return the final head (seq, hash) for the store. Idempotent."""
        if self.closed:
            return self.head
        for (kind, channel), n in self._streams.items():
            if n > self._rec.stream_bytes_limit:
                fields.setdefault("dropped", {})
                dropped = fields["dropped"]
                assert isinstance(dropped, dict)
                dropped[f"{kind}:{channel}"] = n - self._rec.stream_bytes_limit
        try:
            self.deferred = False
            self.flush()
            self.write(chain.SESSION_END, **fields)
        finally:
            self.closed = True
            self._pending.clear()
            self._rec._deferred.pop(self.session_id, None)
            self._rec._closed(self)
        return self.head

    def _remember(self, found: tuple[str, ...]) -> None:
        if found:
            known = dict.fromkeys((*found, *self._secrets))
            self._secrets = tuple(sorted(known, key=len, reverse=True)[:_SECRETS_KEPT])

    def _scrub(self, text: str) -> str:
        """Redact free text, then mask every secret this session's input carried."""
        text = self._rec.redactor.redact_text(text)
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "[REDACTED:echoed]")
        return text

    # -- Postgres helpers ---------------------------------------------------------------
    def statement(
        self,
        raw: bytes,
        text: str,
        *,
        kind: str = "query",
        categories: Iterable[str] = (),
        objects: Sequence[str] = (),
        verdict: str,
        rule: str = "",
        request_id: str | None = None,
        **extra: object,
    ) -> str:
        """Record an action with its verdict, before it is forwarded (invariant 3)."""
        if self.closed:
            raise RecorderError(f"transcript {self.path} is closed")
        if extra and not extra.keys().isdisjoint(chain.RESERVED):
            raise ValueError(f"reserved field in {sorted(extra)}")
        extra["kind"] = kind
        extra["text"], found = self._rec.redactor.redact_sql_found(text)
        self._remember(found)
        extra["sha256"] = hashlib.sha256(raw).hexdigest()
        extra["categories"] = sorted(categories)
        extra["objects"] = self._rec.redactor.redact_all(objects)  # program:PGPASSWORD=...
        extra["verdict"] = verdict
        extra["rule"] = rule
        extra["request_id"] = request_id
        return self._event("statement", extra)

    def decided(self, action: Action, outcome: Outcome) -> None:
        """The checkpoint's statement event (record before forward): :meth:`statement`
        for one decision, with its constant fields pre-encoded per shape (the hot path)."""
        c = outcome.classification
        v = outcome.verdict
        if self.closed or outcome.request_id is not None:
            self._decided_slowly(action, outcome)
            return
        key = (action.kind, c.categories, c.objects, v.decision, v.rule, outcome.allowed)
        rec = self._rec
        tpl = rec._templates.get(key)
        if tpl is None:
            tpl = rec._template(
                key,
                {
                    "type": "statement",
                    "kind": action.kind.value,
                    "categories": sorted(c.categories),
                    "objects": rec.redactor.redact_all(c.objects),
                    "verdict": v.decision.value,
                    "allowed": outcome.allowed,
                    "rule": v.rule,
                    "request_id": None,
                },
                _STATEMENT_SLOTS,
            )
            if tpl is None:  # pragma: no cover - see compile_template
                self._decided_slowly(action, outcome)
                return
        redacted, found = rec.redactor.redact_sql_found(action.text)
        if found:
            self._remember(found)
        try:
            text = _dumps(redacted)
        except TypeError:  # lone surrogates: the standard library's encoder, generic path
            self._decided_slowly(action, outcome)
            return
        seq = self._seq + 1
        sha = _hexlify(_sha256(action.raw).digest())
        self._link(seq, tpl.fmt % (self._hex, seq, sha, text, _dumps(_now())))

    def _decided_slowly(self, action: Action, outcome: Outcome) -> None:
        self.statement(
            action.raw,
            action.text,
            kind=action.kind.value,
            categories=outcome.classification.categories,
            objects=list(outcome.classification.objects),
            verdict=outcome.verdict.decision.value,
            allowed=outcome.allowed,
            rule=outcome.verdict.rule,
            request_id=outcome.request_id,
        )

    def completed(self, tag: str, duration_ms: float) -> None:
        """A ``result`` event for a command that completed (the hot path of :meth:`result`;
        ``rows`` is the count a command tag ends with)."""
        if self.closed:
            raise RecorderError(f"transcript {self.path} is closed")
        rec = self._rec
        tpl = rec._templates.get(tag)
        if tpl is None:
            count = tag.rsplit(" ", 1)[-1]
            rows = int(count) if count.isascii() and count.isdigit() else None  # not "²"
            tpl = rec._template(
                tag,
                {"type": "result", "tag": tag, "rows": rows, "sqlstate": None, "error": None},
                _RESULT_SLOTS,
            )
            if tpl is None:  # pragma: no cover - see compile_template
                self.result(tag=tag, rows=rows, duration_ms=duration_ms)
                return
        seq = self._seq + 1
        self._link(seq, tpl.fmt % (_dumps(round(duration_ms, 3)), self._hex, seq, _dumps(_now())))

    def approval(
        self, request_id: str, state: str, *, by: str = "", reason: str = "", **extra: object
    ) -> str:
        """state: requested | approved | denied | expired | withdrawn."""
        return self.write(
            "approval",
            request_id=request_id,
            state=state,
            by=by,
            reason=self._rec.redactor.redact_text(reason),
            **extra,
        )

    def result(
        self,
        *,
        tag: str = "",
        rows: int | None = None,
        duration_ms: float = 0.0,
        sqlstate: str | None = None,
        error: str | None = None,
        **extra: object,
    ) -> str:
        if self.closed:
            raise RecorderError(f"transcript {self.path} is closed")
        if extra and not extra.keys().isdisjoint(chain.RESERVED):
            raise ValueError(f"reserved field in {sorted(extra)}")
        extra["tag"] = tag
        extra["rows"] = rows
        extra["duration_ms"] = round(duration_ms, 3)
        extra["sqlstate"] = sqlstate
        extra["error"] = None if error is None else self._scrub(error)
        return self._event("result", extra)

    def reason(self, reason: str, **extra: object) -> str:
        """The agent's stated reason for what follows (SET airlock.reason), redacted."""
        return self._event("reason", {"reason": self._rec.redactor.redact_text(reason), **extra})

    def notice(self, message: str, severity: str = "NOTICE", **extra: object) -> str:
        return self.write("notice", severity=severity, message=self._scrub(message), **extra)

    @property
    def samples_rows(self) -> bool:
        """Whether result rows are sampled at all (recording.rows_limit > 0)."""
        return self._rec.rows_limit > 0 and self._rec.rows_bytes_limit > 0

    def row_sampler(
        self, columns: Sequence[str], table: str | Sequence[str | None] | None = None
    ) -> RowSampler:
        """Collect the first N rows / M bytes of one statement's result, redacted."""
        return RowSampler(self, columns, table)

    # -- SSH helpers --------------------------------------------------------------------
    def _text(self, kind: str, channel: object, data: bytes) -> str:
        dec = self._decoders.get((kind, channel))
        if dec is None:
            dec = self._decoders[(kind, channel)] = codecs.getincrementaldecoder("utf-8")("replace")
        return dec.decode(data)

    def term_output(self, data: bytes, channel: object = 0, **extra: object) -> str | None:
        text = self._text("o", channel, data)
        if not text:
            return None
        return self.write("term_output", channel=channel, data=self._scrub(text), **extra)

    def term_input(
        self, data: bytes, echo: bool, channel: object = 0, **extra: object
    ) -> str | None:
        """Keystrokes. While the terminal echo is off (a password prompt) the bytes are
        never recorded: one ``hidden`` marker is written per echo-off run."""
        if not echo:
            self._decoders.pop(("i", channel), None)
            if self._echo_hidden:
                return None
            self._echo_hidden = True
            return self.write("term_input", channel=channel, hidden=True, **extra)
        self._echo_hidden = False
        text = self._text("i", channel, data)
        if not text:
            return None
        return self.write(
            "term_input", channel=channel, data=self._rec.redactor.redact_text(text), **extra
        )

    def resize(self, cols: int, rows: int, channel: object = 0, **extra: object) -> str:
        return self.write("resize", channel=channel, cols=cols, rows=rows, **extra)

    def exec(self, command: str, channel: object = 0, **extra: object) -> str:
        redacted, found = self._rec.redactor.redact_sql_found(command)  # free-text rules too
        self._remember(found)
        return self.write("exec", channel=channel, command=redacted, **extra)

    def output(self, stream: str, data: bytes, channel: object = 0, **extra: object) -> str | None:
        """Exec ``stdout``/``stderr``, bounded to ``stream_bytes_limit`` per channel; the
        overflow is counted and reported once (``truncated``) and in session_end."""
        key = (stream, channel)
        seen = self._streams.get(key, 0)
        limit = self._rec.stream_bytes_limit
        self._streams[key] = seen + len(data)
        if seen >= limit:
            return None
        room = limit - seen
        text = self._text(stream, channel, data[:room])
        truncated = len(data) > room
        if not text and not truncated:
            return None
        return self.write(
            stream,
            channel=channel,
            data=self._scrub(text),
            **({"truncated": True} if truncated else {}),
            **extra,
        )

    def exit(
        self,
        status: int | None = None,
        signal: str | None = None,
        channel: object = 0,
        **extra: object,
    ) -> str:
        return self.write("exit", channel=channel, status=status, signal=signal, **extra)

    def sftp(self, op: str, path: str, nbytes: int | None = None, **extra: object) -> str:
        return self.write(
            "sftp", op=op, path=self._rec.redactor.redact_text(path), bytes=nbytes, **extra
        )


class RowSampler:
    """Bounded, redacted sample of one result set, written as one ``rows`` event."""

    def __init__(
        self,
        writer: TranscriptWriter,
        columns: Sequence[str],
        table: str | Sequence[str | None] | None,
    ) -> None:
        self._w = writer
        self.columns = list(columns)
        self._mask = writer._rec.redactor.column_mask(columns, table)
        self._rows: list[list[object]] = []
        self._bytes = 0
        self.total = 0
        self.full = False

    def add(self, values: Sequence[object]) -> bool:
        """Offer one row (str/int/None, or bytes decoded as UTF-8); returns False once the
        sample is full, so the relay can stop decoding rows for it."""
        self.total += 1
        if self.full:
            return False
        vals = [
            v.decode("utf-8", "replace") if isinstance(v, bytes | bytearray) else v for v in values
        ]
        size = sum(len(v) if isinstance(v, str) else 8 for v in vals)
        rec = self._w._rec
        if len(self._rows) >= rec.rows_limit or self._bytes + size > rec.rows_bytes_limit:
            self.full = True
            return False
        self._bytes += size
        row = rec.redactor.redact_row(self.columns, vals, mask=self._mask)
        if self._w._secrets:
            row = [self._w._scrub(v) if isinstance(v, str) else v for v in row]
        self._rows.append(row)
        return True

    def flush(self, **extra: object) -> str | None:
        """Write the sample (if any row was seen); ``total`` counts every offered row."""
        if not self.total:
            return None
        return self._w.write(
            "rows",
            columns=self.columns,
            rows=self._rows,
            total=self.total,
            truncated=self.full,
            **extra,
        )


class Recorder:
    """Opens transcripts and runs the shared fsync flusher. One per gateway process."""

    def __init__(
        self,
        directory: Path,
        signing_key: Ed25519PrivateKey,
        redactor: Redactor | None = None,
        durability: Durability = Durability.OS,
        rows_limit: int = 100,
        rows_bytes_limit: int = 65536,
        stream_bytes_limit: int = 1 << 20,
        node: str = "",
    ) -> None:
        self.directory = Path(directory)
        self.signing_key = signing_key
        self.key_id = chain.key_id(signing_key.public_key())
        self.redactor = redactor or Redactor()
        self.durability = Durability(durability)
        self.rows_limit = rows_limit
        self.rows_bytes_limit = rows_bytes_limit
        self.stream_bytes_limit = stream_bytes_limit
        self.node = node
        self._open: dict[str, TranscriptWriter] = {}
        self._recent: OrderedDict[str, tuple[int, str]] = OrderedDict()
        self._dirty: dict[str, TranscriptWriter] = {}
        self._dirs: set[Path] = set()
        self._wake: asyncio.Event | None = None
        self._next: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self.fsync_batches = 0
        self.fsyncs = 0
        #: Deferred writers holding lines; flush_idle() writes them out (see flush_every).
        self._deferred: dict[str, TranscriptWriter] = {}
        self._idle_task: asyncio.Task[None] | None = None
        #: Pre-encoded statement and result shapes (see gateway.recording.template).
        self._templates: dict[object, Template] = {}
        #: Hooks for the object-storage spool (gateway.recording.spool): ``admit`` returns
        #: why a new session must be refused (spool full) or None; ``on_closed`` is told
        #: of each transcript once it is closed and signed.
        self.admit: Callable[[], str | None] | None = None
        self.on_closed: Callable[[TranscriptWriter], None] | None = None

    def _template(
        self,
        key: object,
        constants: dict[str, object],
        slots: Sequence[tuple[str, Slot]],
    ) -> Template | None:
        tpl = compile_template(constants, slots)
        if tpl is not None:
            if len(self._templates) >= _TEMPLATES:
                self._templates.clear()
            self._templates[key] = tpl
        return tpl

    def open(
        self, session_id: str, ts: float | None = None, **start_fields: object
    ) -> TranscriptWriter:
        """Create the session's transcript and write ``session_start`` (format ``v``).

        Typical fields: user, groups, agent, client_addr, target, tls, protocol, reason.
        """
        check_session_id(session_id)
        refused = self.admit() if self.admit is not None else None
        if refused is not None:
            raise RecorderError(refused)
        if session_id in self._open:
            raise RecorderError(f"session {session_id} already has an open transcript")
        started = time.time() if ts is None else ts
        path = transcript_path(self.directory, session_id, started)
        try:
            private_dirs(path.parent)  # 0700 at every level, 0600 file: see gateway.files
            fd = os.open(
                path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600
            )
        except OSError as exc:
            raise _why(exc, path) from exc
        writer = TranscriptWriter(self, session_id, path, fd)
        self._open[session_id] = writer
        if self.durability is Durability.FSYNC:
            self._dirs.add(path.parent)
        start_fields.setdefault("node", self.node)
        start_fields.setdefault("audit_key", self.key_id)
        for key in ("reason", "agent"):  # the client chose these words: PGOPTIONS, SetEnv
            value = start_fields.get(key)
            if isinstance(value, str):
                start_fields[key] = self.redactor.redact_text(value)
        try:
            writer.write(
                "session_start",
                ts=started,
                v=chain.FORMAT_VERSION,
                session=session_id,
                **start_fields,
            )
        except BaseException:
            self._closed(writer)
            raise
        return writer

    def head(self, session_id: str) -> tuple[int, str]:
        """Last (seq, hash) of an open or recently closed session; KeyError otherwise."""
        w = self._open.get(session_id)
        return w.head if w is not None else self._recent[session_id]

    def writer(self, session_id: str) -> TranscriptWriter | None:
        return self._open.get(session_id)

    @property
    def open_sessions(self) -> frozenset[str]:
        return frozenset(self._open)

    def _closed(self, w: TranscriptWriter) -> None:
        w.closed = True
        self._open.pop(w.session_id, None)
        self._recent[w.session_id] = w.head
        while len(self._recent) > _RECENT_HEADS:
            self._recent.popitem(last=False)
        if self.on_closed is not None:
            self.on_closed(w)
        if self._dirty.get(w.session_id) is w:
            # The flusher (or aclose) closes the fd after fsyncing it.
            if self._wake is not None and self._task is not None and not self._task.done():
                self._wake.set()
            return
        with contextlib.suppress(OSError):
            os.close(w._fd)

    # -- group commit -------------------------------------------------------------------
    async def _flush_covering(self, writer: TranscriptWriter) -> None:
        if self._task is None or self._task.done():
            loop = asyncio.get_running_loop()
            self._wake = asyncio.Event()
            self._next = loop.create_future()
            self._task = loop.create_task(self._flusher(), name="recorder-fsync")
        assert self._wake is not None and self._next is not None
        fut = self._next
        self._wake.set()
        await asyncio.shield(fut)

    async def _flusher(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            fut, self._next = self._next, loop.create_future()
            batch = [(w, w._seq) for w in self._dirty.values()]
            dirs, self._dirs = self._dirs, set()
            self._dirty = {}
            try:
                await asyncio.to_thread(self._fsync_batch, batch, dirs)
            except RecorderError as exc:
                assert fut is not None
                fut.set_exception(exc)
                fut.exception()  # retrieved: a batch nobody awaits must not warn
            else:
                for w, seq in batch:
                    w.synced_seq = max(w.synced_seq, seq)
                assert fut is not None
                fut.set_result(None)
            for w, _ in batch:
                if w.closed and w.session_id not in self._dirty:
                    with contextlib.suppress(OSError):
                        os.close(w._fd)

    def _fsync_batch(self, batch: list[tuple[TranscriptWriter, int]], dirs: set[Path]) -> None:
        self.fsync_batches += 1
        for w, _ in batch:
            try:
                os.fdatasync(w._fd)
            except OSError as exc:
                raise _why(exc, w.path) from exc
            self.fsyncs += 1
        for d in dirs:  # new files: make their directory entries durable too
            try:
                dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)
            except OSError as exc:
                raise _why(exc, d) from exc

    def flush_idle(self) -> None:
        """Write out lines deferred writers still hold (results after the last statement)."""
        for w in list(self._deferred.values()):
            with contextlib.suppress(RecorderError):  # the writer is broken; its relay ends
                w.flush()

    def start_idle_flusher(self, interval_s: float = 0.1) -> None:
        """Bound how long a deferred line waits in memory when a session goes quiet."""

        async def run() -> None:
            while True:
                await asyncio.sleep(interval_s)
                if self._deferred:
                    self.flush_idle()

        if self._idle_task is None or self._idle_task.done():
            self._idle_task = asyncio.get_running_loop().create_task(run(), name="recorder-idle")

    async def aclose(self, reason: str = "recorder closed") -> None:
        """Close every open transcript (signed session_end), flush, stop the flusher."""
        if self._idle_task is not None:
            self._idle_task.cancel()
        self.flush_idle()
        for w in list(self._open.values()):
            with contextlib.suppress(RecorderError):
                w.close(reason=reason)
        if self._dirty:
            with contextlib.suppress(RecorderError):
                await self._flush_covering(next(iter(self._dirty.values())))
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for w in self._dirty.values():
            with contextlib.suppress(OSError):
                os.close(w._fd)
        self._dirty = {}
