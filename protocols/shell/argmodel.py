"""Option models for the programs the classifier lets through as ``read``/``write``.

Why: a program in the read/write tables is only as harmless as its options. ``sort
--compress-program=sh``, ``tar --to-command``, ``zip -TT``, ``split --filter`` run
programs; ``shuf -o``, ``iconv -o``, ``sort -o`` write files; an option the gateway has
never heard of could do either. So each such program gets a model of its options (data,
in ``argspecs``), parsed the way GNU ``getopt_long`` parses them: bundled short options,
attached and separate values, ``--long=value``, unambiguous abbreviations of long options
(``--compress-prog`` is ``--compress-program``), options after operands, ``--`` ending
them. Then:

- an option not in the model (or an ambiguous abbreviation) makes the command ``unknown``;
- an option whose value is a program or script is ``code``;
- an option whose value is a path written takes that path's write categories (writing
  ``~/.ssh/authorized_keys`` is ``privilege``); a path read takes its read categories;
- a word that could turn into an option when the command runs (``$x``, a glob such as
  ``*``: a file named ``--checkpoint-action=exec=sh`` is the classic tar wildcard attack)
  is ``unknown`` for programs that have any option that runs code or writes.
"""

# Word lists are written as whitespace-separated strings: far easier to read and review
# as data than hundreds of quoted literals.
# ruff: noqa: SIM905

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from protocols.classification import Category

from . import paths, programs
from .core import Acc, Ctx
from .words import Word

C = Category


class Role(StrEnum):
    """What an option means to the gateway."""

    PLAIN = "plain"  # formatting, selection, tuning: nothing the policy cares about
    CODE = "code"  # the value (or the option itself) makes the program run a program
    FILTER = "filter"  # the value is a program run as a filter: code unless a compressor
    OUTPUT = "output"  # the value is a path the program writes
    INPUT = "input"  # the value is a path the program reads
    EXPORT = "export"  # sends data to a host or port the caller chooses
    UNKNOWN = "unknown"  # known, but its effect cannot be judged from the command line
    MODE = "mode"  # changes what the program does; its handler decides


class Takes(StrEnum):
    NO = "no"
    REQUIRED = "required"
    OPTIONAL = "optional"  # only attached: ``-cVALUE`` / ``--opt=VALUE``
    TWO = "two"  # ``jq --arg NAME VALUE``: the value is the second word


@dataclass(frozen=True, slots=True)
class Option:
    name: str  # canonical: ``-x`` or ``--long``
    takes: Takes
    role: Role


@dataclass(frozen=True, slots=True)
class ArgModel:
    """A program's options. Build with :func:`model` from getopt-style spec strings."""

    short: Mapping[str, Option]
    long: Mapping[str, Option]
    numeric: bool = False  # ``head -20``, ``tail -5``: ``-NUM`` is an option
    permute: bool = True  # GNU: options may follow operands
    abbrev: bool = True  # GNU getopt_long: unambiguous prefixes of long options

    @property
    def risky(self) -> bool:
        """Has an option that runs code, writes or cannot be judged."""
        return any(
            o.role not in (Role.PLAIN, Role.INPUT)
            for o in (*self.short.values(), *self.long.values())
        )


def model(
    short: str = "",
    long: str = "",
    *,
    code: str = "",
    filter: str = "",
    output: str = "",
    input: str = "",
    export: str = "",
    unknown: str = "",
    mode: str = "",
    numeric: bool = False,
    permute: bool = True,
    abbrev: bool = True,
) -> ArgModel:
    """``short`` is getopt syntax (``"ab:c::"``: ``b`` takes a value, ``c`` an attached
    optional one); ``long`` is space-separated names, ``name=`` takes a value, ``name::``
    an optional ``=value``. Role lists name options as ``-x`` / ``--long``."""
    roles: dict[str, Role] = {}
    for names, role in (
        (code, Role.CODE),
        (filter, Role.FILTER),
        (output, Role.OUTPUT),
        (input, Role.INPUT),
        (export, Role.EXPORT),
        (unknown, Role.UNKNOWN),
        (mode, Role.MODE),
    ):
        for name in names.split():
            roles[name] = role
    shorts: dict[str, Option] = {}
    i = 0
    while i < len(short):
        ch = short[i]
        colons = len(short[i + 1 :]) - len(short[i + 1 :].lstrip(":"))
        takes = (Takes.NO, Takes.REQUIRED, Takes.OPTIONAL)[min(colons, 2)]
        shorts[ch] = Option(f"-{ch}", takes, roles.pop(f"-{ch}", Role.PLAIN))
        i += 1 + colons
    longs: dict[str, Option] = {}
    for spec in long.split():
        if spec.endswith("=="):
            name, takes = spec[:-2], Takes.TWO
        elif spec.endswith("::"):
            name, takes = spec[:-2], Takes.OPTIONAL
        elif spec.endswith("="):
            name, takes = spec[:-1], Takes.REQUIRED
        else:
            name, takes = spec, Takes.NO
        longs[name] = Option(f"--{name}", takes, roles.pop(f"--{name}", Role.PLAIN))
    if roles:  # a role for an option the spec does not list: a typo in the data
        raise ValueError(f"roles for unlisted options: {sorted(roles)}")
    return ArgModel(shorts, longs, numeric, permute, abbrev)


@dataclass(frozen=True, slots=True)
class Parsed:
    """Options found (in order, with their values) and operands; ``problems`` fail closed."""

    options: tuple[tuple[Option, Word | None], ...]
    operands: tuple[Word, ...]
    problems: tuple[str, ...] = ()
    #: Operand words that may become options when the command runs (``$x``, ``*``).
    vague: tuple[Word, ...] = ()
    #: Options (by name) and operands (``""``) in command-line order, for order-sensitive
    #: options such as tar's ``-C``.
    sequence: tuple[tuple[str, Word | None], ...] = ()

    def has(self, *names: str) -> bool:
        return any(o.name in names for o, _ in self.options)

    def values(self, *names: str) -> list[Word | None]:
        return [v for o, v in self.options if o.name in names]


@dataclass(slots=True)
class _State:
    options: list[tuple[Option, Word | None]] = field(default_factory=list)
    operands: list[Word] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    vague: list[Word] = field(default_factory=list)
    sequence: list[tuple[str, Word | None]] = field(default_factory=list)


_NUMERIC = re.compile(r"-\d+[a-zA-Z]?")


def may_be_option(w: Word) -> bool:
    """Could this word start with ``-`` once expanded (or globbed) by the shell?"""
    if w.lit is None:
        return w.text[:1] in ("*", "-")
    return w.lit[:1] in ("*", "?", "[")


def parse(m: ArgModel, args: list[Word]) -> Parsed:
    """Parse ``args`` as GNU getopt_long would under model ``m``."""
    st = _State()
    i = 0
    while i < len(args):
        w = args[i]
        i += 1
        v = w.lit if w.lit is not None else w.text
        if v == "--" and w.lit is not None:
            st.operands.extend(args[i:])
            st.vague.extend(a for a in args[i:] if a.lit is None and a.text.startswith("-"))
            break
        if not v.startswith("-") or v == "-":
            st.operands.append(w)
            st.sequence.append(("", w))
            if may_be_option(w):
                st.vague.append(w)
            if not m.permute:
                st.operands.extend(args[i:])
                break
            continue
        if v.startswith("--"):
            i = _long(m, args, i, w, v, st)
        elif m.numeric and _NUMERIC.fullmatch(v):
            st.options.append((Option(v, Takes.NO, Role.PLAIN), None))
        else:
            i = _short(m, args, i, w, v, st)
    return Parsed(
        tuple(st.options),
        tuple(st.operands),
        tuple(st.problems),
        tuple(st.vague),
        tuple(st.sequence),
    )


def _long(m: ArgModel, args: list[Word], i: int, w: Word, v: str, st: _State) -> int:
    name, eq, _ = v[2:].partition("=")
    if "*" in name and w.lit is None:
        st.problems.append(f"computed option {w.text}")
        return i
    opt = m.long.get(name)
    if opt is None and m.abbrev and name:
        hits = [o for n, o in m.long.items() if n.startswith(name)]
        opt = hits[0] if len({o.name for o in hits}) == 1 else None
    if opt is None:
        st.problems.append(f"unknown option --{name}")
        return i
    value: Word | None = None
    if eq:
        if opt.takes is Takes.NO:
            st.problems.append(f"{opt.name} takes no value")
        value = _after(w, len(name) + 3)
    elif opt.takes is Takes.REQUIRED:
        if i >= len(args):
            st.problems.append(f"{opt.name} lacks its value")
        else:
            value, i = args[i], i + 1
    elif opt.takes is Takes.TWO:
        if i + 1 >= len(args):
            st.problems.append(f"{opt.name} lacks its values")
        else:
            value, i = args[i + 1], i + 2
    st.options.append((opt, value))
    st.sequence.append((opt.name, value))
    return i


def _short(m: ArgModel, args: list[Word], i: int, w: Word, v: str, st: _State) -> int:
    j = 1
    while j < len(v):
        ch = v[j]
        if ch == "*" and w.lit is None:
            st.problems.append(f"computed option {w.text}")
            return i
        opt = m.short.get(ch)
        if opt is None:
            st.problems.append(f"unknown option -{ch}")
            return i
        if opt.takes is Takes.NO:
            st.options.append((opt, None))
            st.sequence.append((opt.name, None))
            j += 1
            continue
        value: Word | None = _after(w, j + 1) if j + 1 < len(v) else None
        if value is None and opt.takes is Takes.REQUIRED:
            if i >= len(args):
                st.problems.append(f"{opt.name} lacks its value")
            else:
                value, i = args[i], i + 1
        st.options.append((opt, value))
        st.sequence.append((opt.name, value))
        return i
    return i


def _after(w: Word, start: int) -> Word:
    """The attached value of an option word (``-oFILE``, ``--out=FILE``)."""
    if w.lit is not None:
        return Word(w.lit[start:], w.lit[start:])
    return Word(None, w.text[start:])


#: Programs a compression option may run and still be what it says (``tar -I zstd``).
COMPRESSORS = frozenset(
    """
    gzip gunzip pigz unpigz bzip2 bunzip2 pbzip2 lbzip2 xz unxz pixz lzma unlzma lzip plzip
    lzop zstd unzstd pzstd lz4 unlz4 brotli compress uncompress
    """.split()
)
_COMPRESSOR_ARG = re.compile(r"-[A-Za-z0-9]+|--[a-z][a-z-]*(=[0-9]+)?")


def is_compressor(value: str) -> bool:
    """``zstd -T0``: a known compressor with only plain flags, not ``sh -c ...``."""
    words = value.split()
    if not words or any(not _COMPRESSOR_ARG.fullmatch(a) for a in words[1:]):
        return False
    head = words[0]
    if "/" in head and posixpath.dirname(paths.normalize(head)) not in programs.STANDARD_BIN_DIRS:
        return False
    return posixpath.basename(head) in COMPRESSORS


def apply(prog: str, parsed: Parsed, acc: Acc, m: ArgModel) -> None:
    """Categories every modelled program gets from its options (not from its mode)."""
    for problem in parsed.problems:
        acc.add(C.UNKNOWN, f"{prog}: {problem}")
    if parsed.vague and m.risky:
        acc.add(C.UNKNOWN, f"{prog}: a computed argument could be an option")
    cwds = tuple(acc.cwds)
    for opt, value in parsed.options:
        text = "" if value is None else value.value
        if opt.role is Role.CODE:
            acc.add(C.CODE, f"{prog} {opt.name} runs a program")
        elif opt.role is Role.FILTER:
            if value is None or value.lit is None or not is_compressor(value.lit):
                acc.add(C.CODE, f"{prog} {opt.name} runs a program")
        elif opt.role is Role.OUTPUT and value is not None:
            acc.add(paths.write_categories(text), f"{prog} {opt.name} writes {text}")
            acc.obj("path", paths.normalize(text))
        elif opt.role is Role.INPUT and value is not None:
            cats = paths.read_categories(text, cwds)
            if cats:
                acc.add(cats, f"{prog} {opt.name} reads {text}")
            acc.obj("path", paths.normalize(text))
        elif opt.role is Role.EXPORT:
            acc.add({C.EXPORT, C.FORWARDING}, f"{prog} {opt.name} talks to a chosen host")
        elif opt.role is Role.UNKNOWN:
            acc.add(C.UNKNOWN, f"{prog} {opt.name} cannot be judged from the command line")


#: A refinement: given the parsed words, add the program's own categories.
Mode = Callable[[str, Parsed, Acc, Ctx], None]
