from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols import asciicast
from protocols.asciicast import AsciicastError, Event, Header


def test_round_trip() -> None:
    header = Header(100, 30, timestamp=1700000000, title="alice@web1", env=(("TERM", "xterm"),))
    events = [
        Event(0.0, "o", "$ "),
        Event(0.5, "i", "ls\r"),
        Event(0.6, "r", "120x40"),
        Event(1.25, "o", "é\r\n"),
    ]
    text = asciicast.encode(header, events)
    assert text.splitlines()[0] == (
        '{"version": 2, "width": 100, "height": 30, "timestamp": 1700000000, '
        '"title": "alice@web1", "env": {"TERM": "xterm"}}'
    )
    assert text.splitlines()[2] == '[0.5, "i", "ls\\r"]'
    assert asciicast.decode(text) == (header, events)


def test_times_never_decrease() -> None:
    text = asciicast.encode(Header(), [Event(2.0, "o", "a"), Event(1.0, "o", "b")])
    assert [e.time for e in asciicast.decode(text)[1]] == [2.0, 2.0]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{}",
        '{"version": 1, "width": 1, "height": 1}',
        '{"version": 2, "width": "x", "height": 1}',
        '{"version": 2, "width": 1, "height": 1}\n[0, "x", "a"]',
        '{"version": 2, "width": 1, "height": 1}\nnope',
    ],
)
def test_rejects_bad_casts(text: str) -> None:
    with pytest.raises(AsciicastError):
        asciicast.decode(text)


def test_unknown_code_rejected_on_encode() -> None:
    with pytest.raises(AsciicastError):
        asciicast.encode(Header(), [Event(0, "z", "")])


@given(st.lists(st.tuples(st.floats(0, 1e6), st.sampled_from(sorted(asciicast.CODES)), st.text())))
def test_round_trip_property(items: list[tuple[float, str, str]]) -> None:
    evs = [Event(t, c, d) for t, c, d in items]
    _, back = asciicast.decode(asciicast.encode(Header(), evs))
    assert [(e.code, e.data) for e in back] == [(e.code, e.data) for e in evs]


def test_unicode_line_separators_are_data() -> None:
    evs = [Event(0.0, "o", "a\u2028b\x85c\x1cd")]
    assert asciicast.decode(asciicast.encode(Header(), evs))[1] == evs
