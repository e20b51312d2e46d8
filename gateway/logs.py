"""Logging setup: JSON lines for journald/collectors, text on a terminal; always redacted.

Every message, exception text and extra field passes through the transcript Redactor
before it is written (invariant 5: secrets never reach a log line).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from gateway.recording.redact import Redactor

#: Attributes every LogRecord has; anything else was passed with ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}
#: Chatty libraries kept at WARNING unless verbose.
_NOISY = ("asyncssh", "aiohttp.access", "asyncio")


def _scrub(value: Any, redactor: Redactor) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple):  # audit fields: lists stay JSON arrays
        return [_scrub(v, redactor) for v in value]
    return redactor.redact_text(value if isinstance(value, str) else str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, then extra fields, then exc."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": self.redactor.redact_text(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key not in out:
                out[key] = _scrub(value, self.redactor)
        if record.exc_info:
            out["exc"] = self.redactor.redact_text(self.formatException(record.exc_info))
        if record.stack_info:
            out["stack"] = self.redactor.redact_text(record.stack_info)
        return json.dumps(out, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Human text for a terminal; extras appended as key=value; the whole line redacted."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = [
            f"{k}={v}"
            for k, v in vars(record).items()
            if k not in _STANDARD and not k.startswith("_")
        ]
        if extras:
            first, nl, rest = line.partition("\n")  # keep extras on the message's line
            line = f"{first}  {' '.join(extras)}{nl}{rest}"
        return self.redactor.redact_text(line)


class _AirlockHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler this module installed so a second setup replaces it."""


def setup_logging(
    verbose: bool,
    json_lines: bool | None = None,
    *,
    stream: TextIO | None = None,
    redact_patterns: Sequence[str] = (),
) -> logging.Handler:
    """Configure the root logger. ``json_lines=None``: JSON unless ``stream`` is a TTY.

    ``redact_patterns`` are the config's extra ``recording.redact_patterns``; call again
    after loading the config to apply them (the handler is replaced, not duplicated).
    """
    stream = stream if stream is not None else sys.stderr
    if json_lines is None:
        isatty = getattr(stream, "isatty", None)
        json_lines = not (isatty is not None and isatty())
    redactor = Redactor(redact_patterns)
    handler = _AirlockHandler(stream)
    handler.setFormatter(JsonFormatter(redactor) if json_lines else TextFormatter(redactor))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _AirlockHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.WARNING)
    logging.captureWarnings(True)
    return handler
