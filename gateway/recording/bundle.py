"""Evidence bundles: a tar an auditor checks offline with nothing but the public key.

Layout (``format`` 1)::

    manifest.json       what is in the bundle, and each part's SHA-256, size, head
    manifest.sig        base64 Ed25519 signature (audit key) of
                        SHA-256("airlock-bundle-v1:" || manifest.json bytes)
    audit_key.pub       the exporter's public key (informational: the auditor's own copy
                        of the key is what counts)
    transcripts/S.jsonl each session's transcript, byte for byte
    ledger/L.jsonl      the approvals ledgers that hold the sessions' requests, whole (a
                        ledger is a transcript-format chain: a subset would not verify)

:func:`verify_bundle` reads the tar in memory (nothing is extracted) and reports each part:
``missing`` (in the manifest, not in the tar), ``inserted`` (in the tar, not in the
manifest), ``modified`` (bytes differ from the manifest's hash), ``reordered`` /
``truncated`` / ``deleted`` (from the transcript verifier, which is given the manifest's
head for each transcript), ``bad-signature`` (manifest or transcript signature). A manifest
whose signature verifies is what makes a *whole* part removed with its entry detectable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import tarfile
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gateway.recording import chain
from gateway.recording.verify import Problem, VerifyReport, verify_session

BUNDLE_FORMAT = 1
BUNDLE_DOMAIN = b"airlock-bundle-v1:"
MANIFEST, SIGNATURE, PUBLIC_KEY = ("manifest.json", "manifest.sig", "audit_key.pub")
_MAX_MEMBER = 1 << 31


def manifest_digest(manifest: bytes) -> str:
    return hashlib.sha256(BUNDLE_DOMAIN + manifest).hexdigest()


def _head(data: bytes) -> tuple[int, str, bool]:
    """(last seq, last hash, has session_end) of a transcript's last complete line."""
    for raw in reversed(data.splitlines(keepends=True)):
        parts = chain.split(raw)
        ev = chain.event_of(parts[0]) if parts else None
        if parts is not None and ev is not None and isinstance(ev.get("seq"), int):
            seq = ev["seq"]
            assert isinstance(seq, int)
            return seq, parts[1], ev.get("type") == chain.SESSION_END
    return -1, "", False


def _part(name: str, data: bytes, **extra: object) -> dict[str, object]:
    return {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), **extra}


def build_bundle(
    out: Path,
    transcripts: Mapping[str, bytes],
    signing_key: Ed25519PrivateKey,
    *,
    ledgers: Mapping[str, bytes] | None = None,
    selection: Mapping[str, object] | None = None,
    notes: Iterable[str] = (),
) -> dict[str, object]:
    """Write the bundle; returns its manifest. ``transcripts`` in the order to list them."""
    public = signing_key.public_key()
    parts: list[dict[str, object]] = []
    files: list[tuple[str, bytes]] = []
    for kind, folder, items in (
        ("transcript", "transcripts", transcripts),
        ("ledger", "ledger", ledgers or {}),
    ):
        for sid, data in items.items():
            seq, digest, ended = _head(data)
            name = f"{folder}/{sid}.jsonl"
            parts.append(_part(name, data, kind=kind, session=sid, head=[seq, digest], ended=ended))
            files.append((name, data))
    manifest = {
        "format": BUNDLE_FORMAT,
        "created": time.time(),
        "key": chain.key_id(public),
        "selection": dict(selection or {}),
        "notes": list(notes),
        "parts": parts,
    }
    body = json.dumps(manifest, indent=1, sort_keys=True).encode() + b"\n"
    sig = chain.sign(signing_key, manifest_digest(body)).encode() + b"\n"
    pem = public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    with tarfile.open(out, "w") as tar:
        for name, data in [(MANIFEST, body), (SIGNATURE, sig), (PUBLIC_KEY, pem), *files]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = int(manifest["created"])  # type: ignore[call-overload]
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(data))
    return manifest


@dataclass(slots=True)
class BundleReport:
    problems: list[Problem] = field(default_factory=list)
    reports: list[VerifyReport] = field(default_factory=list)
    ledgers: list[VerifyReport] = field(default_factory=list)
    manifest: dict[str, object] = field(default_factory=dict)
    signed: bool = False

    @property
    def tampered(self) -> bool:
        return any(p.tamper for p in self.problems) or any(
            r.tampered for r in (*self.reports, *self.ledgers)
        )

    @property
    def unclosed(self) -> bool:
        return any(r.status == "unclosed" for r in self.reports)

    def to_json(self) -> dict[str, object]:
        return {
            "signed": self.signed,
            "tampered": self.tampered,
            "problems": [
                {"kind": p.kind, "seq": p.seq, "detail": p.detail, "tamper": p.tamper}
                for p in self.problems
            ],
            "reports": [r.to_json() for r in self.reports],
            "ledgers": [r.to_json() for r in self.ledgers],
        }


def _read(path: Path) -> tuple[list[str], dict[str, bytes], list[Problem]]:
    names: list[str] = []
    members: dict[str, bytes] = {}
    problems: list[Problem] = []
    with tarfile.open(path, "r:*") as tar:
        for info in tar:
            if not info.isfile() or info.size > _MAX_MEMBER:
                problems.append(Problem("inserted", None, f"{info.name}: not a regular file"))
                continue
            fh = tar.extractfile(info)
            if fh is None:
                continue
            if info.name in members:
                problems.append(Problem("inserted", None, f"{info.name} appears twice"))
                continue
            names.append(info.name)
            members[info.name] = fh.read()
    return names, members, problems


def _check_manifest_signature(
    body: bytes, sig: bytes | None, public_key: Ed25519PublicKey
) -> Problem | None:
    if sig is None:
        return Problem("missing", None, f"{SIGNATURE} is missing: the manifest is not signed")
    try:
        raw = base64.b64decode(sig.strip(), validate=True)
        public_key.verify(raw, bytes.fromhex(manifest_digest(body)))
    except (InvalidSignature, binascii.Error, ValueError):
        return Problem("bad-signature", None, f"{SIGNATURE} does not verify with the given key")
    return None


def verify_bundle(path: Path, public_key: Ed25519PublicKey) -> BundleReport:
    """Check a bundle offline; see the module docstring for the kinds reported."""
    report = BundleReport()
    try:
        names, members, problems = _read(path)
    except (tarfile.TarError, OSError, EOFError) as exc:
        report.problems.append(Problem("truncated", None, f"cannot read the bundle: {exc}"))
        return report
    report.problems.extend(problems)
    body = members.get(MANIFEST)
    if body is None:
        report.problems.append(Problem("missing", None, f"{MANIFEST} is missing"))
        return report
    bad = _check_manifest_signature(body, members.get(SIGNATURE), public_key)
    if bad is not None:
        report.problems.append(bad)
    else:
        report.signed = True
    try:
        manifest = json.loads(body)
        parts = manifest["parts"]
        assert isinstance(parts, list) and all(isinstance(p, dict) for p in parts)
    except (ValueError, KeyError, TypeError, AssertionError):
        report.problems.append(Problem("modified", None, f"{MANIFEST} is not a bundle manifest"))
        return report
    report.manifest = manifest
    if manifest.get("key") != chain.key_id(public_key):
        report.problems.append(
            Problem("bad-signature", None, "the bundle was exported for another audit key")
        )
    listed = [str(p.get("name")) for p in parts]
    extra = [n for n in names if n not in listed and n not in (MANIFEST, SIGNATURE, PUBLIC_KEY)]
    for name in extra:
        report.problems.append(Problem("inserted", None, f"{name} is not in the manifest"))
    present = [n for n in names if n in listed]
    if present != [n for n in listed if n in members]:
        report.problems.append(
            Problem("reordered", None, "the bundle's parts are not in the manifest's order")
        )
    with tempfile.TemporaryDirectory(prefix="airlock-bundle-") as tmp:
        files: dict[str, Path] = {}
        for part in parts:
            _check_part(report, part, members, Path(tmp), public_key, files)
        from gateway.approvals.ledger import cross_check

        report.reports = cross_check(files, report.reports, public_key)
    return report


def _check_part(
    report: BundleReport,
    part: Mapping[str, object],
    members: Mapping[str, bytes],
    tmp: Path,
    public_key: Ed25519PublicKey,
    files: dict[str, Path],
) -> None:
    name = str(part.get("name"))
    data = members.get(name)
    if data is None:
        report.problems.append(Problem("missing", None, f"{name} is listed but not in the bundle"))
        return
    if hashlib.sha256(data).hexdigest() != part.get("sha256"):
        size = part.get("bytes")
        kind = "truncated" if isinstance(size, int) and len(data) < size else "modified"
        report.problems.append(Problem(kind, None, f"{name}: SHA-256 differs from the manifest"))
    if part.get("kind") in ("transcript", "ledger"):
        sid = str(part.get("session"))
        head = part.get("head")
        expected = None
        if isinstance(head, list) and len(head) == 2 and isinstance(head[0], int):
            expected = (head[0], str(head[1]))
        file = tmp / f"{len(files)}.jsonl"  # not named by the (untrusted) manifest
        file.write_bytes(data)
        files[sid] = file
        r = verify_session(
            file, public_key, expected, session_id=sid, closed=part.get("ended") is True
        )
        r.path = Path(name)
        (report.reports if part.get("kind") == "transcript" else report.ledgers).append(r)
