"""The audit sinks: a file and syslog (a real UDP socket) get the same JSON line; field
names that would carry a secret are refused."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from gateway import audit
from gateway.config import AuditSettings
from gateway.logs import JsonFormatter
from gateway.recording.redact import Redactor


def test_file_and_syslog_sinks_get_one_json_line(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(10)
        port = receiver.getsockname()[1]
        settings = AuditSettings(
            file=tmp_path / "a" / "audit.jsonl", syslog=f"udp:127.0.0.1:{port}"
        )
        audit.configure(settings, JsonFormatter(Redactor()))
        try:
            audit.emit(audit.Event.LOGIN_FAILED, protocol="ssh", user="mallory",
                       source="192.0.2.7:5555", method="")  # fmt: skip
            datagram = receiver.recv(65536).decode()
        finally:
            audit.configure(AuditSettings(), JsonFormatter(Redactor()))
    [line] = (tmp_path / "a" / "audit.jsonl").read_text().splitlines()
    doc = json.loads(line)
    assert doc["event"] == "login.failed" and doc["audit"] is True
    assert doc["user"] == "mallory" and doc["source"] == "192.0.2.7:5555"
    assert datagram.startswith("<14>airlock: ") and json.loads(datagram.split(": ", 1)[1]) == doc


def test_secret_field_names_are_refused() -> None:
    for name in ("password", "token", "secret"):
        with pytest.raises(ValueError, match="not allowed"):
            audit.emit(audit.Event.LOGIN_OK, **{name: "x"})
