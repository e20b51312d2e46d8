"""The hot-path events (decided, completed) are byte for byte the canonical JSON the generic
path writes, and they chain and verify like every other event."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.model import Action, ActionKind, Decision, Outcome, Verdict
from gateway.recording import Recorder, Redactor, chain, verify_session
from gateway.recording.reader import read_events
from gateway.recording.template import Slot, compile_template
from protocols.classification import Category, Classification

_CATEGORIES = st.frozensets(st.sampled_from(list(Category)), max_size=4)
_TEXT = st.text(max_size=80)  # quotes, backslashes, %, control and non-ASCII characters
_KINDS = st.sampled_from([ActionKind.QUERY, ActionKind.PARSE, ActionKind.EXEC])


def _last(path: Path) -> tuple[bytes, dict[str, object]]:
    line = path.read_bytes().splitlines(keepends=True)[-1]
    parts = chain.split(line)
    assert parts is not None, line
    body = parts[0]
    event = json.loads(body)
    return body, event


def _prev_hash(path: Path) -> str:
    lines = path.read_bytes().splitlines(keepends=True)
    parts = chain.split(lines[-2])
    assert parts is not None
    return parts[1]


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=_TEXT,
    categories=_CATEGORIES,
    objects=st.lists(_TEXT, max_size=3),
    rule=_TEXT,
    allowed=st.booleans(),
    decision=st.sampled_from(list(Decision)),
    kind=_KINDS,
)
def test_decided_is_canonical_and_chained(
    recorder: Recorder,
    text: str,
    categories: frozenset[Category],
    objects: list[str],
    rule: str,
    allowed: bool,
    decision: Decision,
    kind: ActionKind,
) -> None:
    w = recorder.writer("hyp") or recorder.open("hyp")
    raw = text.encode("utf-8", "surrogateescape")
    outcome = Outcome(
        allowed,
        Classification(("X",), categories, tuple(objects)),
        Verdict(decision, rule, "why"),
    )
    w.decided(Action(kind, raw, text), outcome)
    body, event = _last(w.path)
    assert body == chain.canonical(event)  # the same bytes the generic path produces
    assert chain.link(_prev_hash(w.path), body) == w.head[1]
    assert event == {
        "type": "statement",
        "seq": w.head[0],
        "ts": event["ts"],
        "prev": _prev_hash(w.path),
        "kind": kind.value,
        "text": recorder.redactor.redact_sql(text),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "categories": sorted(categories),
        "objects": recorder.redactor.redact_all(objects),  # COPY ... PROGRAM 'PGPASSWORD=...'
        "verdict": decision.value,
        "allowed": allowed,
        "rule": rule,
        "request_id": None,
    }


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tag=st.one_of(_TEXT, st.builds("{} {}".format, _TEXT, st.integers(0, 10**12))),
    duration=st.floats(0, 1e7, allow_nan=False),
)
def test_completed_is_canonical_and_chained(recorder: Recorder, tag: str, duration: float) -> None:
    w = recorder.writer("hyp-r") or recorder.open("hyp-r")
    w.completed(tag, duration)
    body, event = _last(w.path)
    assert body == chain.canonical(event)
    assert chain.link(_prev_hash(w.path), body) == w.head[1]
    count = tag.rsplit(" ", 1)[-1]
    assert event == {
        "type": "result",
        "seq": w.head[0],
        "ts": event["ts"],
        "prev": _prev_hash(w.path),
        "tag": tag,
        "rows": int(count) if count.isascii() and count.isdigit() else None,
        "duration_ms": round(duration, 3),
        "sqlstate": None,
        "error": None,
    }


def test_hot_path_transcript_verifies_and_redacts(
    tmp_path: Path, audit_key: Ed25519PrivateKey
) -> None:
    rec = Recorder(tmp_path / "t", audit_key, Redactor())
    w = rec.open("s1", user="alice")
    read = Outcome(
        True,
        Classification(("SelectStmt",), frozenset({Category.READ}), ("table:t",)),
        Verdict(Decision.ALLOW, "reads", "ok"),
    )
    secret = "ALTER ROLE app PASSWORD 'hunter2-secret'"
    for sql in ("SELECT 1", "SELECT 2", secret, "SELECT '\udcff'"):  # lone surrogate: fallback
        w.decided(Action(ActionKind.QUERY, sql.encode("utf-8", "surrogateescape"), sql), read)
        w.completed("SELECT 1", 0.25)
    head = w.close(reason="done")
    assert b"hunter2" not in w.path.read_bytes()
    events = read_events(w.path)
    assert [e["type"] for e in events] == ["session_start"] + ["statement", "result"] * 4 + [
        "session_end"
    ]
    for a, b in itertools.pairwise(events):
        assert b["prev"] == a["hash"] and b["seq"] == a["seq"] + 1
    assert events[-3]["text"] == "SELECT '\udcff'"
    report = verify_session(w.path, audit_key.public_key(), head)
    assert report.ok and report.signed and report.events == 10, report.problems


def test_held_for_review_takes_the_generic_path(recorder: Recorder) -> None:
    w = recorder.open("review")
    outcome = Outcome(
        False,
        Classification(("DropStmt",), frozenset({Category.DESTRUCTIVE})),
        Verdict(Decision.REVIEW, "drops", "needs a human"),
        request_id="req-1",
    )
    w.decided(Action(ActionKind.QUERY, b"DROP TABLE t", "DROP TABLE t"), outcome)
    body, event = _last(w.path)
    assert body == chain.canonical(event) and event["request_id"] == "req-1"


def test_template_refuses_a_constant_that_contains_a_mark(monkeypatch: pytest.MonkeyPatch) -> None:
    import gateway.recording.template as template

    monkeypatch.setattr(template.secrets, "token_hex", lambda n: "00")
    assert compile_template({"rule": "@00:text@"}, [("text", Slot.JSON)]) is None
    tpl = compile_template({"rule": "100%"}, [("seq", Slot.INT), ("prev", Slot.HEX)])
    assert tpl is not None and tpl.slots == ("prev", "seq")
    assert tpl.fmt % (b"ab", 7) == b'{"prev":"ab","rule":"100%","seq":7}'
