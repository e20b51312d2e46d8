from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.recording import Recorder, RecorderError, Redactor


@pytest.fixture(scope="session")
def audit_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def recorder(tmp_path: Path, audit_key: Ed25519PrivateKey) -> Iterator[Recorder]:
    rec = Recorder(
        tmp_path / "t",
        audit_key,
        Redactor(
            patterns=[r"ACME-[0-9]{6}", r"pin:(?P<s>\d{8})"],
            sensitive_columns=["ssn", "users.email"],
        ),
        rows_limit=3,
        rows_bytes_limit=200,
        stream_bytes_limit=16,
    )
    yield rec
    for sid in list(rec.open_sessions):
        w = rec.writer(sid)
        assert w is not None
        with contextlib.suppress(RecorderError):
            w.close(reason="test end")
