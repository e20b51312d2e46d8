"""Transcripts in object storage, against a real SeaweedFS (never a mock)."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.cli import main
from gateway.config import ObjectStorage, load_config
from gateway.keys import write_audit_key
from gateway.recording import Recorder, RecorderError
from gateway.recording.objectstore import TranscriptObjects
from gateway.recording.spool import Spool
from tests.support.seaweed import SeaweedServer


def storage(seaweed: SeaweedServer, bucket: str, **kw: object) -> ObjectStorage:
    return ObjectStorage(
        bucket=bucket,
        prefix="fleet",
        endpoint=seaweed.endpoint,
        access_key_id="airlock-test",
        secret_access_key="airlock-test-secret",
        allow_http=True,
        retry_max_s=0.5,
        **kw,  # type: ignore[arg-type]
    )


class Node:
    """One gateway node's recorder and spool (its own disk), sharing the key and bucket."""

    def __init__(self, root: Path, key: Ed25519PrivateKey, config: ObjectStorage) -> None:
        self.directory = root / "transcripts"
        self.recorder = Recorder(self.directory, key, node=root.name)
        self.spool = Spool(self.recorder, config, key)


def node_config(tmp: Path, seaweed: SeaweedServer, bucket: str, keys: Path) -> Path:
    """A config file for a node that reads the shared bucket (the CLI's view)."""
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "airlock.toml"
    path.write_text(
        f"""
[gateway]
state_dir = "{tmp / "state"}"
[keys]
audit_key = "{keys / "audit"}"
audit_public = "{keys / "audit.pub"}"
[recording]
storage = "s3://{bucket}/fleet"
[recording.s3]
endpoint = "{seaweed.endpoint}"
allow_http = true
access_key_id_env = "AIRLOCK_TEST_S3_KEY"
secret_access_key_env = "AIRLOCK_TEST_S3_SECRET"
"""
    )
    return path


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Ed25519PrivateKey, Path]:
    d = tmp_path / "keys"
    d.mkdir()
    write_audit_key(d / "audit", d / "audit.pub")
    from gateway.keys import load_audit_key

    return load_audit_key(d / "audit"), d


@pytest.fixture(autouse=True)
def s3_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRLOCK_TEST_S3_KEY", "airlock-test")
    monkeypatch.setenv("AIRLOCK_TEST_S3_SECRET", "airlock-test-secret")


def record(rec: Recorder, sid: str, statements: int = 3) -> None:
    w = rec.open(sid, user="alice", target="db", protocol="postgres")
    for i in range(statements):
        w.write("statement", text=f"select {i}", verdict="allow")
    w.close(reason="client quit")


async def test_closed_transcript_is_uploaded_verified_and_removed_locally(
    seaweed: SeaweedServer,
    tmp_path: Path,
    keys: tuple[Ed25519PrivateKey, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    bucket = seaweed.new_bucket()
    cfg = storage(seaweed, bucket)
    a = Node(tmp_path / "node-a", keys[0], cfg)
    await a.spool.start()
    record(a.recorder, "s-up-1")
    local = a.recorder.directory
    await a.spool.drain()
    await a.spool.aclose()
    assert not any(local.glob("*/*/*/*.jsonl")), "local copy kept after a verified upload"
    data = await TranscriptObjects(cfg).transcript("s-up-1")
    assert data is not None and b'"type":"session_end"' in data

    # Node B: another disk, same bucket. replay and verify find the session there.
    conf = node_config(tmp_path / "node-b", seaweed, bucket, keys[1])
    shutil.rmtree(tmp_path / "node-a")
    await asyncio.to_thread(main, ["verify", "--config", str(conf), "s-up-1", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert out["exit"] == 0 and out["reports"][0]["status"] == "verified"
    code = await asyncio.to_thread(
        main, ["replay", "--config", str(conf), "s-up-1", "--format", "json"]
    )
    assert code == 0
    texts = [json.loads(x).get("text") for x in capsys.readouterr().out.splitlines()]
    assert "select 2" in texts
    code = await asyncio.to_thread(main, ["verify", "--config", str(conf), "--all", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and [r["session"] for r in out["reports"]] == ["s-up-1"]


async def test_spool_full_refuses_new_sessions_and_loses_nothing(
    seaweed: SeaweedServer, tmp_path: Path, keys: tuple[Ed25519PrivateKey, Path]
) -> None:
    bucket = f"later{tmp_path.name[-8:].lower().replace('_', '')}"
    cfg = storage(seaweed, bucket, spool_max_bytes=1)  # the bucket does not exist yet
    a = Node(tmp_path / "node-a", keys[0], cfg)
    await a.spool.start(background=False)
    record(a.recorder, "s-full-1")
    assert await a.spool.run_once() is not None  # the upload fails: no bucket
    with pytest.raises(RecorderError, match="spool full"):
        a.recorder.open("s-full-2", user="bob")
    assert a.spool.spool_bytes > 0
    seaweed.new_bucket(bucket)  # the store comes back: the backlog drains
    await a.spool.drain()
    a.recorder.open("s-full-2", user="bob").close()
    await a.spool.drain()
    await a.spool.aclose()
    assert await TranscriptObjects(cfg).transcript("s-full-1") is not None


async def test_crash_loses_at_most_the_unsent_segment_and_verify_says_so(
    seaweed: SeaweedServer,
    tmp_path: Path,
    keys: tuple[Ed25519PrivateKey, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    bucket = seaweed.new_bucket()
    cfg = storage(seaweed, bucket)
    a = Node(tmp_path / "node-a", keys[0], cfg)
    await a.spool.start()
    w = a.recorder.open("s-long", user="alice")
    for i in range(5):
        w.write("statement", text=f"select {i}", verdict="allow")
    await a.spool.flush_segments(force=True)
    for i in range(5, 8):
        w.write("statement", text=f"select {i}", verdict="allow")
    await a.spool.flush_segments(force=True)
    w.write("statement", text="select unsent", verdict="allow")
    # kill -9 of node A and its disk: the task stops, nothing is closed, the disk is gone.
    assert a.spool._task is not None
    a.spool._task.cancel()
    shutil.rmtree(tmp_path / "node-a")
    conf = node_config(tmp_path / "node-b", seaweed, bucket, keys[1])
    code = await asyncio.to_thread(main, ["verify", "--config", str(conf), "s-long", "--json"])
    out = json.loads(capsys.readouterr().out)
    report = out["reports"][0]
    assert code == 3, out
    assert report["status"] == "unclosed" and report["last_seq"] == 8
    assert any("not yet uploaded" in p["detail"] for p in report["problems"])
    code = await asyncio.to_thread(main, ["verify", "--config", str(conf), "gone", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["reports"][0]["problems"][0]["kind"] == "missing"


async def test_tampered_segment_trailer_is_reported(
    seaweed: SeaweedServer,
    tmp_path: Path,
    keys: tuple[Ed25519PrivateKey, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    bucket = seaweed.new_bucket()
    cfg = storage(seaweed, bucket)
    a = Node(tmp_path / "node-a", keys[0], cfg)
    await a.spool.start()
    w = a.recorder.open("s-seg", user="alice")
    w.write("statement", text="select 1", verdict="allow")
    await a.spool.flush_segments(force=True)
    a.spool._task.cancel() if a.spool._task else None
    objects = TranscriptObjects(cfg)
    key = objects.segment_key("s-seg", 0)
    data = await objects.get(key)
    assert data is not None
    await objects.put(key, data.replace(b'"last_seq":1', b'"last_seq":0'))
    conf = node_config(tmp_path / "node-b", seaweed, bucket, keys[1])
    code = await asyncio.to_thread(main, ["verify", "--config", str(conf), "s-seg", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert "bad-signature" in {p["kind"] for p in out["reports"][0]["problems"]}


def test_storage_config_errors_name_the_key(tmp_path: Path) -> None:
    from gateway.config import ConfigError, parse_config

    cases = [
        ({"storage": "gs://x"}, "recording.storage"),
        ({"storage": "s3://"}, "recording.storage"),
        ({"storage": "s3://b", "s3": {"sse": "rot13"}}, "recording.s3.sse"),
        ({"storage": "s3://b", "s3": {"endpoint": "http://h:1"}}, "recording.s3.endpoint"),
        ({"storage": "s3://b", "s3": {"secret_access_key": "x"}}, "recording.s3.secret_access_key"),
        ({"storage": "s3://b", "s3": {"spool_max_bytes": 0}}, "recording.s3.spool_max_bytes"),
        ({"storage": "s3://b", "s3": {"bogus": 1}}, "recording.s3.bogus"),
        ({"s3": {"region": "x"}}, "recording.s3.region"),
    ]
    for rec, key in cases:
        with pytest.raises(ConfigError) as err:
            parse_config({"recording": rec}, tmp_path / "a.toml")
        assert err.value.key == key, (rec, err.value)
    ok = parse_config(
        {"recording": {"storage": "s3://b/p/", "s3": {"sse": "aws:kms", "sse_kms_key_id": "k"}}},
        tmp_path / "a.toml",
    ).recording.storage
    assert ok is not None and (ok.bucket, ok.prefix, ok.url) == ("b", "p", "s3://b/p")
    assert load_config is not None


async def test_retention_in_the_bucket_is_on_record_so_verify_says_pruned(
    seaweed: SeaweedServer,
    tmp_path: Path,
    keys: tuple[Ed25519PrivateKey, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    import time

    bucket = seaweed.new_bucket()
    cfg = storage(seaweed, bucket)
    a = Node(tmp_path / "node-a", keys[0], cfg)
    a.spool.retention_days = 1
    await a.spool.start(background=False)
    record(a.recorder, "s-old")
    await a.spool.drain()
    objects = TranscriptObjects(cfg)
    assert await objects.transcript("s-old") is not None
    assert await a.spool.prune_bucket(now=time.time() + 2 * 86400) == ["s-old"]
    await a.spool.drain()  # the maintenance transcript (the record) is uploaded too
    assert await objects.transcript("s-old") is None
    conf = node_config(tmp_path / "node-b", seaweed, bucket, keys[1])
    code = await asyncio.to_thread(main, ["verify", "--config", str(conf), "s-old", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["reports"][0]["status"] == "pruned", out
    # Deleted behind the pruner's back: missing.
    record(a.recorder, "s-gone")
    await a.spool.drain()
    await objects.delete(objects.transcript_key("s-gone"))
    code = await asyncio.to_thread(main, ["verify", "--config", str(conf), "s-gone", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["reports"][0]["problems"][0]["kind"] == "missing"
