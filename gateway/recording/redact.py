"""Mask secrets before anything is persisted: transcripts, log lines, approval messages.

Built-in detectors are regexes plus validators (Luhn for cards, base64 shape for Basic
credentials). One combined case-insensitive precheck runs first, so text with no candidate
substring (the common case on the statement hot path) costs about a microsecond. Password
literals in SQL role statements are found with PostgreSQL's own lexer (pglast), not a
regex, so quoting tricks cannot hide them. Masks look like ``[REDACTED:kind]``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pglast import parser as pg_parser

_Validator = Callable[[str], bool]


def luhn_ok(digits: str) -> bool:
    """Luhn checksum, so that ordinary long numbers are not masked as card numbers."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card(match: str) -> bool:
    digits = "".join(c for c in match if c.isdigit())
    return 13 <= len(digits) <= 19 and luhn_ok(digits)


def _basic(value: str) -> bool:
    # "Basic information" must not be masked: the value has to decode to "user:pass".
    try:
        return b":" in base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False


@dataclass(frozen=True, slots=True)
class Detector:
    """``pattern``'s group ``s`` (or the whole match) is masked when ``valid`` agrees."""

    kind: str
    pattern: re.Pattern[str]
    valid: _Validator | None = None


def _d(kind: str, pattern: str, valid: _Validator | None = None, flags: int = 0) -> Detector:
    return Detector(kind, re.compile(pattern, flags), valid)


_I = re.IGNORECASE
BUILTIN: tuple[Detector, ...] = (
    _d(
        "pem",
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----[\s\S]*?"
        r"(?:-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|\Z)",
    ),
    _d("jwt", r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),
    _d("aws-access-key", r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"),
    _d(
        "aws-secret-key",
        r"aws.{0,20}?(?:secret|key).{0,20}?[\"']?\s*[:=]\s*[\"']?(?P<s>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])",
        flags=_I,
    ),
    _d("github-token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
    _d("slack-token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    _d("bearer", r"\bbearer\s+(?P<s>[A-Za-z0-9\-._~+/]{8,}=*)", flags=_I),
    _d("basic", r"\bbasic\s+(?P<s>[A-Za-z0-9+/]{4,}={0,2})", _basic, flags=_I),
    _d("url-password", r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/:@]*:(?P<s>[^\s/@]+)@"),
    _d(
        "password",
        r"(?<![A-Za-z0-9_])(?:PG)?(?:password|passwd|pwd)\s*=\s*"
        r"(?P<s>\$?'(?:[^'\\]|\\.)*'?|\"(?:[^\"\\]|\\.)*\"?|(?:[^\s'\";&]|&(?=[^\s&]))+)",
        flags=_I,
    ),
    _d(  # "password": "..." (JSON, YAML, a comment, a prompt and its answer on one line)
        "password",
        r"(?<![\w-])[\"']?(?:password|passwd|pwd)[\"']?[ \t]*:[ \t]*"
        r"(?P<s>\"(?:[^\"\\]|\\.)*\"?|'(?:[^'\\]|\\.)*'?|[^\s'\"][^\s,;}'\"]*)",
        flags=_I,
    ),
    _d("card", r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d])", _card),
)

#: Free text only (shell commands, terminal lines, messages): SQL written inside them,
#: ``psql -c "ALTER ROLE app PASSWORD '...'"``, heredocs, ``echo ... | psql``. The shell's
#: own quoting can wrap the literal in anything (``'"'"'``, ``\$\$``, ``\"``), so from a
#: quote character after PASSWORD the rest of the line is masked (fail closed); SQL text
#: proper is masked exactly, by lexer token, in ``redact_sql``. An unquoted value is
#: masked after PASSWORD in a role statement, and after ``--password``.
TEXT_ONLY: tuple[Detector, ...] = (
    _d(
        "password",
        r"(?<![\w-])password\s+(?!'*\[REDACTED)"
        r"(?P<s>\$(?P<tag>\w*)\$[\s\S]*?(?:\$(?P=tag)\$|\Z)|(?:u&|[eun])?'[^\n]*"
        r"|\\?[\"'][^\n]*|\\\$[^\n]*)",
        flags=_I,
    ),
    _d(
        "password",
        r"(?<![\w-])(?:create|alter)\s+(?:role|user|group)\b[^\n;]*?\bpassword\s+"
        r"(?!null\b|'|\"|\[REDACTED)(?P<s>[^\s;'\"$\\]+)",
        flags=_I,
    ),
    _d("password", r"--password\s+(?P<s>[^\s-]\S*)", flags=_I),
)

# Cheap literal anchors every built-in detector needs, matched against the lower-cased
# text: a case-sensitive alternation is ~7x faster than re.IGNORECASE here.
_PRECHECK_DIGITS = re.compile(r"[0-9][0-9 -]{11,}[0-9]")
#: Maps each ASCII digit byte to b"1" and every other byte to b"0", so that counting
#: digits is one table translate and one count (translate with a delete set rebuilds its
#: table on every call and costs ten times as many instructions).
_DIGIT_MARKS = bytes(0x31 if 0x30 <= b <= 0x39 else 0x30 for b in range(256))
_CARD_DIGITS = 13  # the card detector needs at least this many ASCII digits


def _may_hold_card(text: str) -> bool:
    """Whether the text has enough ASCII digits for a card number; counting them on the
    UTF-8 bytes (one C pass) is about twice as fast as the precheck regex, which then runs
    only on the texts that pass."""
    if len(text) < _CARD_DIGITS:
        return False
    digits = text.encode("utf-8", "surrogatepass").translate(_DIGIT_MARKS).count(b"1")
    return digits >= _CARD_DIGITS and _PRECHECK_DIGITS.search(text) is not None


def _has_anchor(lowered: str) -> bool:
    """Whether any literal anchor a built-in detector needs is present (lower-cased text).

    Chained substring tests: about twice as fast as a regex alternation on short text,
    which `re` tries at every position."""
    return (
        "-----begin" in lowered
        or "eyj" in lowered
        or "akia" in lowered
        or "asia" in lowered
        or "abia" in lowered
        or "acca" in lowered
        or "aws" in lowered
        or "gh" in lowered
        or "xox" in lowered
        or "bearer" in lowered
        or "basic" in lowered
        or "://" in lowered
        or "passw" in lowered
        or "pwd" in lowered
    )


_SQL_PASSWORD = re.compile(r"passw(?:ord)?", re.IGNORECASE)


class Redactor:
    """Masks secrets in text, SQL and result rows. Thread-safe and immutable once built.

    ``patterns`` are extra regexes; a named group ``s`` limits the mask to that group.
    ``sensitive_columns`` are column names (any table) or ``table.column``; matching is
    case-insensitive and the table may be schema-qualified or bare.
    """

    def __init__(self, patterns: Sequence[str] = (), sensitive_columns: Sequence[str] = ()):
        custom = tuple(_d("custom", p) for p in patterns)
        self._detectors = BUILTIN + custom
        self._custom = re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None
        cols = [c.lower() for c in sensitive_columns]
        self._columns = frozenset(c for c in cols if "." not in c)
        self._qualified = frozenset(c for c in cols if "." in c)
        self._masks: dict[tuple[object, ...], tuple[bool, ...]] = {}

    # -- text ---------------------------------------------------------------------------
    def redact_text(self, text: str) -> str:
        """Mask every detector hit in free text (terminal I/O, messages, log lines)."""
        return self._redact(text, text.lower(), free=True)

    def _redact(
        self, text: str, lowered: str, free: bool = False, found: list[str] | None = None
    ) -> str:
        if (
            not _has_anchor(lowered)
            and not _may_hold_card(text)
            and (self._custom is None or self._custom.search(text) is None)
        ):
            return text
        if free and "passw" in lowered:
            for det in TEXT_ONLY:
                text = det.pattern.sub(_masker(det, found), text)
        for det in self._detectors:
            text = det.pattern.sub(_masker(det, found), text)
        return text

    def redact_sql(self, sql: str) -> str:
        """Mask password literals (``PASSWORD '...'``, ``OPTIONS (password '...')``, also
        inside DO and function bodies) by lexer token locations, then run the text
        detectors."""
        return self.redact_sql_found(sql)[0]

    def redact_sql_found(self, sql: str) -> tuple[str, tuple[str, ...]]:
        """:meth:`redact_sql`, and the secrets it masked (as written and unquoted).

        The server's reply may quote a statement's secret (``syntax error at or near
        "..."``, ``unterminated quoted string at or near "'..."``) where no detector would
        know it for one: the transcript masks these exact strings in what follows.
        """
        lowered = sql.lower()
        found: list[str] = []
        if "passw" in lowered or "u&" in lowered:
            sql = _mask_sql_passwords(sql, found)
            lowered = sql.lower()
        # The free-text rules too: a literal may hold shell text holding SQL
        # (``'psql -c "ALTER ROLE x PASSWORD ''...''"'``), which the SQL lexer reads as
        # an identifier; masks the lexer already made are not matched again.
        sql = self._redact(sql, lowered, free=True, found=found)
        return sql, _secrets(found) if found else ()

    # -- rows ---------------------------------------------------------------------------
    def column_mask(
        self, columns: Sequence[str], table: str | Sequence[str | None] | None = None
    ) -> tuple[bool, ...]:
        """Which columns are sensitive; compute once per result set, not per row.

        Cached per (columns, table): a relay asks for every result set, and a session
        mostly repeats the same few column lists.
        """
        key = (tuple(columns), table if table is None or isinstance(table, str) else tuple(table))
        found = self._masks.get(key)
        if found is None:
            if len(self._masks) >= 1024:
                self._masks.clear()
            found = self._masks[key] = self._column_mask(columns, table)
        return found

    def _column_mask(
        self, columns: Sequence[str], table: str | Sequence[str | None] | None
    ) -> tuple[bool, ...]:
        tables: Sequence[str | None]
        tables = [table] * len(columns) if table is None or isinstance(table, str) else table
        out = []
        for col, tab in zip(columns, tables, strict=False):
            c = col.lower()
            hit = c in self._columns
            if not hit and tab:
                t = tab.lower()
                hit = f"{t}.{c}" in self._qualified or f"{t.rsplit('.', 1)[-1]}.{c}" in (
                    self._qualified
                )
            out.append(hit)
        out.extend([False] * (len(columns) - len(out)))
        return tuple(out)

    def redact_row(
        self,
        columns: Sequence[str],
        values: Sequence[object],
        table: str | Sequence[str | None] | None = None,
        mask: tuple[bool, ...] | None = None,
    ) -> list[object]:
        """Sensitive columns become ``[REDACTED:column]``; other text goes through the
        detectors. Pass ``mask`` from :meth:`column_mask` to skip recomputing it."""
        if mask is None:
            mask = self.column_mask(columns, table)
        out: list[object] = []
        redact = self.redact_text
        for i, v in enumerate(values):
            if v is not None and i < len(mask) and mask[i]:
                out.append("[REDACTED:column]")
            elif isinstance(v, str) and len(v) > 2:  # no detector matches under 3 characters
                out.append(redact(v))
            else:
                out.append(v)
        return out

    def redact_all(self, texts: Iterable[str]) -> list[str]:
        return [self.redact_text(t) for t in texts]


def _secrets(found: list[str]) -> tuple[str, ...]:
    """The masked values worth looking for elsewhere, each also without its quoting."""
    out: dict[str, None] = {}
    for value in found:
        for form in (value, _unquoted(value)):
            if len(form) >= _MIN_SECRET:
                out[form] = None
    return tuple(out)


#: Shorter masked values are not searched for in later text (too many false hits).
_MIN_SECRET = 6


def _unquoted(value: str) -> str:
    if value.startswith("$") and value.count("$") >= 2:
        tag = value[: value.index("$", 1) + 1]
        return value[len(tag) :].removesuffix(tag)
    head, quote, rest = value.partition("'")
    if quote and len(head) <= 2:  # E'', U&'', N''
        return rest.removesuffix("'")
    return value.strip("\"'")


def _masker(det: Detector, found: list[str] | None = None) -> Callable[[re.Match[str]], str]:
    tag = f"[REDACTED:{det.kind}]"
    has_group = "s" in det.pattern.groupindex

    def mask(m: re.Match[str]) -> str:
        whole = m.group(0)
        if has_group and m.group("s") is not None:
            value = m.group("s")
            if det.valid is not None and not det.valid(value):
                return whole
            if found is not None:
                found.append(value)
            start = m.start("s") - m.start()
            return whole[:start] + tag + whole[m.end("s") - m.start() :]
        if det.valid is not None and not det.valid(whole):
            return whole
        if found is not None:
            found.append(whole)
        return tag

    return mask


_MASK = "'[REDACTED:password]'"
_LITERALS = frozenset({"SCONST", "USCONST"})
#: Tokens after a PASSWORD keyword that supply no secret (``PASSWORD NULL``).
_NO_SECRET = frozenset({"NULL_P"})
#: Tokens that may sit between a password's name and its value.
_BETWEEN = frozenset({"ASCII_61", "TO", "COLON_EQUALS", "EQUALS_GREATER", "ASCII_58"})
#: How deep string literals are opened (a DO body holding an EXECUTE string...).
_MAX_DEPTH = 4
_UESCAPE = re.compile(r"\\(\\|[0-9A-Fa-f]{4}|\+[0-9A-Fa-f]{6})")


def _mask_sql_passwords(sql: str, found: list[str] | None = None) -> str:
    """Mask the secret of each role statement or password option, also inside bodies.

    See ``_mask_level``; if the lexer rejects the text, everything after the first
    PASSWORD is masked.
    """
    try:
        return _mask_level(sql, 0, [] if found is None else found)[0]
    except Exception:  # any lexer failure: mask conservatively
        m = _SQL_PASSWORD.search(sql)
        if m is None:
            return sql
        if found is not None:
            found.append(sql[m.end() :].strip())
        return sql[: m.end()] + " [REDACTED:password]"


def _names_password(sql: str, tok: Any) -> bool:
    """The PASSWORD keyword, or an option name (bare, quoted or U&-escaped) with passw in
    it: ``OPTIONS (password '...')``, ``("password" '...')``, ``(U&"p\\0061ssword" ...)``."""
    if tok.name == "PASSWORD":
        return True
    if tok.name not in ("IDENT", "UIDENT"):
        return False
    word = sql[tok.start : tok.end + 1]
    if tok.name == "UIDENT":
        word = _UESCAPE.sub(_unescape, word[3:-1])
    return "passw" in word.lower()


def _unescape(m: re.Match[str]) -> str:
    code = m.group(1)
    if code == "\\":
        return code
    try:
        return chr(int(code.lstrip("+"), 16))
    except ValueError:
        return ""


def _mask_level(sql: str, depth: int, found: list[str]) -> tuple[str, bool]:
    """(masked text, whether a password is built dynamically in it).

    pglast's token locations are character offsets with an inclusive end. The string
    constant after each PASSWORD keyword or password option name is masked; a literal
    that contains a backslash is masked to the end of its statement, because with
    standard_conforming_strings off the server would end it elsewhere than this lexer.

    A string constant that mentions a password is a code body (DO, CREATE FUNCTION, an
    EXECUTE or dblink string): it is opened and masked the same way, and written back in
    its own quoting. A body where a PASSWORD is followed by no literal (``'... PASSWORD '
    || quote_literal(pw)``, ``format('... PASSWORD %L', ...)``) builds the password at
    run time from values anywhere around it: then every other string constant of that
    text is masked too, and the outer texts are told so (fail closed).
    """
    tokens = pg_parser.scan(sql)
    spans: list[tuple[int, int, str]] = []
    dynamic = False
    keep: set[int] = set()  # literals already rewritten (opened bodies, masked secrets)
    for i, tok in enumerate(tokens):
        if _names_password(sql, tok):
            j = i + 1  # the value, after any `=`, `TO`, `:=`, `=>` or `:`
            while j < len(tokens) and tokens[j].name in _BETWEEN:
                j += 1
            nxt = tokens[j] if j < len(tokens) else None
            if nxt is not None and nxt.name in _LITERALS:
                end = nxt.end + 1
                if "\\" in sql[nxt.start : end]:
                    end = next((t.start for t in tokens[j + 1 :] if t.name == "ASCII_59"), len(sql))
                spans.append((nxt.start, end, _MASK))
                keep.add(j)
            elif (
                depth > 0 and tok.name == "PASSWORD" and (nxt is None or nxt.name not in _NO_SECRET)
            ):
                dynamic = True
        elif tok.name in _LITERALS and i not in keep:
            literal = sql[tok.start : tok.end + 1]
            low = literal.lower()
            if "passw" not in low and "u&" not in low:
                continue
            opened = _open_literal(literal, depth, found)
            if opened is None:  # cannot be opened exactly: mask it and what may follow
                end = next((t.start for t in tokens[i + 1 :] if t.name == "ASCII_59"), len(sql))
                spans.append((tok.start, end, _MASK))
                keep.add(i)
                dynamic = True
                continue
            text, inner_dynamic = opened
            dynamic = dynamic or inner_dynamic
            if text != literal:
                spans.append((tok.start, tok.end + 1, text))
            if text != literal or inner_dynamic:  # a body: shown opened, not masked whole
                keep.add(i)
    if dynamic:
        spans.extend(
            (t.start, t.end + 1, _MASK)
            for i, t in enumerate(tokens)
            if t.name in _LITERALS and i not in keep
        )
    spans.sort()
    kept: list[tuple[int, int, str]] = []
    for span in spans:  # a literal masked to the end of its statement covers later ones
        if not kept or span[0] >= kept[-1][1]:
            kept.append(span)
    for start, end, text in reversed(kept):
        if text == _MASK:
            found.append(sql[start:end])
        sql = sql[:start] + text + sql[end:]
    return sql, dynamic


def _open_literal(literal: str, depth: int, found: list[str]) -> tuple[str, bool] | None:
    """Mask inside a string constant, keeping its quoting; None when it cannot be opened
    exactly (E'', U&'', a backslash, nesting too deep)."""
    if depth >= _MAX_DEPTH or "\\" in literal:
        return None
    if literal.startswith("$"):
        tag = literal[: literal.index("$", 1) + 1]
        body, dynamic = _mask_level(literal[len(tag) : -len(tag)], depth + 1, found)
        return tag + body + tag, dynamic
    if literal.startswith("'"):
        body, dynamic = _mask_level(literal[1:-1].replace("''", "'"), depth + 1, found)
        return "'" + body.replace("'", "''") + "'", dynamic
    return None
