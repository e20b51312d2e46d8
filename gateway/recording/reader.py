"""Read transcript events back (for replay, listing and export); verification is separate
(``verify.py``) so a reader never silently trusts a file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Event = dict[str, Any]


def read_events(path: Path) -> list[Event]:
    """Every complete event line, in file order; a trailing partial line is skipped."""
    return list(iter_events(path))


def iter_events(path: Path) -> Iterator[Event]:
    with path.open("rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                return
            try:
                ev = json.loads(raw)
            except ValueError:
                continue
            if isinstance(ev, dict):
                yield ev


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """What listing shows, taken from a transcript's first and last events."""

    session_id: str
    path: Path
    protocol: str
    user: str
    target: str
    client_addr: str
    started: float
    ended: float | None
    events: int
    statements: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "session": self.session_id,
            "path": str(self.path),
            "protocol": self.protocol,
            "user": self.user,
            "target": self.target,
            "client_addr": self.client_addr,
            "started": self.started,
            "ended": self.ended,
            "events": self.events,
            "statements": self.statements,
        }


def session_info(path: Path) -> SessionInfo | None:
    """Summary of one transcript, or None if it has no session_start."""
    first: Event | None = None
    last: Event | None = None
    n = statements = 0
    for ev in iter_events(path):
        if first is None:
            first = ev
        last = ev
        n += 1
        statements += ev.get("type") == "statement"
    if first is None or first.get("type") != "session_start":
        return None
    ended = last.get("ts") if last is not None and last.get("type") == "session_end" else None
    return SessionInfo(
        str(first.get("session", path.stem)),
        path,
        str(first.get("protocol", "")),
        str(first.get("user", "")),
        str(first.get("target", "")),
        str(first.get("client_addr", "")),
        float(first.get("ts", 0.0)),
        float(ended) if isinstance(ended, int | float) else None,
        n,
        statements,
    )
