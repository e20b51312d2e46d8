"""How statement text (and other requester-controlled strings) is shown to approvers.

An approver decides on what they see. Unicode lets a requester make the screen lie: a
right-to-left override (U+202E) reorders what follows, a zero-width space (U+200B) or a
Hangul filler (U+3164) hides inside a word, a no-break space looks like a separator that
the shell or SQL does not treat as one, a carriage return or an escape sequence repaints a
terminal. So every human channel (the page, Slack, Teams, the CLI) renders through
`for_humans`, which keeps only characters that draw themselves and writes every other one
as a visible escape (``\\u202e``), Python style.

The model fails closed: a character is kept only when its general category is a letter,
mark, number, punctuation or symbol and it is not a default-ignorable code point (which
renders as nothing), or when it is a plain space, a newline or a tab. Everything else,
including code points this Python's Unicode tables do not know, is escaped. Backslashes
are not doubled: a literal ``\\u202e`` typed by the requester then looks like an escaped
one, which can only make a statement look more suspicious, never hide anything, and SQL
and shell text with backslashes stays readable. The SHA-256 of the exact bytes stays the
authority; machines get the raw (redacted) ``text`` next to ``text_display``.
"""

from __future__ import annotations

import unicodedata
from typing import Any

_KEPT_CATEGORIES = frozenset({"L", "M", "N", "P", "S"})  # first letter of the category
_KEPT_CHARS = frozenset(" \n\t")

#: Default_Ignorable_Code_Point (Unicode DerivedCoreProperties.txt) ranges whose general
#: category would otherwise keep them: they render as nothing. (The Cf/Cn members are
#: escaped by category anyway; listing the whole property keeps the intent readable.)
_IGNORABLE: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD),  # soft hyphen
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x061C, 0x061C),  # arabic letter mark
    (0x115F, 0x1160),  # hangul choseong/jungseong fillers
    (0x17B4, 0x17B5),  # khmer inherent vowels
    (0x180B, 0x180F),  # mongolian free variation selectors, vowel separator
    (0x200B, 0x200F),  # zero width space/joiners, LRM, RLM
    (0x202A, 0x202E),  # bidi embeddings and overrides
    (0x2060, 0x206F),  # word joiner, invisible operators, bidi isolates, deprecated
    (0x3164, 0x3164),  # hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFEFF, 0xFEFF),  # zero width no-break space (BOM)
    (0xFFA0, 0xFFA0),  # halfwidth hangul filler
    (0xFFF0, 0xFFF8),  # unassigned specials
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical symbol format controls
    (0xE0000, 0xE0FFF),  # tags, variation selectors supplement
)


def _ignorable(code: int) -> bool:
    return any(lo <= code <= hi for lo, hi in _IGNORABLE)


def _shown(ch: str) -> bool:
    if ch in _KEPT_CHARS:
        return True
    code = ord(ch)
    if code < 0x80:
        return 0x20 < code < 0x7F
    return unicodedata.category(ch)[0] in _KEPT_CATEGORIES and not _ignorable(code)


def _escape(ch: str) -> str:
    code = ord(ch)
    if code == 0x0D:
        return "\\r"
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def for_humans(text: str) -> str:
    """`text` with every invisible, direction-changing or control character escaped."""
    if text.isascii() and all(_shown(ch) for ch in text):
        return text  # the common case, without building a new string
    return "".join(ch if _shown(ch) else _escape(ch) for ch in text)


def hidden_count(text: str) -> int:
    """How many characters `for_humans` escapes (the page and chat warn when non-zero)."""
    return sum(1 for ch in text if not _shown(ch))


def with_display(doc: dict[str, Any]) -> dict[str, Any]:
    """A request document for machines that show it to people: the raw (redacted) `text`
    stays for programs (it is what the SHA-256 covers, modulo redaction), `text_display`
    is what to put in front of a human, `hidden_characters` says whether anything was
    escaped."""
    text = str(doc.get("text", ""))
    return {**doc, "text_display": for_humans(text), "hidden_characters": hidden_count(text)}
