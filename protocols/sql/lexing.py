"""The session state that changes how PostgreSQL splits a query string into tokens.

The classifier parses with libpg_query, which always lexes as a server with
``standard_conforming_strings = on`` reading UTF-8. When the real session differs, the
server may see different statements than the parser did (``SELECT 'a\\'' ; DROP TABLE t;
--'`` is one statement to the parser and two to a server with scs off), so such a state is
*not modelable* and every statement is classified ``unknown`` (fail closed).

Encodings. Only UTF-8 (spelled ``UTF8``, ``UTF-8``, ``utf_8``, ``UNICODE``: PostgreSQL
compares encoding names ignoring case and non-alphanumerics) is modelable:

* SJIS, BIG5, GBK, UHC, GB18030, JOHAB are unsafe outright: the second byte of a
  multibyte character may be ``0x5c`` (backslash) or another ASCII byte, so the server's
  token boundaries differ from a UTF-8 reading of the same bytes.
* LATIN1..10, WIN125x, KOI8, EUC_*, SQL_ASCII are ASCII-compatible, so the statement split
  is the same, but the relay decodes the wire bytes as UTF-8 to hand us text: with another
  client encoding the server reads different characters (identifiers, literals) than the
  ones we classified. Deciding on text the server does not see breaks invariant 2, and
  agents have no need for these encodings, so they fail closed too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NON_ALNUM = re.compile(r"[^0-9a-z]")

#: Normalized (lowercase, alphanumerics only) spellings PostgreSQL accepts for UTF-8.
UTF8_NAMES: frozenset[str] = frozenset({"utf8", "unicode"})


def normalize_encoding(name: str) -> str:
    """Normalize an encoding name the way PostgreSQL's ``pg_char_to_encoding`` compares."""
    return _NON_ALNUM.sub("", name.lower())


def is_utf8(name: str) -> bool:
    return normalize_encoding(name) in UTF8_NAMES


#: Values PostgreSQL's boolean GUC parser accepts as true (``parse_bool``: any unique prefix
#: of true/yes/on... we accept the common full spellings; anything else is "not known on").
TRUE_WORDS: frozenset[str] = frozenset({"on", "true", "yes", "1", "t", "y", "tr", "tru", "ye"})


@dataclass(frozen=True, slots=True)
class LexingState:
    """What the relay knows of the session's lexing-relevant settings (from ParameterStatus)."""

    standard_conforming_strings: bool = True
    client_encoding: str = "UTF8"

    @property
    def modelable(self) -> bool:
        """True when libpg_query splits and reads the text exactly as the server will."""
        return self.standard_conforming_strings and is_utf8(self.client_encoding)

    @property
    def problem(self) -> str:
        """Why the state is not modelable ('' when it is), for the unknown reason."""
        if not self.standard_conforming_strings:
            return "standard_conforming_strings is off: the server lexes backslashes differently"
        if not is_utf8(self.client_encoding):
            return f"client_encoding {self.client_encoding!r} is not UTF-8"
        return ""
