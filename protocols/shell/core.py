"""The accumulator and context every part of the shell classifier writes into."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from protocols.classification import BENIGN, Category, Classification

from .state import Scope
from .words import Word

#: Nesting limit for ``bash -c``, wrappers and here-documents; deeper is ``unknown``.
MAX_DEPTH = 12


@dataclass(slots=True)
class Acc:
    """What has been found so far in one command line (mutable while walking only)."""

    statements: list[str] = field(default_factory=list)
    categories: set[Category] = field(default_factory=set)
    objects: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    cacheable: bool = True
    #: Literal ``cd`` targets seen so far on this line: relative paths are also resolved
    #: against each (any of them may be in effect; over-approximating only adds flags).
    cwds: list[str] = field(default_factory=list)
    #: The session's directory and variables, and what this line does to them.
    scope: Scope = field(default_factory=Scope)

    def cd(self, target: str) -> None:
        """Record ``cd target``; a relative target is also joined to the earlier ones."""
        if len(self.cwds) >= 16:  # bounds the work per path; later cds are tail-matched
            return
        joined = [] if target.startswith(("/", "~")) else [f"{d}/{target}" for d in self.cwds]
        for d in (target, *joined):
            if d not in self.cwds:
                self.cwds.append(d)

    def add(self, cats: Category | Iterable[Category], why: str) -> None:
        """Record categories; a reason is kept for each one that is not benign."""
        for cat in (cats,) if isinstance(cats, Category) else cats:
            self.categories.add(cat)
            if cat not in BENIGN:
                reason = f"{cat}: {why}"
                if reason not in self.reasons:
                    self.reasons.append(reason)

    def obj(self, kind: str, name: str) -> None:
        item = f"{kind}:{name}"
        if item not in self.objects and len(self.objects) < 64:
            self.objects.append(item)

    def merge(self, other: Classification) -> None:
        self.statements.extend(other.statements)
        self.categories |= other.categories
        self.objects.extend(o for o in other.objects if o not in self.objects)
        self.reasons.extend(r for r in other.reasons if r not in self.reasons)
        self.cacheable = self.cacheable and other.cacheable

    def absorb(self, other: Acc) -> None:
        self.categories |= other.categories
        self.objects.extend(o for o in other.objects if o not in self.objects)
        self.reasons.extend(r for r in other.reasons if r not in self.reasons)

    def result(self) -> Classification:
        cats = frozenset(self.categories) if self.categories else frozenset({Category.READ})
        return Classification(
            tuple(self.statements),
            cats,
            tuple(self.objects),
            tuple(self.reasons),
            self.cacheable,
        )


@dataclass(slots=True)
class Ctx:
    """Where a command runs: nesting depth, literal stdin text, and how to recurse."""

    depth: int
    stdin: str | None
    functions: set[str]
    parse: Callable[[str, Acc, Ctx], None]  # classify shell text one level deeper
    run: Callable[[list[Word], Acc, Ctx], None]  # classify an argv (name + args)

    def nested(self, stdin: str | None = None) -> Ctx:
        return Ctx(self.depth + 1, stdin, self.functions, self.parse, self.run)

    def with_stdin(self, stdin: str | None) -> Ctx:
        if stdin == self.stdin:
            return self
        return Ctx(self.depth, stdin, self.functions, self.parse, self.run)


Handler = Callable[[str, list[Word], Acc, Ctx], None]


def split_options(
    args: list[Word], takes_value: frozenset[str] = frozenset()
) -> tuple[list[tuple[str, str | None]], list[Word]]:
    """Leading options (name, value) and the rest, stopping at ``--`` or a positional.

    Short bundles (``-un root``, ``-uroot``) and ``--long=value`` are understood; an option
    in ``takes_value`` consumes the next word. A dynamic word ends the options: it could be
    anything, so the caller treats it as the start of the command.
    """
    opts: list[tuple[str, str | None]] = []
    i = 0
    while i < len(args):
        w = args[i]
        v = w.lit
        if v is None or v == "-" or not v.startswith("-"):
            break
        i += 1
        if v == "--":
            break
        if v.startswith("--"):
            name, eq, val = v.partition("=")
            if not eq and name in takes_value and i < len(args):
                val, i = args[i].value, i + 1
            opts.append((name, val if (eq or name in takes_value) else None))
            continue
        for j, ch in enumerate(v[1:], start=1):
            name = "-" + ch
            if name in takes_value:
                rest = v[j + 1 :]
                if not rest and i < len(args):
                    rest, i = args[i].value, i + 1
                opts.append((name, rest))
                break
            opts.append((name, None))
    return opts, args[i:]


def positionals(args: list[Word], takes_value: frozenset[str] = frozenset()) -> list[Word]:
    """Non-option words anywhere on the line (GNU style), skipping option values."""
    out: list[Word] = []
    i = 0
    while i < len(args):
        v = args[i].lit
        i += 1
        if v == "--":
            out.extend(args[i:])
            break
        if v is not None and v.startswith("-") and v != "-":
            if "=" not in v and (v in takes_value or (v[:2] in takes_value and len(v) == 2)):
                i += 1
            continue
        out.append(args[i - 1])
    return out


def has_flag(args: list[Word], *flags: str) -> bool:
    """True if a literal option equals one of ``flags`` (``-x``) or bundles it (``-xv``)."""
    for w in args:
        v = w.lit
        if v is None or not v.startswith("-"):
            continue
        if v == "--":
            return False
        name = v.partition("=")[0]
        if name in flags:
            return True
        short = [f[1] for f in flags if len(f) == 2 and f[0] == "-"]
        if not v.startswith("--") and any(ch in v[1:] for ch in short):
            return True
    return False
