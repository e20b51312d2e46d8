"""Turn transcript events into something a human watches: a timed text transcript
(Postgres, and SSH exec/SFTP), a terminal playback with the original timing (SSH shells),
or an asciicast v2 file for ``asciinema play``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TextIO

from gateway.recording.reader import Event
from protocols import asciicast

_TERMINAL = ("term_output", "term_input", "resize")


def _clock(ev: Event, t0: float) -> str:
    return f"[+{float(ev.get('ts', t0)) - t0:9.3f}s]"


def _line(ev: Event) -> str | None:
    """One event as one human line, or None for terminal bytes (played, not listed)."""
    typ = ev.get("type")
    if typ == "session_start":
        tls = " tls" if ev.get("tls") else ""
        agent = f" ({ev['agent']})" if ev.get("agent") else ""
        return (
            f"session {ev.get('session')} start: {ev.get('user', '?')} -> "
            f"{ev.get('protocol', '?')}:{ev.get('target', '?')} from "
            f"{ev.get('client_addr', '?')}{agent}{tls}"
        )
    if typ == "auth":
        return f"auth {ev.get('method', '')} {ev.get('outcome', ev.get('result', ''))}".rstrip()
    if typ == "statement":
        cats = ",".join(ev.get("categories") or [])
        req = f" request={ev['request_id']}" if ev.get("request_id") else ""
        return (
            f"{str(ev.get('verdict', '?')).upper()} [{cats}] rule={ev.get('rule', '')}{req}\n"
            f"    {ev.get('text', '')}"
        )
    if typ == "approval":
        by = f" by {ev['by']}" if ev.get("by") else ""
        why = f": {ev['reason']}" if ev.get("reason") else ""
        return f"approval {ev.get('request_id')} {ev.get('state')}{by}{why}"
    if typ == "result":
        if ev.get("error"):
            return f"  -> ERROR {ev.get('sqlstate', '')} {ev['error']}"
        rows = f" rows={ev['rows']}" if ev.get("rows") is not None else ""
        return f"  -> {ev.get('tag', '')}{rows} {ev.get('duration_ms', 0)}ms"
    if typ == "rows":
        out = ["  | " + " | ".join(str(c) for c in ev.get("columns") or [])]
        out += ["  | " + " | ".join("NULL" if v is None else str(v) for v in r) for r in ev["rows"]]
        if ev.get("truncated"):
            out.append(f"  ({ev.get('total')} rows, sample truncated)")
        return "\n".join(out)
    if typ == "notice":
        return f"  {ev.get('severity', 'NOTICE')}: {ev.get('message', '')}"
    if typ == "exec":
        return f"$ {ev.get('command', '')}"
    if typ in ("stdout", "stderr"):
        more = " [truncated]" if ev.get("truncated") else ""
        return f"  {typ}: {str(ev.get('data', '')).rstrip()}{more}"
    if typ == "exit":
        return f"  exit status={ev.get('status')} signal={ev.get('signal')}"
    if typ == "sftp":
        return f"sftp {ev.get('op')} {ev.get('path')} bytes={ev.get('bytes')}"
    if typ == "session_end":
        return f"session end {ev.get('reason', '')}".rstrip()
    if typ in _TERMINAL:
        return None
    return f"{typ} " + " ".join(
        f"{k}={v}" for k, v in sorted(ev.items()) if k not in ("type", "ts", "seq", "prev", "hash")
    )


def render_text(events: Sequence[Event]) -> Iterator[str]:
    """A readable transcript with relative timing, one block per event."""
    if not events:
        return
    t0 = float(events[0].get("ts", 0.0))
    for ev in events:
        text = _line(ev)
        if text is not None:
            yield f"{_clock(ev, t0)} {text}"


def to_asciicast(events: Sequence[Event], width: int = 80, height: int = 24) -> str:
    """asciicast v2: terminal output/input/resizes as recorded, other events of a shell
    session as markers; a session without a terminal (Postgres, SSH exec) as its text
    lines, so every session exports."""
    if not events:
        return asciicast.encode(asciicast.Header(width, height), [])
    start = events[0]
    t0 = float(start.get("ts", 0.0))
    for ev in events:  # the size the terminal had when output began
        if ev.get("type") in ("pty", "resize") and int(ev.get("cols") or 0) > 0:
            width, height = int(ev["cols"]), int(ev.get("rows") or height)
            if ev.get("type") == "resize":
                break  # a resize before any output wins over the requested size
        if ev.get("type") == "term_output":
            break
    terminal = any(ev.get("type") == "term_output" for ev in events)
    casts: list[asciicast.Event] = []
    for ev in events:
        t = float(ev.get("ts", t0)) - t0
        typ = ev.get("type")
        if typ == "term_output":
            casts.append(asciicast.Event(t, "o", str(ev.get("data", ""))))
        elif typ == "term_input" and not ev.get("hidden"):
            casts.append(asciicast.Event(t, "i", str(ev.get("data", ""))))
        elif typ == "resize":
            casts.append(asciicast.Event(t, "r", f"{ev['cols']}x{ev['rows']}"))
        else:
            text = _line(ev)
            if text is None:
                continue
            if terminal:  # a shell session: other events become markers, not screen output
                casts.append(asciicast.Event(t, "m", text))
            else:
                casts.append(asciicast.Event(t, "o", text.replace("\n", "\r\n") + "\r\n"))
    title = f"{start.get('user', '')}@{start.get('target', '')} {start.get('session', '')}"
    header = asciicast.Header(width, height, timestamp=int(t0), title=title.strip())
    return asciicast.encode(header, casts)


def play(
    events: Iterable[Event],
    out: TextIO,
    speed: float = 1.0,
    idle_cap: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Write the session to ``out`` with its original pacing (divided by ``speed``, each
    pause capped at ``idle_cap`` seconds); returns the total time slept. Terminal output
    is written raw; other events as text lines."""
    if speed <= 0:
        raise ValueError("speed must be positive")
    slept = 0.0
    last: float | None = None
    for ev in events:
        ts = float(ev.get("ts", 0.0))
        if ev.get("type") == "term_input":
            continue  # the terminal echoes what matters; input is in the asciicast export
        text = str(ev.get("data", "")) if ev.get("type") == "term_output" else _line(ev)
        if text is None:
            continue
        if last is not None:
            pause = max(0.0, ts - last) / speed
            if idle_cap is not None:
                pause = min(pause, idle_cap)
            if pause > 0:
                sleep(pause)
                slept += pause
        last = ts
        out.write(text if ev.get("type") == "term_output" else text + "\n")
        out.flush()
    return slept
