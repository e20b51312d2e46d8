"""`for_humans`: what approvers see cannot be reordered, hidden or repainted by the text."""

from __future__ import annotations

import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.approvals.display import for_humans, hidden_count, with_display

# Characters that change what a screen shows without showing themselves.
TRICKS = {
    "\u202e": "\\u202e",  # right-to-left override
    "\u202a": "\\u202a",  # left-to-right embedding
    "\u2066": "\\u2066",  # left-to-right isolate
    "\u2069": "\\u2069",  # pop directional isolate
    "\u200b": "\\u200b",  # zero width space
    "\u200d": "\\u200d",  # zero width joiner
    "\u200f": "\\u200f",  # right-to-left mark
    "\u061c": "\\u061c",  # arabic letter mark
    "\u2028": "\\u2028",  # line separator
    "\u2029": "\\u2029",  # paragraph separator
    "\ufeff": "\\ufeff",  # byte order mark
    "\u00ad": "\\xad",  # soft hyphen
    "\u034f": "\\u034f",  # combining grapheme joiner (category Mn)
    "\u3164": "\\u3164",  # hangul filler (category Lo, renders blank)
    "\uffa0": "\\uffa0",  # halfwidth hangul filler
    "\u115f": "\\u115f",  # hangul choseong filler
    "\ufe0f": "\\ufe0f",  # variation selector
    "\u00a0": "\\xa0",  # no-break space: looks like a separator, is not one
    "\u2007": "\\u2007",  # figure space
    "\u3000": "\\u3000",  # ideographic space
    "\x1b": "\\x1b",  # terminal escape
    "\r": "\\r",  # carriage return: overwrites the line on a terminal
    "\x00": "\\x00",
    "\x7f": "\\x7f",
    "\x85": "\\x85",  # next line (C1)
    "\ue000": "\\ue000",  # private use
    "\U000e0041": "\\U000e0041",  # tag latin capital A (invisible "ASCII smuggling")
    "\U000e0001": "\\U000e0001",  # language tag
    "\U0001d173": "\\U0001d173",  # musical symbol begin beam
    "\U000f0000": "\\U000f0000",  # supplementary private use
    "\U0010ffff": "\\U0010ffff",  # noncharacter
}


@pytest.mark.parametrize("ch", TRICKS)
def test_each_trick_is_escaped_visibly(ch: str) -> None:
    assert for_humans(f"DROP{ch}TABLE") == f"DROP{TRICKS[ch]}TABLE"
    assert hidden_count(f"a{ch}b{ch}") == 2


def test_ordinary_text_is_unchanged() -> None:
    for text in (
        "SELECT * FROM t WHERE name = E'a\\nb' AND x <> 1;\n\tUPDATE t SET v = 2",
        "rm -rf /tmp/ünïcødé && echo 'déjà vu' # 日本語 — “quotes” 🙂",
        "SELECT 'עברית' , 'العربية'",  # right-to-left letters are shown (no override)
        "",
    ):
        assert for_humans(text) == text and hidden_count(text) == 0


def test_nothing_that_draws_nothing_survives_anywhere_in_unicode() -> None:
    """Every code point of a category that does not draw itself is escaped (fail closed:
    unassigned code points included)."""
    invisible = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"}
    for code in range(sys.maxunicode + 1):
        ch = chr(code)
        if ch in " \n\t" or unicodedata.category(ch) not in invisible:
            continue
        assert for_humans(ch) != ch, hex(code)


@given(st.text())
def test_output_is_printable_apart_from_newlines_and_tabs(text: str) -> None:
    shown = for_humans(text)
    assert all(ch.isprintable() or ch in "\n\t" for ch in shown)
    assert shown.replace("\n", "").replace("\t", "").isprintable()


def test_with_display_keeps_the_raw_text_for_machines() -> None:
    doc = with_display({"id": "r1", "text": "GRANT\u202e x"})
    assert doc["text"] == "GRANT\u202e x"
    assert doc["text_display"] == "GRANT\\u202e x" and doc["hidden_characters"] == 1
