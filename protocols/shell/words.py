"""Quote and backslash removal on tree-sitter-bash word nodes.

Bash decides what runs after removing quotes and backslashes, so ``'r''m'``, ``\\rm``,
``"rm"`` and ``r\\m`` are all ``rm``. tree-sitter gives us the pieces; this module joins
them. There is no library for bash's quote removal on a parsed tree, hence our own code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tree_sitter import Node

from .globs import escape

#: Node types whose value is only known when the command runs.
DYNAMIC = frozenset(
    {
        "simple_expansion",
        "expansion",
        "command_substitution",
        "process_substitution",
        "arithmetic_expansion",
        "brace_expression",
    }
)
_HOME_VARS = frozenset({"$HOME", "${HOME}"})


@dataclass(frozen=True, slots=True)
class Word:
    """One argument: ``lit`` after quote removal (None if it has expansions) and ``text``,
    the same with ``$HOME`` as ``~`` and any other expansion as ``*`` (for path globs)."""

    lit: str | None
    text: str
    #: The word as bash will expand it, for the path checks (see :func:`glob_parts`);
    #: empty for words made up by a handler (then ``lit``/``text`` are all there is).
    parts: tuple[Part, ...] = ()

    @property
    def value(self) -> str:
        return self.lit if self.lit is not None else self.text


#: The source text of the trees being walked, innermost last. tree-sitter-bash 0.25's
#: scanner reads out of bounds on some non-ASCII input (segfaults seen in fuzzing, e.g.
#: ``"n²{\U0010d136\n"``), so the parser only ever sees ASCII: every non-ASCII code point
#: becomes ``x`` (to bash, as to ``x``, it is a word character), byte offsets then equal
#: code-point offsets, and node text is read back from the original here.
SOURCES: list[str] = []
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def ascii_for_parser(text: str) -> bytes:
    return _NON_ASCII.sub("x", text).encode("ascii")


def text_of(node: Node) -> str:
    return SOURCES[-1][node.start_byte : node.end_byte]


def word(node: Node) -> Word:
    parts: list[str] = []
    rendered: list[str] = []
    dynamic = _collect(node, parts, rendered)
    shape: list[Part] = []
    _glob_parts(node, shape, quoted=False)
    return Word(None if dynamic else "".join(parts), "".join(rendered), tuple(shape))


#: One piece of a word: ("g", glob-syntax text, quoted), ("v", variable name, quoted) or
#: ("u", source text, quoted) for an expansion nobody can bound (``$(...)``, ``${x#y}``).
Part = tuple[str, str, bool]

_SIMPLE_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*|[0-9]|[@*#?$!_-])\}?")


#: Command substitutions whose output is known from the shell state alone.
_KNOWN_OUTPUT = re.compile(r"\$\(\s*(pwd|mktemp(\s+-[dqtu]+)*(\s+[\w.]*X{3,}[\w.]*)?)\s*\)")
#: The pseudo-variable a ``$(mktemp)`` reads as (see state.Scope.lookup).
MKTEMP = "$(mktemp)"
#: The pseudo-variable for output that is one file name, never a ``/``: ``$(whoami)``.
COMPONENT = "$(name)"
_COMPONENT_OUTPUT = re.compile(
    r"\s*(whoami|hostname(\s+-s)?|id\s+-[ugnr]+|nproc|uname(\s+-[a-z]+)*|logname"
    r"|date(\s+[\"']?\+[^/%\"']*(%[^Dx/\"'][^/%\"']*)*[\"']?)?|git\s+rev-parse(\s+--short)?\s+HEAD)\s*"
)


def _known_output(raw: str) -> str | None:
    """``$(pwd)`` is $PWD; ``$(mktemp -d)`` a fresh name in $TMPDIR (or /tmp);
    ``$(date +%F)`` and the like one name without a ``/``. None: not known."""
    inner = raw[1:-1] if raw.startswith("`") else raw[2:-1]
    if _KNOWN_OUTPUT.fullmatch(f"$({inner})"):
        return "PWD" if "pwd" in inner else MKTEMP
    if _COMPONENT_OUTPUT.fullmatch(inner):
        return COMPONENT
    return None


def _glob_parts(node: Node, out: list[Part], quoted: bool) -> None:
    """The word's pieces in glob syntax: what bash globs stays active, quoted text is
    escaped, and each expansion is kept by name so the shell state can fill it in."""
    kind = node.type
    raw = text_of(node)
    if kind in ("simple_expansion", "expansion"):
        m = _SIMPLE_VAR.fullmatch(raw)
        out.append(("v", m.group(1), quoted) if m else ("u", raw, quoted))
    elif kind == "process_substitution":
        out.append(("g", "/dev/fd/63", quoted))  # a pipe; what runs in it is walked
    elif kind == "arithmetic_expansion":
        out.append(("g", "*", quoted))  # a number: any text within one component
    elif kind == "command_substitution" and _known_output(raw) is not None:
        out.append(("v", _known_output(raw) or "", quoted))
    elif kind in DYNAMIC:
        out.append(("u", raw, quoted))
    elif kind in ("word", "number", "variable_name", "test_operator"):
        text = raw.replace("\\\n", "")
        out.append(("g", escape(_unescape_word(text)) if quoted else text, quoted))
    elif kind == "raw_string":
        out.append(("g", escape(raw[1:-1]), True))
    elif kind == "ansi_c_string":
        out.append(("g", escape(unescape_ansi_c(raw[2:-1])), True))
    elif kind in ("string", "translated_string"):
        for child in node.children:
            if child.type == "string_content":
                out.append(("g", escape(_unescape_dquote(text_of(child))), True))
            elif child.is_named:
                _glob_parts(child, out, True)
    elif kind == "concatenation":
        for child in node.children:
            if child.is_named:
                _glob_parts(child, out, quoted)
            else:
                out.append(("g", text_of(child), quoted))
    else:
        out.append(("u", raw, quoted))


def _collect(node: Node, parts: list[str], rendered: list[str]) -> bool:
    """Append the literal pieces of ``node``; return True if any piece is dynamic."""
    kind = node.type
    raw = text_of(node)
    if kind in DYNAMIC:
        rendered.append("~" if raw in _HOME_VARS else "*")
        return True
    if kind in ("word", "number", "variable_name", "test_operator"):
        value = _unescape_word(raw)
        parts.append(value)
        rendered.append(value)
        return False
    if kind == "raw_string":
        parts.append(raw[1:-1])
        rendered.append(raw[1:-1])
        return False
    if kind == "ansi_c_string":
        value = unescape_ansi_c(raw[2:-1])
        parts.append(value)
        rendered.append(value)
        return False
    if kind in ("string", "translated_string", "concatenation"):
        dynamic = False
        for child in node.children:
            if not child.is_named:
                if child.type not in ('"', "$"):
                    parts.append(text_of(child))
                    rendered.append(text_of(child))
                continue
            if child.type == "string_content":
                value = _unescape_dquote(text_of(child))
                parts.append(value)
                rendered.append(value)
            else:
                dynamic = _collect(child, parts, rendered) or dynamic
        return dynamic
    rendered.append("*")
    return True


def _unescape_word(raw: str) -> str:
    if "\\" not in raw:
        return raw
    raw = raw.replace("\\\n", "")
    return re.sub(r"\\(.)", r"\1", raw, flags=re.DOTALL)


def _unescape_dquote(raw: str) -> str:
    if "\\" not in raw:
        return raw
    raw = raw.replace("\\\n", "")
    return re.sub(r'\\([$`"\\])', r"\1", raw)


_ANSI = {
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "E": "\x1b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}
_ANSI_RE = re.compile(
    r"\\(?:([abeEfnrtv\\'\"?])|([0-7]{1,3})|x([0-9a-fA-F]{1,2})|u([0-9a-fA-F]{1,4})"
    r"|U([0-9a-fA-F]{1,8})|c(.))",
    re.DOTALL,
)


def unescape_ansi_c(body: str) -> str:
    """Decode the escapes of a ``$'...'`` string as bash does."""

    def one(m: re.Match[str]) -> str:
        simple, octal, hexa, u4, u8, ctrl = m.groups()
        if simple is not None:
            return _ANSI[simple]
        if octal is not None:
            return chr(int(octal, 8) & 0xFF)
        if hexa is not None:
            return chr(int(hexa, 16))
        if u4 is not None or u8 is not None:
            code = int(u4 or u8, 16)
            return chr(code) if code <= 0x10FFFF else "\ufffd"
        return chr(ord(ctrl) & 0x1F)

    return _ANSI_RE.sub(one, body)


def heredoc_text(redirect: Node) -> str | None:
    """The text a here-document feeds to stdin, or None if it has expansions."""
    start = next((c for c in redirect.children if c.type == "heredoc_start"), None)
    body = next((c for c in redirect.children if c.type == "heredoc_body"), None)
    if start is None:
        return None
    if body is None:
        return ""
    quoted = any(q in text_of(start) for q in "'\"\\")
    raw = text_of(body)
    if not quoted:
        if any(c.type in DYNAMIC for c in body.children):
            return None
        raw = re.sub(r"\\([$`\\\n])", lambda m: "" if m.group(1) == "\n" else m.group(1), raw)
    if any(c.type == "<<-" for c in redirect.children):
        raw = "\n".join(line.lstrip("\t") for line in raw.split("\n"))
    return raw
