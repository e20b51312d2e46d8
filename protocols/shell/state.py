"""What a shell session remembers between lines: its directory and its variables.

``cd ~/.ssh`` on one line and ``cat *`` on the next read a private key, and so does
``k=~/.ssh/id_; cat ${k}rsa``. So each line is classified against a :class:`ShellState`
(frozen: the relay keeps one per session and swaps it) and yields the next one.

Fail closed, over-approximating, because a line may not run the way it reads:

- the working directory is a *set* of candidates: a ``cd`` can fail (``cd /nonexistent``
  leaves the shell where it was), so every target ever entered stays a candidate;
  more than :data:`MAX_CWDS`, ``cd -``, ``pushd``/``popd``, a computed ``cd``, ``CDPATH``,
  ``eval`` or ``source`` make it unknown (``None``), and then every relative path a
  program reads or writes is ``unknown``;
- a variable holds a set of candidate values in glob syntax (see :mod:`.globs`); one
  assigned by ``read``, ``mapfile``, arithmetic, a computed value or a nameref is unknown,
  as is every variable the session never assigned (its value comes from an environment
  we do not see), bar ``HOME`` and ``PWD``;
- within a line, order is not trusted (loops, functions and traps run text out of
  order): each line is walked until what it assigns stops growing, every use seeing
  every value assigned anywhere on the line. Only an assignment at the top level of the
  line (not in a loop, a branch, a pipeline or after ``&&``/``||``) replaces the value
  the session had, and only for the text after it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from tree_sitter import Node

from . import globs, programs
from .words import COMPONENT, MKTEMP, Part, Word

#: More candidate directories than this: the directory is unknown.
MAX_CWDS = 16

#: Variables bash sets itself or that are positional: never bounded.
_SPECIAL = frozenset("0123456789@*_-") | {"OLDPWD", "REPLY", "BASH_REMATCH"}
#: Variables (and known command output) that hold one name without a ``/``: a number,
#: a user or host name. Their value is any single component.
_COMPONENT_VARS = frozenset(
    {"#", "?", "$", "!", "RANDOM", "USER", "LOGNAME", "HOSTNAME", "UID", "EUID", "PPID",
     "BASHPID", "SECONDS", "LINENO", COMPONENT}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ShellState:
    """The directory and variables a session's next line runs with (hashable: it is
    part of the checkpoint's cache key)."""

    #: Candidate working directories (absolute glob syntax), or None when unknown.
    cwd: frozenset[str] | None = frozenset({globs.HOME})
    #: Variables with known candidate values; every other variable is unknown.
    variables: tuple[tuple[str, frozenset[str]], ...] = ()
    #: Glob options turned on (``dotglob``, ``nocaseglob``...), as ``shopt -s`` names.
    globopts: frozenset[str] = frozenset()

    def value(self, name: str) -> frozenset[str] | None:
        for key, values in self.variables:
            if key == name:
                return values
        return None


INITIAL = ShellState()


@dataclass(slots=True)
class Effects:
    """What one walk of a line did to the state (only ever grows)."""

    cds: set[str] = field(default_factory=set)
    cwd_unknown: bool = False
    values: dict[str, set[str]] = field(default_factory=dict)
    unknown_vars: set[str] = field(default_factory=set)
    all_vars_unknown: bool = False
    definite: set[str] = field(default_factory=set)
    globopts: set[str] = field(default_factory=set)
    #: ``eval``/``source``/a nameref ran: any variable may hold anything (a new shell
    #: only forgets values: its ``$USER`` is still a user name).
    opaque: bool = False

    def key(self) -> tuple[object, ...]:
        return (
            frozenset(self.cds),
            self.cwd_unknown,
            frozenset((k, frozenset(v)) for k, v in self.values.items()),
            frozenset(self.unknown_vars),
            self.all_vars_unknown,
            frozenset(self.globopts),
            self.opaque,
        )


#: ``cd X && ...`` in force: X's candidates, the nesting level, the directories entered
#: before it, whether the directory was unknown then, and the function calls so far.
Pin = tuple[frozenset[str], int, frozenset[str], bool, int]


@dataclass(slots=True)
class Scope:
    """The state a line starts from, plus what the line itself does to it."""

    state: ShellState = INITIAL
    seed: Effects = field(default_factory=Effects)
    effects: Effects = field(default_factory=Effects)
    #: Variables assigned at the top level before the point being walked, with the
    #: values they can have there (a top-level assignment replaces what came before).
    current: dict[str, frozenset[str]] = field(default_factory=dict)
    #: ``cd X && ...``: while walking what runs only if the cd succeeded, its targets,
    #: the nesting level they hold at and the directories entered before them.
    pinned: list[Pin] = field(default_factory=list)
    #: The targets of the last ``cd`` walked (None: unknown).
    last_cd: frozenset[str] | None = None
    #: Calls of functions defined on the line so far (a body may ``cd`` anywhere).
    calls: int = 0
    #: Glob text intersected with the secret patterns so far (bounded, see reach.py).
    glob_work: int = 0
    #: Words standing for what a ``find`` lists (``{}``, xargs input), by id.
    feeds: dict[int, Feed] = field(default_factory=dict)
    #: The words ``feeds`` is keyed by, kept alive so no other word can reuse their id.
    fed: list[Word] = field(default_factory=list)
    #: What the command being walked reads on stdin from a pipe, if it lists files.
    pipe: Feed | None = None
    #: Above 0 while walking text that may run after text that follows it (a loop or
    #: function body, a trap, a nested shell): it sees what the whole line does.
    unordered: int = 0

    def _line(self) -> Effects:
        return self.effects if not self.unordered else _union(self.seed, self.effects)

    def feed(self, w: Word, feed: Feed) -> None:
        """``w`` stands for the files ``feed`` lists."""
        self.fed.append(w)
        self.feeds[id(w)] = feed

    # -- reading ------------------------------------------------------------------------
    def cwds(self) -> frozenset[str] | None:
        line = self._line()
        if self.pinned:
            targets, level, before, unknown, calls = self.pinned[-1]
            fresh = self.effects.cwd_unknown == unknown and self.calls == calls
            if level == self.unordered and fresh and targets:
                return targets | (frozenset(self.effects.cds) - before)
        if self.state.cwd is None or line.cwd_unknown:
            return None
        out = self.state.cwd | line.cds
        return out if len(out) <= MAX_CWDS else None

    def pin_for(self, targets: frozenset[str] | None) -> Pin | None:
        """What follows ``cd X &&`` runs in X (or in a directory it enters itself)."""
        if targets is None:
            return None
        cds = frozenset(self.effects.cds)
        return (targets, self.unordered, cds, self.effects.cwd_unknown, self.calls)

    def globopt(self, name: str) -> bool:
        return name in self.state.globopts or name in self._line().globopts

    def lookup(self, name: str) -> frozenset[str] | None:
        """Candidate values of ``$name`` (glob syntax), or None if unbounded."""
        if name == "HOME":
            return frozenset({globs.HOME})
        if name == "PWD":
            return self.cwds()
        if name in _COMPONENT_VARS and not self._assigned(name):
            return frozenset({"*"})  # one name: no ``/``, no leading dot
        if name == MKTEMP:
            default = {"/tmp"}  # noqa: S108 - a name, not a file we create
            tmpdir = self.lookup("TMPDIR") if self._assigned("TMPDIR") else default
            return None if tmpdir is None else frozenset(d + "/*" for d in tmpdir)
        effects = self._line()
        if name in _SPECIAL or name in effects.unknown_vars:
            return None
        line = effects.values.get(name, set())
        if name in self.current:
            return self.current[name] | (line if self.unordered else frozenset())
        if effects.all_vars_unknown:
            return None
        before = self.state.value(name)
        return None if before is None else before | line

    def _assigned(self, name: str) -> bool:
        line = self._line()
        return (
            name in self.current
            or name in line.values
            or name in line.unknown_vars
            or line.opaque
            or self.state.value(name) is not None
        )

    # -- writing ------------------------------------------------------------------------
    def assign(self, name: str, values: Iterable[str] | None, *, top: bool = False) -> None:
        """``name`` may now hold any of ``values`` (None: anything)."""
        if values is None:
            self.effects.unknown_vars.add(name)
            self.current.pop(name, None)
        else:
            self.effects.values.setdefault(name, set()).update(values)
            if top:
                self.current[name] = frozenset(values)
            elif name in self.current:
                self.current[name] = self.current[name] | frozenset(values)
        if name == "CDPATH":
            self.effects.cwd_unknown = True
        if name == "GLOBIGNORE":
            self.effects.globopts.add("dotglob")  # a set GLOBIGNORE also turns dotglob on
        if top:
            self.effects.definite.add(name)

    def run(self, prog: str, args: list[Word]) -> None:
        run_effects(self, prog, args)

    def forget_variables(self) -> None:
        """A nameref or a computed name: any variable may have changed."""
        self.effects.all_vars_unknown = True
        self.effects.opaque = True
        self.current.clear()

    def forget_everything(self) -> None:
        """``eval``, ``source``: the line runs text we do not follow."""
        self.effects.cwd_unknown = True
        self.forget_variables()

    def cd(self, targets: list[str] | None) -> None:
        self.last_cd = None if targets is None else frozenset(targets)
        if targets is None:
            self.effects.cwd_unknown = True
            return
        self.effects.cds.update(targets)
        if self.cwds() is None:
            self.effects.cwd_unknown = True

    def new_shell(self) -> None:
        """An interactive shell or a login as another user: its variables are not ours,
        and it starts in a home directory (this user's, root's or anyone's)."""
        self.effects.all_vars_unknown = True
        self.current.clear()
        self.effects.cds.update({globs.HOME, "/root", "/home/*"})

    # -- expanding words ----------------------------------------------------------------
    def expand(self, w: Word, *, split: bool = True) -> tuple[list[str], bool]:
        """The paths a word may stand for, in glob syntax, made absolute; and whether a
        part of it could not be bounded (then ``ANY`` stands in for it)."""
        feed = self.feeds.get(id(w))
        if feed is not None:
            return feed.paths(self), feed.vague
        fields, vague = self.fields(w.parts or (("g", globs.escape(w.value), False),), split)
        if fields is None:
            return [globs.ANY], True
        cwds = self.cwds()
        out: list[str] = []
        for f in fields:
            for path in self._tilde(f, cwds):
                expanded = globs.expand_braces(path)
                if expanded is None:
                    return [globs.ANY], True
                for e in expanded:
                    out.extend(p for p in globs.absolute(e, cwds) if p not in out)
            if len(out) > globs.MAX_EXPANSIONS:
                return [globs.ANY], True
        if self._home_moved() and any(globs.HOME in p for p in out):
            # ``HOME=/etc`` (itself tamper): ``~`` is no longer the home we model.
            return [p.replace(globs.HOME, globs.ANY) for p in out], True
        return out, vague

    def _home_moved(self) -> bool:
        line = self._line()
        return (
            "HOME" in line.values
            or "HOME" in line.unknown_vars
            or self.state.value("HOME") is not None
        )

    def fields(self, parts: Iterable[Part], split: bool = True) -> tuple[list[str] | None, bool]:
        """Substitute the variables of ``parts``: every combination of their candidate
        values (bounded), split into fields where bash would split them."""
        words: list[list[str]] = [[""]]
        vague = False
        for kind, text, quoted in parts:
            if kind == "g":
                values: Iterable[str] = (text,)
                active = True
            else:
                found = self.lookup(text) if kind == "v" else None
                if found is None:
                    vague = True
                    values = (globs.ANY,)
                else:
                    values = found
                active = not quoted
            nxt: list[list[str]] = []
            for current in words:
                for value in values:
                    pieces = [value]
                    if kind != "g" and active:
                        value = globs.unescape(value)
                        pieces = value.split() if split else [value]
                        if not pieces:
                            nxt.append(current)
                            continue
                    fields = [*current[:-1], current[-1] + pieces[0], *pieces[1:]]
                    nxt.append(fields)
            words = nxt
            if len(words) > globs.MAX_EXPANSIONS:
                return None, True
        return [f for fields in words for f in fields if f], vague

    def literal(self, parts: tuple[Part, ...]) -> list[str] | None:
        """The values an assignment's right side may store: no globbing, no splitting,
        a leading ``~`` expanded; None if a part cannot be bounded."""
        fixed: list[Part] = []
        for index, (kind, text, quoted) in enumerate(parts):
            if kind != "g" or quoted:
                fixed.append((kind, text, True))
                continue
            value = globs.unescape(text)
            home = ""
            if index == 0 and value.startswith("~"):
                value = globs.tilde(value)
                if value.startswith(globs.HOME):
                    home, value = globs.HOME, value[1:]
            fixed.append(("g", home + globs.escape(value), True))
        values, vague = self.fields(fixed, split=False)
        if values is None or vague:
            return None
        return values or [""]

    @staticmethod
    def _tilde(field_: str, cwds: frozenset[str] | None) -> list[str]:
        if re.match(r"~[+-]?[0-9]", field_):
            return [globs.ANY + field_.partition("/")[1] + field_.partition("/")[2]]
        if field_.startswith(("~+/", "~-/")) or field_ in ("~+", "~-"):
            rest = field_[2:]
            if field_[1] == "-" or cwds is None:
                return [globs.ANY + rest]
            return [d + rest for d in cwds]
        return [globs.tilde(field_)]


@dataclass(frozen=True, slots=True)
class Feed:
    """The paths a producer prints: ``find ROOTS [-name NAME]`` each root and everything
    below it; ``ls`` the words in ``files`` (globs, not trees)."""

    roots: tuple[Word, ...]
    name: str | None = None
    nocase: bool = False
    vague: bool = False
    files: tuple[Word, ...] = ()

    def paths(self, scope: Scope) -> list[str]:
        out: list[str] = []
        for root in self.roots:
            paths, _ = scope.expand(root)
            out.extend(p.rstrip("/") + "/" + globs.TREE for p in paths)
        return out or [globs.ANY]


def _union(a: Effects, b: Effects) -> Effects:
    values = {k: set(v) for k, v in a.values.items()}
    for k, v in b.values.items():
        values.setdefault(k, set()).update(v)
    return Effects(
        a.cds | b.cds,
        a.cwd_unknown or b.cwd_unknown,
        values,
        a.unknown_vars | b.unknown_vars,
        a.all_vars_unknown or b.all_vars_unknown,
        a.definite | b.definite,
        a.globopts | b.globopts,
        a.opaque or b.opaque,
    )


def run_effects(scope: Scope, prog: str, args: list[Word]) -> None:
    """What running ``prog`` does to the session's directory and variables."""
    if prog in ("cd", "pushd", "popd"):
        scope.cd(_cd_targets(prog, args, scope))
    elif prog in ("eval", "source", "."):
        scope.forget_everything()
    elif _starts_shell(prog, args):
        scope.new_shell()
    elif prog == "shopt":
        lits = [w.lit for w in args]
        if any(v is None for v in lits):
            scope.effects.globopts.update({"dotglob", "nocaseglob"})
        elif "-s" in lits or not any((v or "").startswith("-") for v in lits):
            scope.effects.globopts.update(v for v in lits if v and not v.startswith("-"))


#: Programs after which the shell reading the next line may be another one (its own
#: variables, another home directory).
_NEW_SHELL = frozenset({"exit", "logout", "login", "newgrp", "machinectl"})

#: Options of the user-switching programs that take a value (so ``sudo -u bob`` is not
#: mistaken for a command ``bob``).
_SWITCH_VALUES = frozenset(
    {"-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-U", "-T", "-l", "-i", "-o", "-F", "-J",
     "-L", "-R", "-b", "-c", "-e", "-m", "-O", "-S", "-w", "-W", "-E", "-s", "--user",
     "--group", "--host", "--prompt", "--chdir"}
)  # fmt: skip
_SWITCHERS = {"sudo": "-i -s --login --shell", "doas": "-s", "run0": "", "pkexec": "",
              "su": "", "sg": "", "ssh": "", "autossh": ""}  # fmt: skip


def _starts_shell(prog: str, args: list[Word]) -> bool:
    """Does the next line go to another shell (its own variables, maybe another home)?
    ``bash``, ``sudo -i``, ``su``, ``ssh host``, ``exit``; not ``bash -c CMD``,
    ``sudo CMD`` or ``ssh host CMD``."""
    if prog in _NEW_SHELL:
        return True
    lits = [w.lit for w in args]
    if prog in programs.SHELLS:
        return not any(v is None or not v.startswith(("-", "+")) or v == "-c" for v in lits)
    if prog not in _SWITCHERS:
        return False
    if any(v in _SWITCHERS[prog].split() for v in lits) or ("-c" in lits and prog == "su"):
        return prog != "su"
    operands = []
    skip = False
    for v in lits:
        if skip:
            skip = False
        elif v is not None and v.startswith("-"):
            skip = prog != "su" and v in _SWITCH_VALUES and "=" not in v
        else:
            operands.append(v)
    if prog in ("ssh", "autossh", "su", "sg"):
        return len(operands) <= 1  # a host (a user) and no command
    return not operands


def _cd_targets(prog: str, args: list[Word], scope: Scope) -> list[str] | None:
    """The directories ``cd ARGS`` may enter (None: cannot tell)."""
    pos = [w for w in args if w.lit is None or not w.lit.startswith(("-", "+")) or w.lit == "-"]
    if prog == "popd" or (prog == "pushd" and not pos) or len(pos) > 1:
        return None
    if any(w.lit is not None and w.lit.startswith("+") for w in args):
        return None  # ``pushd +2`` rotates the stack
    if not pos:
        return [globs.HOME]
    if pos[0].lit == "-":
        return None  # ``cd -`` is $OLDPWD
    found, vague = scope.expand(pos[0])
    if vague or not found or any(globs.ANY in p for p in found):
        return None  # ``cd ""`` (or a word that expands to nothing) too
    return found


def finish(state: ShellState, effects: Effects) -> ShellState:
    """The state after a line that had ``effects``."""
    cwd: frozenset[str] | None = None
    if state.cwd is not None and not effects.cwd_unknown:
        cwd = state.cwd | effects.cds
        if len(cwd) > MAX_CWDS:
            cwd = None
    known: dict[str, frozenset[str]] = {} if effects.all_vars_unknown else dict(state.variables)
    for name in set(effects.values) | effects.unknown_vars:
        line = frozenset(effects.values.get(name, ()))
        if name in effects.unknown_vars:
            known.pop(name, None)
        elif name in effects.definite:
            known[name] = line
        elif name in known:
            known[name] = known[name] | line
    variables = tuple(sorted((k, v) for k, v in known.items() if len(v) <= globs.MAX_EXPANSIONS))
    return ShellState(cwd, variables, state.globopts | frozenset(effects.globopts))


def top_level(node: Node) -> bool:
    """Does ``node`` run unconditionally, before the rest of its line, in the line's own
    shell (a statement of the line, or the first command of an ``&&``/``||`` list)?"""
    child, parent = node, node.parent
    while parent is not None:
        if parent.type == "program":
            return True
        if parent.type == "list":
            first = next((c for c in parent.children if c.is_named), None)
            if first is None or first.id != child.id:
                return False
        elif parent.type != "declaration_command":
            return False
        child, parent = parent, parent.parent
    return False


def describe(state: ShellState) -> Mapping[str, object]:
    """The state for humans (transcripts, tests)."""
    cwd = None if state.cwd is None else sorted(globs.plain(d) for d in state.cwd)
    return {
        "cwd": cwd,
        "variables": {k: sorted(globs.plain(v) for v in vs) for k, vs in state.variables},
        "globopts": sorted(state.globopts),
    }
