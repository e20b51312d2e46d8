"""asciicast v2 (asciinema's recording format): a JSON header line, then one JSON array per
event ``[seconds_since_start, code, data]`` with code ``o`` (output), ``i`` (input), ``r``
(resize, data ``"COLSxROWS"``) or ``m`` (marker). Pure: text in, values out.

Written by hand because it is ten lines of JSON and the asciinema package is an
application, not a library.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

VERSION = 2
CODES = frozenset({"o", "i", "r", "m"})


class AsciicastError(ValueError):
    """The text is not asciicast v2."""


@dataclass(frozen=True, slots=True)
class Header:
    width: int = 80
    height: int = 24
    timestamp: int | None = None
    duration: float | None = None
    idle_time_limit: float | None = None
    command: str | None = None
    title: str | None = None
    env: tuple[tuple[str, str], ...] = field(default=())

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"version": VERSION, "width": self.width, "height": self.height}
        for key in ("timestamp", "duration", "idle_time_limit", "command", "title"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.env:
            out["env"] = dict(self.env)
        return out


@dataclass(frozen=True, slots=True)
class Event:
    time: float
    code: str
    data: str


def encode(header: Header, events: Iterable[Event]) -> str:
    """The whole cast as text (newline-terminated lines)."""
    lines = [json.dumps(header.to_json(), ensure_ascii=False)]
    last = 0.0
    for ev in events:
        if ev.code not in CODES:
            raise AsciicastError(f"unknown event code {ev.code!r}")
        last = max(last, ev.time)  # players require non-decreasing times
        lines.append(json.dumps([round(last, 6), ev.code, ev.data], ensure_ascii=False))
    return "\n".join(lines) + "\n"


def decode(text: str) -> tuple[Header, list[Event]]:
    """Parse a cast; raises AsciicastError naming the bad line."""
    rows = [ln for ln in text.split("\n") if ln.strip()]  # not splitlines: U+2028 is data
    if not rows:
        raise AsciicastError("empty cast")
    try:
        head = json.loads(rows[0])
    except ValueError as exc:
        raise AsciicastError(f"line 1: {exc}") from exc
    if not isinstance(head, dict) or head.get("version") != VERSION:
        raise AsciicastError("line 1: not an asciicast v2 header")
    width, height = head.get("width"), head.get("height")
    if not isinstance(width, int) or not isinstance(height, int):
        raise AsciicastError("line 1: width and height must be integers")
    env = head.get("env") or {}
    header = Header(
        width,
        height,
        head.get("timestamp"),
        head.get("duration"),
        head.get("idle_time_limit"),
        head.get("command"),
        head.get("title"),
        tuple(sorted((str(k), str(v)) for k, v in env.items())) if isinstance(env, dict) else (),
    )
    events = []
    for no, row in enumerate(rows[1:], start=2):
        try:
            item = json.loads(row)
        except ValueError as exc:
            raise AsciicastError(f"line {no}: {exc}") from exc
        if (
            not isinstance(item, list)
            or len(item) != 3
            or not isinstance(item[0], int | float)
            or item[1] not in CODES
            or not isinstance(item[2], str)
        ):
            raise AsciicastError(f"line {no}: not an event [time, code, data]")
        events.append(Event(float(item[0]), item[1], item[2]))
    return header, events
