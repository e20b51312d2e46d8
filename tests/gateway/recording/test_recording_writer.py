from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.recording import Durability, Recorder, RecorderError, Redactor, chain, verify_session
from gateway.recording.reader import read_events


def test_chain_links_and_verifies(recorder: Recorder, audit_key: Ed25519PrivateKey) -> None:
    w = recorder.open("s1", user="alice", protocol="postgres", target="db1")
    h1 = w.statement(b"SELECT 1", "SELECT 1", categories=["read"], verdict="allow", rule="r")
    assert recorder.head("s1") == (1, h1)
    w.result(tag="SELECT 1", rows=1, duration_ms=0.5)
    head = w.close(reason="client closed")
    assert recorder.head("s1") == head == (3, w.head[1])
    events = read_events(w.path)
    assert [e["type"] for e in events] == ["session_start", "statement", "result", "session_end"]
    assert events[0]["prev"] == chain.genesis("s1")
    assert events[0]["v"] == 1 and events[0]["audit_key"] == chain.key_id(audit_key.public_key())
    for a, b in itertools.pairwise(events):
        assert b["prev"] == a["hash"]
    assert events[1]["sha256"] == hashlib.sha256(b"SELECT 1").hexdigest()
    rep = verify_session(w.path, audit_key.public_key(), head)
    assert rep.ok and rep.signed and rep.events == 4, rep.problems
    # dated layout
    assert w.path.parent.parent.parent.parent == recorder.directory


def test_write_is_in_the_kernel_before_returning(recorder: Recorder) -> None:
    w = recorder.open("s2")
    w.write("auth", method="scram", outcome="ok")
    # read through another descriptor, with no flush/close in between
    assert json.loads(w.path.read_bytes().splitlines()[-1])["method"] == "scram"


def test_reserved_fields_and_closed_writer(recorder: Recorder) -> None:
    w = recorder.open("s3")
    with pytest.raises(ValueError):
        w.write("x", hash="forged")
    w.close()
    assert w.close() == w.head  # idempotent
    with pytest.raises(RecorderError, match="closed"):
        w.write("x")


def test_disk_full_raises_recorder_error(recorder: Recorder) -> None:
    w = recorder.open("s4")
    full = os.open("/dev/full", os.O_WRONLY)
    os.dup2(full, w._fd)
    os.close(full)
    with pytest.raises(RecorderError, match="disk full"):
        w.statement(b"DROP TABLE t", "DROP TABLE t", verdict="allow")
    assert w.head[0] == 0  # the failed event did not advance the chain


def test_closed_descriptor_raises_recorder_error(recorder: Recorder) -> None:
    w = recorder.open("s5")
    os.close(w._fd)
    with pytest.raises(RecorderError, match="closed"):
        w.write("notice", message="x")


def test_unwritable_directory_raises_on_open(tmp_path: Path, audit_key: Ed25519PrivateKey) -> None:
    (tmp_path / "file").write_text("not a directory")
    rec = Recorder(tmp_path / "file", audit_key)
    with pytest.raises(RecorderError, match="cannot write transcript"):
        rec.open("s6")


def test_bad_session_id_rejected(recorder: Recorder) -> None:
    with pytest.raises(ValueError):
        recorder.open("../etc/passwd")


def test_duplicate_open_rejected(recorder: Recorder) -> None:
    recorder.open("dup")
    with pytest.raises(RecorderError):
        recorder.open("dup")


def test_lone_surrogates_round_trip(recorder: Recorder, audit_key: Ed25519PrivateKey) -> None:
    w = recorder.open("s7")
    text = b"SELECT '\xff'".decode("utf-8", "surrogateescape")
    w.statement(text.encode("utf-8", "surrogateescape"), text, verdict="allow")
    head = w.close()
    assert read_events(w.path)[1]["text"] == text
    assert verify_session(w.path, audit_key.public_key(), head).ok


def test_rows_bounded_and_redacted(recorder: Recorder) -> None:
    w = recorder.open("s8")
    s = w.row_sampler(["id", "ssn", "email", "note"], table="public.users")
    assert s.add([1, "123-45-6789", "a@x.org", "token ghp_" + "a" * 36])
    assert s.add([2, None, b"b@x.org", "fine"])
    assert s.add([3, "x", "c", "d"])
    assert not s.add([4, "x", "c", "d"])  # rows_limit=3
    assert not s.add([5, "x", "c", "d"])
    s.flush(statement=1)
    ev = read_events(w.path)[-1]
    assert ev["type"] == "rows" and ev["total"] == 5 and ev["truncated"] is True
    assert ev["rows"][0] == [
        1,
        "[REDACTED:column]",
        "[REDACTED:column]",
        "token [REDACTED:github-token]",
    ]
    assert ev["rows"][1] == [2, None, "[REDACTED:column]", "fine"]
    assert len(ev["rows"]) == 3


def test_rows_byte_limit(recorder: Recorder) -> None:
    w = recorder.open("s9")
    s = w.row_sampler(["v"])
    assert s.add(["x" * 150])
    assert not s.add(["y" * 100])  # rows_bytes_limit=200
    s.flush()
    assert read_events(w.path)[-1]["rows"] == [["x" * 150]]
    assert w.row_sampler(["v"]).flush() is None  # no rows offered, nothing written


def test_terminal_input_echo_off_never_recorded(recorder: Recorder) -> None:
    w = recorder.open("ssh1", protocol="ssh")
    w.term_output(b"Password: ")
    assert w.term_input(b"hunter2-sekrit", echo=False) is not None
    assert w.term_input(b"\r", echo=False) is None  # one marker per echo-off run
    w.term_input(b"ls\r", echo=True)
    w.term_input("é".encode()[:1], echo=True)  # split UTF-8 sequence buffered
    w.term_input("é".encode()[1:], echo=True)
    w.resize(120, 40)
    w.close()
    raw = w.path.read_bytes()
    assert b"hunter2" not in raw
    inputs = [e for e in read_events(w.path) if e["type"] == "term_input"]
    assert inputs[0] == {**inputs[0], "hidden": True} and "data" not in inputs[0]
    assert [e.get("data") for e in inputs[1:]] == ["ls\r", "é"]


def test_exec_output_bounded(recorder: Recorder) -> None:
    w = recorder.open("ssh2", protocol="ssh")
    w.exec("cat /etc/hosts", channel=1)
    w.output("stdout", b"0123456789", channel=1)
    w.output("stdout", b"abcdefghij", channel=1)  # crosses the 16-byte limit
    assert w.output("stdout", b"more", channel=1) is None
    w.output("stderr", b"err", channel=1)
    w.exit(0, channel=1)
    w.sftp("get", "/srv/x", 10)
    w.close()
    evs = read_events(w.path)
    out = [e for e in evs if e["type"] == "stdout"]
    assert "".join(e["data"] for e in out) == "0123456789abcdef"
    assert out[-1]["truncated"] is True
    assert evs[-1]["dropped"] == {"stdout:1": 8}


async def test_fsync_group_commit(tmp_path: Path, audit_key: Ed25519PrivateKey) -> None:
    rec = Recorder(tmp_path, audit_key, Redactor(), durability=Durability.FSYNC)
    writers = [rec.open(f"g{i}") for i in range(40)]
    assert rec.fsyncs == 0
    for w in writers:
        w.write("statement", text="SELECT 1")
        w.write("statement", text="SELECT 2")
    await asyncio.gather(*(w.durable() for w in writers))
    # one batch covered all forty sessions, one fsync per transcript (not per event)
    assert rec.fsync_batches == 1
    assert rec.fsyncs == 40
    assert all(w.synced_seq == w.head[0] for w in writers)
    await writers[0].durable()  # nothing new: no batch
    assert rec.fsync_batches == 1
    writers[0].write("statement", text="SELECT 3")
    await writers[0].durable()
    assert (rec.fsync_batches, rec.fsyncs) == (2, 41)
    await rec.aclose()
    assert all(w.closed for w in writers)
    assert read_events(writers[5].path)[-1]["type"] == "session_end"


async def test_fsync_durable_is_noop_with_os_durability(recorder: Recorder) -> None:
    w = recorder.open("os1")
    w.write("x")
    await w.durable()
    assert recorder.fsync_batches == 0


async def test_fsync_failure_raises(tmp_path: Path, audit_key: Ed25519PrivateKey) -> None:
    rec = Recorder(tmp_path, audit_key, durability="fsync")  # type: ignore[arg-type]
    w = rec.open("f1")
    w.write("x")
    r, wfd = os.pipe()  # fdatasync on a pipe fails with EINVAL
    os.dup2(r, w._fd)
    os.close(r)
    os.close(wfd)
    with pytest.raises(RecorderError, match="cannot write transcript"):
        await w.durable()
    await rec.aclose()
