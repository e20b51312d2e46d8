"""Structured, redacted logs: planted secrets never reach the stream."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator

import pytest

from gateway.logs import setup_logging

SECRETS = (
    "hunter2-db-pass",  # in a connection URL
    "AKIAIOSFODNN7EXAMPLE",  # AWS access key id
    "ghp_0123456789abcdefghijABCDEFGHIJ012345",  # GitHub token
    "ACME-123456",  # matched only by a configured pattern
)


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _log_everything(log: logging.Logger) -> None:
    log.info("connecting to postgresql://app:%s@db:5432/x", SECRETS[0])
    log.warning("key %s seen", SECRETS[1], extra={"token": SECRETS[2], "session": "s-1"})
    log.info("customer ref %s", SECRETS[3])
    try:
        raise RuntimeError(f"upstream said {SECRETS[2]}")
    except RuntimeError:
        log.exception("relay failed")


def test_json_lines_are_redacted_and_structured() -> None:
    out = io.StringIO()
    setup_logging(False, stream=out, redact_patterns=[r"ACME-[0-9]{6}"])
    _log_everything(logging.getLogger("airlock.test"))
    text = out.getvalue()
    for secret in SECRETS:
        assert secret not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 4
    first, second, _, last = lines
    assert set(first) >= {"ts", "level", "logger", "msg"}
    assert first["level"] == "info" and first["logger"] == "airlock.test"
    assert "postgresql://app:[REDACTED" in first["msg"]
    assert second["session"] == "s-1"  # extra fields travel as fields
    assert second["token"].startswith("[REDACTED")
    assert last["level"] == "error" and "RuntimeError" in last["exc"]


def test_text_on_a_tty_is_redacted() -> None:
    leader, follower = os.openpty()  # a real terminal: the default format is text
    with os.fdopen(follower, "w", buffering=1) as tty:
        setup_logging(True, stream=tty)
        logging.getLogger("airlock.tty").debug(
            "login url postgresql://u:%s@h/db", SECRETS[0], extra={"user": "alice"}
        )
        data = os.read(leader, 65536).decode()
    os.close(leader)
    assert SECRETS[0] not in data
    assert "DEBUG" in data and "airlock.tty" in data and "user=alice" in data
    assert not data.lstrip().startswith("{")


def test_second_setup_replaces_the_handler_and_sets_level() -> None:
    first, second = io.StringIO(), io.StringIO()
    setup_logging(True, json_lines=True, stream=first)
    setup_logging(False, json_lines=True, stream=second)
    log = logging.getLogger("airlock.once")
    log.debug("hidden at INFO")
    log.info("shown once")
    assert first.getvalue() == ""
    assert [json.loads(x)["msg"] for x in second.getvalue().splitlines()] == ["shown once"]
