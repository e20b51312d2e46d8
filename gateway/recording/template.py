"""Pre-encoded event shapes for the per-statement hot path.

A statement or result event differs from the one before it in a handful of fields (prev,
seq, ts, text, ...); everything else (categories, rule, verdict, command tag) repeats. A
:class:`Template` encodes an event's constant fields once, with :func:`chain.canonical`
itself, and leaves slots for the rest, so producing a line is one ``bytes % tuple``
instead of a dict, a sorted JSON dump and its allocations. The bytes are exactly what
``chain.canonical`` produces for the same event (tests compare the two), so the format and
the verifier do not change.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from gateway.recording import chain


class Slot(Enum):
    """How a variable field's value is spliced into a template's ``fmt``."""

    JSON = "json"  # bytes already JSON-encoded (orjson.dumps of the value)
    INT = "int"  # a Python int, formatted with %d
    HEX = "hex"  # bytes of lower-case hex, placed between quotes (hashes)


@dataclass(frozen=True, slots=True)
class Template:
    """``fmt % values`` is the canonical body of the event; values come in ``slots`` order,
    which is the sorted order of the slot names (canonical JSON sorts keys)."""

    fmt: bytes
    slots: tuple[str, ...]


def compile_template(
    constants: Mapping[str, object], slots: Sequence[tuple[str, Slot]]
) -> Template | None:
    """Build the template of an event with these constant fields and variable slots.

    Returns None in the (astronomically unlikely) case that a constant contains a slot's
    random mark; callers then use the generic path.
    """
    token = secrets.token_hex(8)
    marks = {name: f"@{token}:{name}@" for name, _ in slots}
    event: dict[str, object] = dict(constants)
    event.update(marks)
    body = chain.canonical(event)
    # Split on the marks in the order canonical JSON placed them (sorted keys).
    positions = []
    for name, kind in slots:
        quoted = f'"{marks[name]}"'.encode()
        target = marks[name].encode() if kind is Slot.HEX else quoted
        at = body.find(target)
        if at < 0 or body.find(target, at + 1) >= 0:
            return None  # a constant happens to contain a mark: do not guess
        positions.append((at, len(target), name, kind))
    positions.sort()
    fmt = b""
    order = []
    cursor = 0
    for at, length, name, kind in positions:
        fmt += body[cursor:at].replace(b"%", b"%%")
        fmt += b"%d" if kind is Slot.INT else b"%s"
        order.append(name)
        cursor = at + length
    fmt += body[cursor:].replace(b"%", b"%%")
    return Template(fmt, tuple(order))
