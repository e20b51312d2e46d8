"""sed scripts are parsed and awk programs scanned token by token; neither is regex-matched.

Why: ``sed '1e id'``, ``s/x/y/e``, ``w /path``; awk's ``system()``, ``print | "sh"``,
``"cmd" | getline``, ``print > "/path"`` run commands or write files, and a regex over
the program text misses spellings (``s|x|y|e``, ``1!e``, ``{e}``, ``printf>f``). The sed
parser follows GNU sed's grammar (addresses, ``!``, ``{}``, ``s`` with any delimiter and
its flags, ``y``, text commands ``a i c``, file commands ``r R w W``, ``e``); anything it
does not recognise makes the script ``code``. The awk scanner drops strings, regexes and
comments, then looks for the operators and names that leave the program: also
conservative, so a program it cannot tokenize is ``code``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from protocols.classification import Category

from . import paths
from .argmodel import apply, model, parse
from .core import Acc, Ctx
from .words import Word

C = Category


@dataclass(slots=True)
class SedEffects:
    """What a sed script does beyond filtering text."""

    runs: bool = False  # ``e`` command or ``s///e``
    writes: list[str] = field(default_factory=list)  # ``w``/``W`` files, ``s///w`` files
    reads: list[str] = field(default_factory=list)  # ``r``/``R`` files
    error: str | None = None


_SIMPLE = frozenset("=dDgGhHlnNpPqQxzF")  # commands with no argument (l/q/Q: optional number)
_LABELLED = frozenset("bt:T")


def parse_sed(script: str) -> SedEffects:
    """Walk a GNU sed script; an unrecognised construct sets ``error`` (fail closed)."""
    fx = SedEffects()
    s, i, n = script, 0, len(script)

    def skip_ws(j: int) -> int:
        while j < n and s[j] in " \t;\n":
            j += 1
        return j

    def regex(j: int, delim: str) -> int:
        """Index just past the closing ``delim`` of a regex/replacement starting at j."""
        while j < n:
            if s[j] == "\\":
                j += 2
                continue
            if s[j] == delim:
                return j + 1
            if s[j] == "\n" and delim != "\n":
                break
            j += 1
        raise ValueError("unterminated regex or replacement")

    def address(j: int) -> int:
        if j < n and s[j].isdigit():
            while j < n and (s[j].isdigit() or s[j] == "~"):
                j += 1
        elif j < n and s[j] == "$":
            j += 1
        elif j < n and s[j] == "/":
            j = regex(j + 1, "/")
            while j < n and s[j] in "IM":
                j += 1
        elif j + 1 < n and s[j] == "\\":
            j = regex(j + 2, s[j + 1])
            while j < n and s[j] in "IM":
                j += 1
        return j

    def rest_of_line(j: int) -> tuple[str, int]:
        end = s.find("\n", j)
        end = n if end < 0 else end
        return s[j:end], end

    try:
        while True:
            i = skip_ws(i)
            if i >= n:
                break
            if s[i] == "#":
                i = rest_of_line(i)[1]
                continue
            i = address(i)
            if i < n and s[i] == ",":
                i = i + 1
                if i < n and s[i] in "+~":
                    i += 1
                i = address(i)
            while i < n and s[i] in " \t!":
                i += 1
            if i >= n:
                raise ValueError("missing command")
            cmd = s[i]
            i += 1
            if cmd in "{}":
                continue
            if cmd in _SIMPLE:
                while i < n and s[i] in " \t0123456789":
                    i += 1
                if i < n and s[i] not in ";\n}#":
                    raise ValueError(f"junk after {cmd}")
                continue
            if cmd in _LABELLED:
                _, i = _label(s, i)
                continue
            if cmd in "aic":
                _, i = rest_of_line(i)
                while i < n and s[i - 1] == "\\" and s[i] == "\n":  # continued text
                    _, i = rest_of_line(i + 1)
                continue
            if cmd in "rRwW":
                name, i = rest_of_line(i)
                (fx.reads if cmd in "rR" else fx.writes).append(name.strip())
                continue
            if cmd == "e":
                fx.runs = True
                _, i = rest_of_line(i)
                continue
            if cmd in "sy":
                if i >= n or s[i] in "\n\\":
                    raise ValueError(f"bad {cmd} delimiter")
                delim = s[i]
                i = regex(regex(i + 1, delim), delim)
                if cmd == "y":
                    continue
                while i < n and s[i] in "gpiImMe0123456789w":
                    if s[i] == "e":
                        fx.runs = True
                    if s[i] == "w":
                        name, i = rest_of_line(i + 1)
                        fx.writes.append(name.strip())
                        break
                    i += 1
                continue
            if cmd == "v":
                _, i = _label(s, i)
                continue
            raise ValueError(f"unknown sed command {cmd!r}")
    except ValueError as exc:
        fx.error = str(exc)
    return fx


def _label(s: str, i: int) -> tuple[str, int]:
    m = re.compile(r"[ \t]*([^;\n}]*)").match(s, i)
    assert m is not None
    return m.group(1).strip(), m.end()


SED = model(
    "nrsuzEe:f:i::l:",
    "quiet silent debug expression= file= follow-symlinks in-place:: line-length= null-data "
    "zero-terminated posix regexp-extended separate sandbox unbuffered help version",
    mode="-e --expression -f --file -i --in-place",
)


def sed(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    parsed = parse(SED, args)
    apply(prog, parsed, acc, SED)
    scripts: list[Word | None] = parsed.values("-e", "--expression")
    operands = list(parsed.operands)
    if parsed.has("-f", "--file"):
        acc.add(C.CODE, f"{prog} -f runs a script the gateway cannot see")
        for v in parsed.values("-f", "--file"):
            if v is not None:
                acc.add(paths.read_categories(v.value, tuple(acc.cwds)), f"{prog} reads {v.value}")
    elif not scripts:
        scripts = [operands.pop(0)] if operands else []
    in_place = parsed.has("-i", "--in-place")
    acc.add(C.WRITE if in_place else C.READ, f"{prog} edits files" if in_place else "filters")
    if in_place:
        for w in operands:
            acc.add(paths.write_categories(w.value), f"{prog} -i rewrites {w.value}")
    sandbox = parsed.has("--sandbox")
    for script in scripts:
        if script is None or script.lit is None:
            acc.add({C.UNKNOWN, C.CODE}, f"{prog} with a computed script")
            continue
        fx = parse_sed(script.lit)
        if fx.error is not None:
            acc.add(C.CODE, f"{prog} script not understood ({fx.error})")
        if fx.runs and not sandbox:
            acc.add(C.CODE, f"{prog} e runs shell commands")
        for name in fx.writes:
            if name not in ("/dev/stdout", "/dev/stderr"):
                acc.add(paths.write_categories(name or "*"), f"{prog} w writes {name}")
        for name in fx.reads:
            acc.add(paths.read_categories(name, tuple(acc.cwds)), f"{prog} r reads {name}")


AWK = model(
    "F:v:f:e:E:i:l:bcCdDghLMNoOpPrStVW:",
    "field-separator= assign= file= source= exec= include= load= characters-as-bytes "
    "traditional copyright dump-variables:: debug:: help lint:: bignum use-lc-numeric "
    "non-decimal-data optimize profile:: posix re-interval sandbox no-optimize version "
    "csv",
    code="-f --file -E --exec -i --include -l --load",
    output="--dump-variables --profile",
    unknown="-W",  # mawk/gawk ``-W exec``, ``-W sprintf``...: compatibility spellings
    mode="-e --source",
)

#: Tokens of awk that leave the program: run a command, write or read a file, the env,
#: the file list (``ARGV``), gawk's indirect calls (``@f()``) and extensions.
_AWK_DANGER = re.compile(
    r"\bsystem\b|\bgetline\b|\|&?|>>?|\bENVIRON\b|\bPROCINFO\b|\bARGV\b|\bARGC\b"
    r"|\bfflush\b|\bclose\b|@"
)


@dataclass(slots=True)
class AwkEffects:
    """Why a program is more than a filter (None: it is one), and the files it writes."""

    why: str | None = None
    writes: list[str] = field(default_factory=list)


def scan_awk(program: str) -> AwkEffects:
    """Tokenize enough of ``program`` to find what leaves it; unsure means ``why`` is set."""
    fx = AwkEffects()
    lexed = _skeleton(program)
    if lexed is None:
        fx.why = "a string or regex it cannot delimit"
        return fx
    text, strings = lexed
    text = text.replace("||", " OR ")
    for m in _AWK_DANGER.finditer(text):
        tok = m.group(0)
        if tok.startswith(">") and _comparison(text, m.start()):
            continue
        target = re.match(r"\s*S(\d+)\s*(?:[;}\n]|$)", text[m.end() :])
        if tok.startswith(">") and target is not None and "\\" not in strings[int(target[1])]:
            fx.writes.append(strings[int(target[1])])  # print > "literal path"
            continue
        fx.why = f"awk program uses {tok.strip()}"
        return fx
    return fx


def _skeleton(program: str) -> tuple[str, list[str]] | None:
    """The program with strings as ``S<n>``, regex literals as ``R``, comments dropped.

    One left-to-right pass, as awk's own lexer: a ``/`` starts a regex unless an operand
    precedes it (then it divides), so ``a / system("x") / b`` keeps its call visible and
    ``/"/ {system("id")} /"/`` does not hide one inside a "string". None: not delimited.
    """
    out: list[str] = []
    strings: list[str] = []
    prev = ""
    i, n = 0, len(program)
    while i < n:
        ch = program[i]
        if ch == '"':
            j = i + 1
            while j < n and program[j] not in '"\n':
                j += 2 if program[j] == "\\" else 1
            if j >= n or program[j] != '"':
                return None
            strings.append(program[i + 1 : j])
            out.append(f" S{len(strings) - 1} ")
            prev, i = "S", j + 1
        elif ch == "/" and not (prev.isalnum() or (prev != "" and prev in "_)]$.")):
            j, bracket = i + 1, False
            while j < n and (bracket or program[j] != "/"):
                if program[j] == "\n":
                    return None
                if program[j] == "\\":
                    j += 1
                elif program[j] == "[":
                    bracket = True
                elif program[j] == "]":
                    bracket = False
                j += 1
            if j >= n:
                return None
            out.append(" R ")
            prev, i = "R", j + 1
        elif ch == "#":
            end = program.find("\n", i)
            i = n if end < 0 else end
        else:
            out.append(ch)
            prev = ch if not ch.isspace() or ch == "\n" else prev
            i += 1
    return "".join(out), strings


def _comparison(text: str, pos: int) -> bool:
    """Is this ``>`` a comparison (inside parentheses or a condition), not a redirection?

    A redirection only follows ``print``/``printf`` outside parentheses; ``$1 > 5`` as a
    pattern or in ``if (...)`` compares. Fail closed: after a print statement it writes.
    """
    stmt_start = max(text.rfind(c, 0, pos) for c in ";{}\n")
    stmt = text[stmt_start + 1 : pos]
    if not re.search(r"\bprintf?\b", stmt):
        return True
    depth = stmt.count("(") - stmt.count(")")
    return depth > 0 and re.search(r"\bprintf?\s*\(", stmt) is None


def awk(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    parsed = parse(AWK, args)
    apply(prog, parsed, acc, AWK)
    programs_: list[Word | None] = parsed.values("-e", "--source")
    if parsed.has("-f", "--file", "-E", "--exec", "-i", "--include", "-l", "--load"):
        return  # code already: the program is in a file
    operands = list(parsed.operands)
    if not programs_:
        programs_ = [operands.pop(0)] if operands else []
    if not programs_:
        acc.add(C.UNKNOWN, f"{prog} without a program")
        return
    for w in programs_:
        if w is None or w.lit is None:
            acc.add({C.UNKNOWN, C.CODE}, f"{prog} with a computed program")
            continue
        fx = scan_awk(w.lit)
        if fx.why is not None and not parsed.has("--sandbox"):
            acc.add(C.CODE, f"{prog}: {fx.why}")
        for name in fx.writes:
            if re.match(r"/inet[46]?/", name):  # gawk's network special files
                acc.add({C.EXPORT, C.FORWARDING}, f"{prog} prints to a network socket")
            acc.add(paths.write_categories(name or "*"), f"{prog} prints to {name}")
    for w in operands:  # ``var=value`` operands assign; a computed one could be anything
        if w.lit is None and "=" in w.text:
            acc.add(C.UNKNOWN, f"{prog} assignment with a computed value")
    acc.add(C.READ, f"{prog} filters text")
