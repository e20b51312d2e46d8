"""Check transcripts: hash chain, sequence, signature, and the store's head hash.

Each problem is reported with the kind an auditor cares about: ``modified`` (a line's
bytes no longer match its hash, or its link to the previous event is broken), ``deleted``
(a gap in the sequence), ``inserted`` (a duplicate sequence number, or events after
session_end), ``reordered`` (sequence numbers out of order), ``truncated`` (the file ends
before the store's head, in a partial line, or with no session_end for a session that is
not live), ``bad-signature``, ``missing`` (no file for a session the store knows).

A gateway crash (``kill -9``, power loss) leaves a transcript without ``session_end``,
possibly ending in a partial line, whose every event still verifies. That is reported as
``truncated`` with ``tamper=False`` and the report's status is ``unclosed`` — unless the
store recorded the session's end (its head), in which case the missing tail is tampering.
A session whose file the pruner deleted (recorded in a ``prune-*`` maintenance transcript,
see ``pruner.py``) has status ``pruned``, not ``missing``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.recording import chain

_HEX64 = re.compile(r"[0-9a-f]{64}")
TAMPER_KINDS = (
    "modified",
    "deleted",
    "inserted",
    "reordered",
    "truncated",
    "bad-signature",
    "missing",
)


#: Report statuses, from best to worst; ``verified``/``live``/``pruned`` have no problems.
STATUSES = ("verified", "live", "pruned", "unclosed", "tampered")
MAINTENANCE_PREFIX = "prune-"  # session ids of the pruner's own transcripts


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str
    seq: int | None
    detail: str
    tamper: bool = True  # False: what a crash leaves (cut short, every event intact)


@dataclass(slots=True)
class VerifyReport:
    session_id: str
    path: Path | None
    events: int = 0
    last_seq: int = -1
    last_hash: str = ""
    signed: bool = False  # session_end present with a valid signature
    problems: list[Problem] = field(default_factory=list)
    live: bool = False  # still open, by the caller's word: no session_end expected
    pruned: bool = False  # deleted by the pruner, which recorded it

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def tampered(self) -> bool:
        return any(p.tamper for p in self.problems)

    @property
    def status(self) -> str:
        """``verified`` (complete and signed), ``live`` (open; every event so far
        verifies), ``pruned``, ``unclosed`` (cut short by a crash: every event present
        verifies, no session_end), or ``tampered``."""
        if self.tampered:
            return "tampered"
        if self.problems:
            return "unclosed"
        if self.pruned:
            return "pruned"
        return "verified" if self.signed else "live"

    @property
    def intact_prefix(self) -> bool:
        """True when every event present verifies and only the end is missing (what a
        crash of the gateway leaves behind)."""
        return all(p.kind == "truncated" for p in self.problems)

    def add(self, kind: str, seq: int | None, detail: str, tamper: bool = True) -> None:
        self.problems.append(Problem(kind, seq, detail, tamper))

    def to_json(self) -> dict[str, object]:
        return {
            "session": self.session_id,
            "path": str(self.path) if self.path else None,
            "ok": self.ok,
            "status": self.status,
            "events": self.events,
            "last_seq": self.last_seq,
            "last_hash": self.last_hash,
            "signed": self.signed,
            "problems": [
                {"kind": p.kind, "seq": p.seq, "detail": p.detail, "tamper": p.tamper}
                for p in self.problems
            ],
        }


@dataclass(slots=True)
class _Line:
    no: int
    seq: int | None
    prev: str
    hash: str
    type: str
    event: Mapping[str, object] | None
    signature: str = ""
    key: str = ""
    valid: bool = False  # the line's own hash matches its bytes


def _lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    start = 0
    no = 1
    while start < len(data):
        end = data.find(b"\n", start)
        if end < 0:
            yield no, data[start:]
            return
        yield no, data[start : end + 1]
        start = end + 1
        no += 1


def _parse(no: int, raw: bytes) -> _Line:
    parts = chain.split(raw)
    if parts is None:
        ev = chain.event_of(raw)
        seq = ev.get("seq") if ev else None
        return _Line(no, seq if isinstance(seq, int) else None, "", "", "", ev)
    body, digest, sig, kid = parts
    ev = chain.event_of(body)
    seq = ev.get("seq") if ev else None
    prev = ev.get("prev") if ev else None
    typ = ev.get("type") if ev else None
    ok = (
        isinstance(prev, str)
        and _HEX64.fullmatch(prev) is not None
        and chain.link(prev, body) == digest
    )
    return _Line(
        no,
        seq if isinstance(seq, int) else None,
        prev if isinstance(prev, str) else "",
        digest,
        typ if isinstance(typ, str) else "",
        ev,
        sig,
        kid,
        ok,
    )


def verify_session(
    path: Path | None,
    public_key: Ed25519PublicKey,
    expected_head: tuple[int, str] | None = None,
    *,
    session_id: str | None = None,
    live: bool = False,
    closed: bool = False,
) -> VerifyReport:
    """Verify one transcript. ``expected_head`` is the store's (seq, hash) for the session
    (an empty hash means the store has none yet); ``live`` says the session is still open
    (so no session_end is expected yet); ``closed`` says the store recorded its end, so a
    missing end is tampering rather than a crash."""
    sid = session_id or (path.name.removesuffix(".jsonl") if path else "")
    report = VerifyReport(sid, path, live=live)
    if expected_head is not None and not expected_head[1]:
        expected_head = None
    if path is None or not path.is_file():
        report.add("missing", None, f"no transcript file for session {sid}")
        return report
    data = path.read_bytes()
    lines = [_parse(no, raw) for no, raw in _lines(data)]
    seqs_later: dict[int, int] = {}
    for ln in lines:
        if ln.seq is not None:
            seqs_later[ln.seq] = seqs_later.get(ln.seq, 0) + 1
    seen: set[int] = set()
    by_seq: dict[int, str] = {}
    expected, prev = 0, chain.genesis(sid)
    ended: _Line | None = None
    for i, ln in enumerate(lines):
        last_line = i == len(lines) - 1
        if ln.seq is None or not ln.hash:
            if last_line and not data.endswith(b"\n"):
                report.add(
                    "truncated",
                    None,
                    f"line {ln.no} is a partial line (a crash mid-write, or cut)",
                    tamper=closed,
                )
            else:
                report.add("modified", ln.seq, f"line {ln.no} is not a transcript event")
            continue
        seqs_later[ln.seq] -= 1
        if not ln.valid:
            report.add("modified", ln.seq, f"line {ln.no}: content does not match its hash")
        if ended is not None:
            report.add("inserted", ln.seq, f"line {ln.no} comes after session_end")
        if ln.seq in seen:
            report.add("inserted", ln.seq, f"line {ln.no} repeats sequence number {ln.seq}")
            continue
        seen.add(ln.seq)
        if ln.seq == expected:
            if ln.valid and ln.prev != prev:
                report.add("modified", ln.seq, f"line {ln.no} does not link to event {ln.seq - 1}")
        elif ln.seq > expected:
            if any(seqs_later.get(s, 0) > 0 for s in range(expected, ln.seq)):
                report.add("reordered", ln.seq, f"line {ln.no}: event {ln.seq} before {expected}")
            else:
                gone = f"{expected}" if ln.seq == expected + 1 else f"{expected}..{ln.seq - 1}"
                report.add("deleted", expected, f"event(s) {gone} missing before line {ln.no}")
        else:
            report.add("reordered", ln.seq, f"line {ln.no}: event {ln.seq} after {expected - 1}")
            continue
        by_seq[ln.seq] = ln.hash
        expected, prev = ln.seq + 1, ln.hash
        report.events += 1
        report.last_seq, report.last_hash = ln.seq, ln.hash
        if ln.type == chain.SESSION_END:
            ended = ln
    if lines and lines[0].event is not None and lines[0].seq == 0:
        first = lines[0].event
        if first.get("session") != sid:
            report.add("modified", 0, f"session_start names session {first.get('session')!r}")
    if ended is not None:
        _check_signature(report, ended, public_key)
    elif not live:
        why = (
            "no session_end, but the store recorded the session's end: tail removed"
            if closed
            else "no session_end: the gateway stopped without closing it (crash), or it is "
            "still open; every event present verifies"
        )
        report.add("truncated", report.last_seq + 1, why, tamper=closed)
    if expected_head is not None:
        head_seq, head_hash = expected_head
        if head_seq > report.last_seq:
            report.add(
                "truncated",
                report.last_seq + 1,
                f"store head is event {head_seq}, file ends at {report.last_seq}",
            )
        elif by_seq.get(head_seq) != head_hash:
            report.add("modified", head_seq, f"event {head_seq} differs from the store's head hash")
    return report


def _check_signature(report: VerifyReport, end: _Line, public_key: Ed25519PublicKey) -> None:
    if end.key != chain.key_id(public_key):
        report.add("bad-signature", end.seq, f"signed by key {end.key[:16]}…, not the given key")
        return
    try:
        signature = base64.b64decode(end.signature, validate=True)
        public_key.verify(signature, bytes.fromhex(end.hash))
    except (InvalidSignature, binascii.Error, ValueError):
        report.add("bad-signature", end.seq, "session_end signature does not verify")
        return
    if base64.b64encode(signature).decode() != end.signature:
        # The last character before "==" carries 4 unused bits: 15 other spellings decode to
        # the same signature. The signature sits outside the hashed body, so only this
        # check makes a change to those bits visible.
        report.add("bad-signature", end.seq, "session_end signature is not canonical base64")
        return
    report.signed = True


def find_transcript(directory: Path, session_id: str) -> Path | None:
    """The transcript of ``session_id`` under the dated tree (or flat), if any."""
    for candidate in (
        directory / f"{session_id}.jsonl",
        *directory.glob(f"*/*/*/{session_id}.jsonl"),
    ):
        if candidate.is_file():
            return candidate
    return None


def transcripts(directory: Path) -> dict[str, Path]:
    """Every transcript under ``directory``, by session id."""
    found = {p.name.removesuffix(".jsonl"): p for p in directory.glob("*/*/*/*.jsonl")}
    found.update({p.name.removesuffix(".jsonl"): p for p in directory.glob("*.jsonl")})
    return found


def verify_all(
    directory: Path,
    public_key: Ed25519PublicKey,
    heads: Mapping[str, tuple[int, str]],
    live: Collection[str] = (),
    *,
    closed: Collection[str] = (),
    pruned: Mapping[str, tuple[int, str]] | None = None,
) -> list[VerifyReport]:
    """Verify every transcript on disk and report each session the store knows whose
    file is gone. ``closed``: sessions whose end the store recorded. ``pruned``: sessions
    the pruner recorded deleting (session -> head at deletion), by default read from the
    maintenance transcripts under ``directory`` that verify. Sorted by session id."""
    files = transcripts(directory)
    if pruned is None:
        pruned = pruned_sessions(directory, public_key, files)
    reports = []
    for sid in sorted(set(files) | set(heads)):
        path = files.get(sid)
        if path is None and sid in pruned:
            report = VerifyReport(sid, None, pruned=True)
            report.last_seq, report.last_hash = pruned[sid]
            head = heads.get(sid)
            if head is not None and head[1] and head != pruned[sid]:
                report.add(
                    "modified",
                    head[0],
                    f"store head {head[0]} differs from the head recorded when it was pruned",
                )
            reports.append(report)
            continue
        reports.append(
            verify_session(
                path,
                public_key,
                heads.get(sid),
                session_id=sid,
                live=sid in live,
                closed=sid in closed,
            )
        )
    return reports


def pruned_sessions(
    directory: Path, public_key: Ed25519PublicKey, files: Mapping[str, Path] | None = None
) -> dict[str, tuple[int, str]]:
    """Sessions the pruner recorded deleting: ``prune`` events of maintenance transcripts
    (``prune-*``) that are not tampered with (a crash-cut one still counts: the pruner
    records each file before deleting it). Session -> (seq, hash) of its last event."""
    found: dict[str, tuple[int, str]] = {}
    for sid, path in sorted((files or transcripts(directory)).items()):
        if not sid.startswith(MAINTENANCE_PREFIX):
            continue
        if verify_session(path, public_key, session_id=sid).tampered:
            continue
        for _, raw in _lines(path.read_bytes()):
            parts = chain.split(raw)
            ev = chain.event_of(parts[0]) if parts else None
            if ev is None or ev.get("type") != "prune":
                continue
            target, seq, digest = ev.get("session"), ev.get("head_seq"), ev.get("head_hash")
            if isinstance(target, str) and isinstance(seq, int) and isinstance(digest, str):
                found[target] = (seq, digest)
    return found
