"""Builtins that bind names for later lines: variables by name, the command hash, builtins.

Each line is classified on its own, so whatever changes what a *later* line runs (``PATH``
set by ``read``, ``hash -p``, ``enable -n``, ``let PATH=1``) must be flagged where it
happens. Bash's option letters are parsed here as its ``internal_getopt`` does: options end
at the first non-option word, and a computed word there could be any option or name.
"""

from __future__ import annotations

import re

from protocols.classification import Category

from . import programs
from .core import Acc, Ctx, Handler
from .words import Word

C = Category

#: Bash's own lookup tables exposed as arrays: ``BASH_CMDS[ls]=/tmp/x`` is ``hash -p``.
_REBINDING_VARS = frozenset({"BASH_CMDS", "BASH_ALIASES"})


def check_variable(var: str, acc: Acc, value: str | None = None) -> None:
    """Setting or unsetting certain variables is tamper or code (see programs.py).

    ``value`` is the assignment's source text (quotes kept), when there is one.
    """
    if var in programs.TAMPER_VARS:
        acc.add(C.TAMPER, f"changes {var}")
    if var in _REBINDING_VARS:
        acc.add({C.TAMPER, C.CODE}, f"{var} redefines a program")
    if var == "PATH" and value is not None and _PATH_APPEND.match(value) and "." not in value:
        # ``PATH=$PATH:/opt/bin`` appends: programs found before keep winning. Prepending
        # (or replacing, or ``$D:$PATH``) lets a directory shadow every command.
        return
    if var in programs.CODE_VARS or var.startswith("BASH_FUNC_"):
        acc.add(C.CODE, f"{var} makes programs run other code")


_PATH_APPEND = re.compile(r'"?\$(PATH|\{PATH\})"?:')


def assign_word(prog: str, name: Word, acc: Acc) -> None:
    """``name`` (a word naming a variable, maybe ``a[i]``) is assigned by ``prog``."""
    if name.lit is None:
        acc.add({C.UNKNOWN, C.CODE}, f"{prog} assigns a variable whose name is computed")
        acc.scope.forget_variables()
        return
    check_variable(name.lit.split("[")[0], acc)
    acc.scope.assign(name.lit.split("[")[0], None)  # from input: not a value we know
    acc.add(C.SESSION, f"{prog} sets shell variables")


# An arithmetic assignment (``x=1``, ``a[i]+=2``, ``x<<=1``) or increment. A name written
# with ``$`` is expanded first (``$v=1`` assigns whatever ``v`` names): it is computed.
_NAME = r"(?<![\w$}])\$?\{?[A-Za-z_]\w*\}?"
_ARITH_ASSIGN = re.compile(
    rf"(?P<lhs>{_NAME})?\s*(?:\[[^\]]*\])?\s*(?:(?:<<|>>|[-+*/%&^|])=|(?<![=!<>])=)(?!=)"
    rf"|(?:\+\+|--)\s*(?P<pre>{_NAME})?"
    rf"|(?P<post>{_NAME})\s*(?:\+\+|--)"
)


def arith_assignments(text: str, acc: Acc, what: str) -> None:
    """Check every variable an arithmetic expression ``text`` assigns (``let PATH=1``)."""
    for m in _ARITH_ASSIGN.finditer(text):
        var = m.group("lhs") or m.group("pre") or m.group("post")
        if var is None and m.group(0).strip() in ("++", "--"):
            continue  # ``1 - --2``: a sign, or an increment of a number
        if var is None or var.startswith(("$", "{")):
            acc.add({C.UNKNOWN, C.CODE}, f"{what} assigns a variable whose name is computed")
            acc.scope.forget_variables()
        else:
            check_variable(var.rstrip("}"), acc)
            acc.scope.assign(var.rstrip("}"), None)
            acc.add(C.SESSION, f"{what} sets shell variables")


def _getopt(
    args: list[Word], takes_value: frozenset[str]
) -> tuple[list[tuple[str, Word | None]], list[Word]]:
    """Options (``-ab``, ``-pVALUE``, ``-p VALUE``) and the operands after them."""
    opts: list[tuple[str, Word | None]] = []
    i = 0
    while i < len(args):
        v = args[i].lit
        if v is None or v in ("-", "") or not v.startswith("-"):
            break
        i += 1
        if v == "--":
            break
        for j, ch in enumerate(v[1:], start=1):
            name = "-" + ch
            if name in takes_value:
                rest = v[j + 1 :]
                if rest:
                    opts.append((name, Word(rest, rest)))
                elif i < len(args):
                    opts.append((name, args[i]))
                    i += 1
                else:
                    opts.append((name, None))
                break
            opts.append((name, None))
    return opts, args[i:]


def _values(opts: list[tuple[str, Word | None]], name: str) -> list[Word]:
    return [w for n, w in opts if n == name and w is not None]


def read(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    """``read [-ers] [-a ARRAY] [-p PROMPT] ... NAME...`` assigns ARRAY and every NAME."""
    opts, names = _getopt(args, frozenset(["-a", "-d", "-i", "-n", "-N", "-p", "-t", "-u"]))
    acc.add(C.READ, "read reads input")
    for name in [*_values(opts, "-a"), *names]:
        assign_word(prog, name, acc)


def mapfile(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    """``mapfile [-d D] [-n N] [-O I] [-s N] [-u FD] [-C CALLBACK [-c N]] [ARRAY]``."""
    opts, rest = _getopt(args, frozenset(["-d", "-n", "-O", "-s", "-u", "-C", "-c"]))
    acc.add(C.READ, f"{prog} reads lines into an array")
    if rest:
        assign_word(prog, rest[0], acc)
    for callback in _values(opts, "-C"):
        acc.add(C.CODE, f"{prog} -C runs a callback")
        if callback.lit is None:
            acc.add({C.UNKNOWN, C.CODE}, f"{prog} -C with a computed callback")
        else:
            ctx.parse(callback.lit, acc, ctx.nested())


def printf(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    """``printf -v NAME FORMAT ...`` assigns NAME instead of printing."""
    opts, _ = _getopt(args, frozenset({"-v"}))
    acc.add(C.READ, "printf formats text")
    for name in _values(opts, "-v"):
        assign_word(prog, name, acc)


def getopts(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    """``getopts OPTSTRING NAME [ARG...]`` assigns NAME (and OPTARG/OPTIND)."""
    acc.add(C.READ, "getopts parses options")
    if len(args) >= 2:
        assign_word(prog, args[1], acc)


def wait(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    """``wait [-fn] [-p NAME] [ID...]`` (bash 5.1) assigns NAME the finished job's id."""
    opts, _ = _getopt(args, frozenset({"-p"}))
    acc.add(C.READ, "wait waits for jobs")
    for name in _values(opts, "-p"):
        assign_word(prog, name, acc)


def let(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    """``let EXPR...``: arithmetic assigns (``let PATH=1`` looks in ./1 for programs)."""
    acc.add(C.READ, "let evaluates arithmetic")
    for w in args:
        # Expansions are rendered ``*``: ``let "$v=1"`` has no literal name and fails closed.
        arith_assignments(w.lit if w.lit is not None else w.text.replace("*", "$x"), acc, prog)


def hash_builtin(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    """``hash -p FILE NAME`` makes a later ``NAME`` run FILE; other forms list or forget."""
    if any(w.lit is None for w in args):
        acc.add({C.UNKNOWN, C.CODE}, "hash with computed arguments")
        return
    opts, names = _getopt(args, frozenset({"-p"}))
    if not any(n == "-p" for n, _ in opts):
        acc.add(C.READ, "hash lists or refreshes remembered program locations")
        return
    for name in names:
        acc.obj("program", name.value)
    acc.add({C.TAMPER, C.CODE}, "hash -p redefines a program")
    acc.add(C.SESSION, "hash")


def enable(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    """``enable -n NAME`` lets a PATH program replace a builtin; ``-f`` loads a library."""
    if any(w.lit is None for w in args):
        acc.add({C.UNKNOWN, C.CODE}, "enable with computed arguments")
        return
    opts, names = _getopt(args, frozenset({"-f"}))
    flags = {n for n, _ in opts}
    if "-f" in flags:
        acc.add({C.TAMPER, C.CODE}, "enable -f loads a shared library as a builtin")
    elif names and "-n" in flags:
        acc.add({C.TAMPER, C.CODE}, "enable -n lets a program replace a builtin")
    elif names:
        acc.add(C.TAMPER, "enable changes which builtins exist")
    else:
        acc.add(C.READ, "enable lists builtins")
        return
    for name in names:
        acc.obj("program", name.value)


HANDLERS: dict[str, Handler] = {
    "read": read,
    "mapfile": mapfile,
    "readarray": mapfile,
    "printf": printf,
    "getopts": getopts,
    "wait": wait,
    "let": let,
    "hash": hash_builtin,
    "enable": enable,
}
