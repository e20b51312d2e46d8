"""Evidence bundles: export, then verify offline with only the public key; every tamper
kind is detected. Real files and the real CLI; no store, no daemon."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.approvals.ledger import Ledger
from gateway.cli import main
from gateway.keys import load_audit_key, write_audit_key
from gateway.recording import Recorder

Members = list[tuple[str, bytes]]


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Two sessions with approval events backed by a ledger; returns (dir, ledger, keys)."""
    keys = tmp_path / "keys"
    keys.mkdir()
    write_audit_key(keys / "audit", keys / "audit.pub")
    key = load_audit_key(keys / "audit")
    rec = Recorder(tmp_path / "t", key)
    lrec = Recorder(tmp_path / "ledger", key)
    ledger = Ledger(lrec, "node-a")
    ledger.open()
    for sid, user in (("s-one", "alice"), ("s-two", "bob")):
        doc = {"id": f"r-{sid}", "session_id": sid, "user": user, "target": "db"}
        w = rec.open(sid, user=user, target="db", protocol="postgres")
        w.write("statement", text="drop table t", verdict="review", request_id=doc["id"])
        ledger.append("requested", doc)
        w.approval(doc["id"], "requested")
        ledger.append("vote", doc, by="carol", channel="web", reason="ok", approve=True)
        ledger.append("approved", doc, by="carol", reason="ok")
        w.approval(doc["id"], "approved", by="carol", reason="ok")
        for i in range(3):
            w.write("result", tag=f"SELECT {i}")
        w.close()
    ledger.close()
    return tmp_path / "t", tmp_path / "ledger", keys


def export(setup: tuple[Path, Path, Path], out: Path, *sel: str) -> int:
    d, ledger, keys = setup
    return main(
        [
            *("export", "--dir", str(d), "--ledger-dir", str(ledger)),
            *("--key", str(keys / "audit"), *sel, "-o", str(out)),
        ]
    )


def verify(bundle: Path, pub: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:  # type: ignore[type-arg]
    capsys.readouterr()
    code = main(["verify", "--bundle", str(bundle), "--public-key", str(pub), "--json"])
    return code, json.loads(capsys.readouterr().out)


def members(bundle: Path) -> Members:
    with tarfile.open(bundle) as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar if m.isfile()]  # type: ignore[union-attr]


def write(bundle: Path, items: Members) -> None:
    with tarfile.open(bundle, "w") as tar:
        for name, data in items:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def kinds(out: dict) -> set[str]:  # type: ignore[type-arg]
    found = {p["kind"] for p in out["problems"]}
    for r in out["reports"] + out["ledgers"]:
        found |= {p["kind"] for p in r["problems"] if p["tamper"]}
    return found


def test_bundle_verifies_on_another_machine(
    setup: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "b.tar"
    assert export(setup, bundle, "--since", "1d", "--user", "alice") == 0
    # "Another machine": only the bundle and a copy of the public key, nothing else.
    other = tmp_path / "auditor"
    other.mkdir()
    (other / "b.tar").write_bytes(bundle.read_bytes())
    (other / "audit.pub").write_bytes((setup[2] / "audit.pub").read_bytes())
    import shutil

    for d in setup:
        shutil.rmtree(d)
    code, out = verify(other / "b.tar", other / "audit.pub", capsys)
    assert code == 0, out
    assert [r["session"] for r in out["reports"]] == ["s-one"]
    assert len(out["ledgers"]) == 1 and out["signed"]


def _flip(data: bytes) -> bytes:
    return data.replace(b"drop table t", b"drop table u")


def _swap(data: bytes) -> bytes:
    lines = data.splitlines(keepends=True)
    lines[3], lines[4] = lines[4], lines[3]
    return b"".join(lines)


def _cut(data: bytes) -> bytes:
    return b"".join(data.splitlines(keepends=True)[:-2])


TAMPERS: dict[str, tuple[Callable[[Members], Members], str]] = {
    "modified": (
        lambda m: [(n, _flip(d) if n.startswith("transcripts/") else d) for n, d in m],
        "modified",
    ),
    "missing": (lambda m: [(n, d) for n, d in m if n != "transcripts/s-two.jsonl"], "missing"),
    "reordered-lines": (
        lambda m: [(n, _swap(d) if n == "transcripts/s-one.jsonl" else d) for n, d in m],
        "reordered",
    ),
    "reordered-parts": (lambda m: m[:3] + list(reversed(m[3:])), "reordered"),
    "truncated": (
        lambda m: [(n, _cut(d) if n == "transcripts/s-one.jsonl" else d) for n, d in m],
        "truncated",
    ),
    "inserted": (lambda m: [*m, ("transcripts/extra.jsonl", b"{}\n")], "inserted"),
    "manifest": (
        lambda m: [(n, d.replace(b"s-two", b"s-2") if n == "manifest.json" else d) for n, d in m],
        "bad-signature",
    ),
    "ledger-entry-removed": (
        lambda m: [
            (n, b"".join(x for x in d.splitlines(True) if b'"approved"' not in x))
            if n.startswith("ledger/")
            else (n, d)
            for n, d in m
        ],
        "deleted",
    ),
}


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_each_tamper_kind_is_detected(
    tamper: str, setup: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "b.tar"
    assert export(setup, bundle, "--session", "s-one", "s-two") == 0
    change, kind = TAMPERS[tamper]
    write(bundle, change(members(bundle)))
    code, out = verify(bundle, setup[2] / "audit.pub", capsys)
    assert code == 1, out
    assert kind in kinds(out), (kind, out)


def test_wrong_public_key_fails(
    setup: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "b.tar"
    assert export(setup, bundle, "--session", "s-one") == 0
    other = tmp_path / "other"
    other.mkdir()
    write_audit_key(other / "k", other / "k.pub")
    code, out = verify(bundle, other / "k.pub", capsys)
    assert code == 1 and "bad-signature" in kinds(out)


def test_transcript_approval_missing_from_ledger_is_reported(
    setup: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A transcript claims an approval the ledger never recorded (a forged transcript
    re-signed with a stolen key would still be caught if the ledger is intact)."""
    d, _, keys = setup
    key: Ed25519PrivateKey = load_audit_key(keys / "audit")
    w = Recorder(d, key).open("s-three", user="eve", target="db")
    w.approval("r-forged", "approved", by="nobody")
    w.close()
    bundle = tmp_path / "b.tar"
    assert export(setup, bundle, "--session", "s-one", "s-three") == 0
    code, out = verify(bundle, keys / "audit.pub", capsys)
    assert code == 1
    probs = [p for r in out["reports"] if r["session"] == "s-three" for p in r["problems"]]
    assert any("r-forged" in p["detail"] for p in probs), out
