"""Which files a command can reach, with the session's directory and variables known.

:mod:`.paths` judges a path by its text; this module judges it by what bash will hand
the program: the word expanded with the shell state (:mod:`.state`), made absolute
against every candidate directory, its globs and braces kept as languages and tested
against the secret patterns by intersection (:mod:`.globs`). Recursive readers and
``find`` (its ``-exec {}``, or a pipe into ``xargs``) read whole trees.

Fail closed: a path a reading or writing program uses that we cannot bound (an unknown
variable, ``$(...)``, a relative path while the directory is unknown) is ``unknown``.
"""

# Word lists are written as whitespace-separated strings: far easier to read and review
# as data than hundreds of quoted literals.
# ruff: noqa: SIM905

from __future__ import annotations

import itertools
from fnmatch import fnmatchcase

from protocols.classification import Category

from . import globs, paths, programs
from .core import Acc, has_flag, positionals
from .state import Feed, Scope
from .words import Word

C = Category

#: Programs that read the files their operands name (their content reaches the session
#: or somewhere else). Only for them is an operand we cannot bound ``unknown``.
READERS: frozenset[str] = frozenset(
    """
    cat tac nl less more most head tail base64 base32 basenc xxd od hexdump hd strings
    cp scp rsync tar bsdtar gtar zip 7z 7za 7zr gzip bzip2 xz zstd lz4 sort uniq cut paste
    join diff diff3 sdiff cmp comm fold rev iconv view vi vim nvim nano emacs grep egrep
    fgrep zgrep rg ag ack awk gawk mawk nawk sed jq yq xq wc md5sum sha1sum sha256sum
    sha512sum b2sum cksum sum tee dd install ln mv split csplit cpio pr fmt expand unexpand
    zcat zless zmore bzcat xzcat column look shuf tsort xmllint
    """.split()
)

#: Programs whose operands are not files they read (or not files at all).
NOT_READERS: frozenset[str] = (
    frozenset(
        """
        echo printf rm rmdir unlink mkdir touch kill pkill pgrep which type command test [
        true false : sleep seq expr let export declare local readonly typeset unset alias
        cd pushd popd set shopt read getopts wait date hostname ping dig host nslookup id
        groups pwd basename dirname realpath readlink whereis whatis man help exit return
        printenv env nohup time timeout nice sudo doas xargs find
        """.split()
    )
    | programs.METADATA_ONLY
)

#: The first operand is a pattern or a program, not a file (unless ``-e``/``-f`` gave it).
_PATTERN_FIRST = frozenset("grep egrep fgrep zgrep rg ag ack sed awk gawk mawk nawk jq".split())

#: Options that take a separate value, per program, so the value is not mistaken for an
#: operand (nor an operand for the pattern). A program not listed is read as taking none:
#: its option values are then also checked as paths, which can only add flags.
_GREP_V = "-e -f -m -A -B -C -d -D --regexp --file --max-count --context --label"
_RG_V = "-e -f -g -t -T -m -A -B -C -j -M -E --type --glob --iglob --max-count --threads"
_VALUES: dict[str, frozenset[str]] = {
    **dict.fromkeys("grep egrep fgrep zgrep".split(), frozenset(_GREP_V.split())),
    **dict.fromkeys("rg ag ack".split(), frozenset(_RG_V.split())),
    "sed": frozenset("-e -f -l --expression --file --line-length".split()),
    **dict.fromkeys("awk gawk mawk nawk".split(), frozenset("-F -v -f".split())),
    "jq": frozenset("-f --from-file --indent --arg --argjson --slurpfile --rawfile".split()),
    **dict.fromkeys("head tail".split(), frozenset("-n -c --lines --bytes".split())),
    "cut": frozenset("-d -f -c -b --delimiter --fields --characters --bytes".split()),
    "sort": frozenset("-k -t -o -S -T --key --field-separator --output".split()),
    "split": frozenset("-l -b -n -C -a".split()),
    "xxd": frozenset("-l -s -c -g".split()),
    "od": frozenset("-j -N -t -A -w".split()),
    "base64": frozenset("-w --wrap".split()),
    "fold": frozenset("-w".split()),
    "nl": frozenset("-b -s -w -v -i".split()),
    "uniq": frozenset("-f -s -w".split()),
    "tar": frozenset("-f -C -T -X -b --file --directory".split()),
    "zip": frozenset("-x -i -b -t -tt -P".split()),
    "dd": frozenset(),
}

#: jq options that take two values (``--arg NAME VALUE``).
_TWO_VALUES = frozenset("--arg --argjson --slurpfile --rawfile".split())


#: Filters that pass ``find``'s list on unchanged or thinned (for a later ``xargs``).
_PASS_THROUGH = frozenset("sort uniq head tail grep egrep fgrep tac shuf tee cat".split())


def _positionals(prog: str, args: list[Word]) -> list[Word]:
    """Operands (GNU style: anywhere, until ``--``), skipping ``prog``'s option values."""
    takes = _VALUES.get(prog, frozenset())
    out: list[Word] = []
    i = 0
    while i < len(args):
        v = args[i].lit
        i += 1
        if v == "--":
            return out + args[i:]
        if v is not None and v.startswith("-") and v != "-":
            if v in takes:
                i += 2 if v in _TWO_VALUES else 1
            continue
        out.append(args[i - 1])
    return out


def _operands(prog: str, args: list[Word]) -> list[Word]:
    """The words a program may open as files: operands and ``--opt=FILE``/``if=FILE``."""
    out = [w for w in args if (w.lit or "").startswith("-") and "=" in (w.lit or "")]
    pos = _positionals(prog, args)
    if prog in _PATTERN_FIRST and not has_flag(args, "-e", "-f", "--regexp", "--file"):
        pos = pos[1:]
    return out + pos


def _looks_like_path(w: Word) -> bool:
    """A word that names a file whatever program gets it: a ``/``, ``~``, ``.``, a glob,
    or an expansion (``cat`` aside, ``echo shadow`` is not a read of ``shadow``)."""
    if any(kind != "g" for kind, _, _ in w.parts):
        return True
    return any(ch in w.value for ch in "/~.*?[{")


def _option_value(w: Word) -> Word | None:
    """``--file=/x``, ``if=/x``: the part after ``=`` (with its globs and expansions);
    None for a plain option; the word itself otherwise."""
    text = w.lit if w.lit is not None else w.text
    if not (text.startswith("-") or text[:3] in ("if=", "of=")):
        return w
    if "=" not in text:
        return None if w.lit is not None else w
    parts = list(w.parts) or [("g", globs.escape(w.value), False)]
    for index, (kind, piece, quoted) in enumerate(parts):
        if kind != "g":
            return w
        if "=" in piece:
            rest = [("g", piece.partition("=")[2], quoted), *parts[index + 1 :]]
            lit = w.lit.partition("=")[2] if w.lit is not None else None
            return Word(lit, text.partition("=")[2], tuple(rest))
    return w


def scan(prog: str, args: list[Word], acc: Acc) -> None:
    """Secrets a program's arguments can reach are export; ones it writes are flagged as
    :mod:`.paths` does for plain text; an operand that cannot be bounded is unknown."""
    scope = acc.scope
    reads = prog not in NOT_READERS
    modifies = prog in programs.MODIFIES_ARGS
    if not (reads or modifies):
        return
    operands = {id(w) for w in (_operands(prog, args) if reads else positionals(args))}
    pattern = _pattern(prog, args)
    for raw in args:
        if raw is pattern:
            continue
        if id(raw) in scope.feeds:
            _tree(prog, args, raw, acc, scope.feeds[id(raw)])
            continue
        w = _option_value(raw)
        operand = id(raw) in operands
        if w is None or not ((operand and prog in READERS) or _looks_like_path(w)):
            continue
        found, vague = scope.expand(w)
        unbounded = vague or any(globs.ANY in p for p in found)
        if unbounded and operand and (prog in READERS or modifies):
            acc.add(C.UNKNOWN, f"{prog} opens {w.text!r}, which could be any file")
        if reads and any(_secret(p, scope) for p in found):
            acc.add(C.EXPORT, f"{prog} can read a secret file through {w.text!r}")
            acc.obj("path", w.text)
        if modifies and operand:
            _written(prog, w, found, acc)
    for w in tree_sources(prog, args):
        _tree(prog, args, w, acc, scope.feeds.get(id(w)))
    listed = _list_input(prog, args)
    if listed is not None:
        _tree(prog, args, Word(None, "-"), acc, xargs_input(acc, from_file=listed != "-"))


def _list_input(prog: str, args: list[Word]) -> str | None:
    """Where an archiver reads the names of the files to read (``find | cpio -o``,
    ``tar -T -``, ``zip -@``, ``rsync --files-from=-``): ``-`` for stdin, else a file."""
    lits = [w.lit if w.lit is not None else "*" for w in args]
    if prog in ("cpio", "afio") and has_flag(args, "-o", "--create"):
        return "-"
    if prog == "zip" and "-@" in lits:
        return "-"
    for i, v in enumerate(lits):
        name, eq, value = v.partition("=")
        if prog in ("tar", "bsdtar", "gtar") and name in ("-T", "--files-from"):
            return value if eq else (lits[i + 1] if i + 1 < len(lits) else "-")
        if prog == "rsync" and name in ("--files-from", "--include-from"):
            return value if eq else (lits[i + 1] if i + 1 < len(lits) else "-")
        short = v.startswith("-") and not v.startswith("--") and "T" in v[1:]
        if prog in ("tar", "bsdtar", "gtar") and short:
            return lits[i + 1] if i + 1 < len(lits) else "-"
    return None


def _pattern(prog: str, args: list[Word]) -> Word | None:
    """grep's pattern, sed's script, awk's program: not a file."""
    if prog not in _PATTERN_FIRST or has_flag(args, "-e", "-f", "--regexp", "--file"):
        return None
    pos = _positionals(prog, args)
    return pos[0] if pos else None


#: Characters of glob paths one line may have intersected with the secret patterns; the
#: search is polynomial, but a megabyte of ``*?*?`` must not buy minutes of it.
GLOB_BUDGET = 8192


def _secret(path: str, scope: Scope, tree: bool = False, hidden: bool = True) -> bool:
    if scope.globopt("nocaseglob"):
        path = path.lower()
    if tree or not globs.is_literal(path):
        scope.glob_work += len(path)
        if scope.glob_work > GLOB_BUDGET or len(path) > globs.MAX_GLOB:
            return True  # too much to decide: treated as reaching a secret (reviewed)
    return globs.reaches_secret(path, tree=tree, dotglob=scope.globopt("dotglob"), hidden=hidden)


def _written(prog: str, w: Word, found: list[str], acc: Acc) -> None:
    for path in found:
        cats = paths.write_categories(globs.plain(path)) - {C.WRITE, C.UNKNOWN}
        if cats:
            acc.add(cats, f"{prog} modifies {globs.plain(path)}")
            acc.obj("path", globs.plain(path))


def _tree(prog: str, args: list[Word], w: Word, acc: Acc, feed: Feed | None) -> None:
    """``w`` is read with everything below it (a recursive reader, find's list)."""
    scope = acc.scope
    roots = list(feed.roots) if feed is not None else [w]
    if feed is not None and feed.vague:
        acc.add(C.UNKNOWN, f"{prog} reads files from input the gateway cannot bound")
        return
    for listed in feed.files if feed is not None else ():
        found, vague = scope.expand(listed)
        if vague or any(globs.ANY in p for p in found):
            acc.add(C.UNKNOWN, f"{prog} reads files listed from {listed.text!r}")
        if any(_secret(p, scope) for p in found):
            acc.add(C.EXPORT, f"{prog} can read a secret file listed from {listed.text!r}")
    for root in roots:
        found, vague = scope.expand(root)
        if vague or any(globs.ANY in p for p in found):
            acc.add(C.UNKNOWN, f"{prog} reads a tree at {root.text!r}, which could be anywhere")
        names = [feed.name] if feed is not None and feed.name is not None else []
        if feed is None and prog in _GREPS:
            names = _includes(args)
        hidden = prog not in _SKIP_HIDDEN or has_flag(args, "--hidden", "-u", "-.")
        if any(_secret(p, scope, True, hidden) for p in found) and _named(names, feed):
            acc.add(C.EXPORT, f"{prog} reads everything under {globs.plain(found[0])}")
            acc.obj("path", globs.plain(found[0]))


def _named(names: list[str], feed: Feed | None) -> bool:
    """Could ``find -name NAME`` (``grep -r --include=NAME``) list a secret? Judged on the
    names secrets really have: every name pattern could match *some* file in ``~/.gnupg``,
    so the could-match test alone would flag ``find . -name '*.py' -exec grep x {} +``
    from a home directory. No names: no filter."""
    if not names:
        return True
    nocase = feed is not None and feed.nocase
    for name in names:
        name = name.lower() if nocase else name
        if any(fnmatchcase(e.lower() if nocase else e, name) for e in globs.SECRET_NAMES):
            return True
    return False


def _includes(args: list[Word]) -> list[str]:
    """``grep -r --include=GLOB``: the names it reads (empty: all, or not literal)."""
    out: list[str] = []
    for w, nxt in zip(args, [*args[1:], None], strict=True):
        lit = w.lit or ""
        value: str | None = None
        if lit.startswith("--include="):
            value = lit.partition("=")[2]
        elif lit == "--include" and nxt is not None:
            value = nxt.lit
            if value is None:
                return []
        elif w.lit is None and "--include" in w.text:
            return []  # a computed filter: no filter
        if value is not None:
            out.append(value)
    return out


def tree_sources(prog: str, args: list[Word]) -> list[Word]:
    """Operands a recursive reader, archiver or copier reads as whole trees (a
    recursive grep with no file operand, ``rg`` and ``ag`` read the directory)."""
    ops = [w for w in args if not w.value.startswith("-") or w.lit is None]
    recursive = has_flag(args, "-r", "-R", "-a", "--recursive", "--archive") or any(
        (w.lit or "") == "--directories=recurse" for w in args
    )
    if prog in _GREPS and any(
        a.lit == "-d" and b.lit == "recurse" for a, b in itertools.pairwise(args)
    ):
        recursive = True
    if prog in ("tar", "bsdtar", "gtar"):
        mode = ops[0].value if ops and args[0] is ops[0] else ""
        if has_flag(args, "-x", "-t", "--extract", "--get", "--list") or set(mode) & set("xt"):
            return []
        return ops + _below(_tar_directory(args), ops)
    if prog in ("zip", "7z", "7za", "7zr", "rsync"):
        return ops
    if prog in ("cp", "scp") and recursive:
        return ops[:-1]
    searches = prog in ("rg", "ag", "ack") or (prog in _GREPS and recursive)
    if searches and len(ops) <= 1 and not has_flag(args, "-e", "-f", "--regexp", "--file"):
        return [*ops, Word(".", ".")]
    if searches or (prog == "diff" and recursive):
        return ops
    return []


def _tar_directory(args: list[Word]) -> Word | None:
    """``tar -C DIR`` / ``--directory=DIR``: where its relative operands are."""
    for w, nxt in zip(args, [*args[1:], None], strict=True):
        lit = w.lit or ""
        if lit.startswith("--directory="):
            return _option_value(w)
        if (lit in ("-C", "--directory") or (lit[:1] == "-" and lit.endswith("C"))) and nxt:
            return nxt
    return None


def _below(directory: Word | None, ops: list[Word]) -> list[Word]:
    """The operands read relative to ``directory`` (also kept as they are: over-approx)."""
    if directory is None:
        return []
    head = directory.parts or (("g", globs.escape(directory.value), False),)
    out = []
    for w in ops:
        parts = w.parts or (("g", globs.escape(w.value), False),)
        if not w.value.startswith(("/", "~")):
            out.append(Word(None, f"{directory.text}/{w.text}", (*head, ("g", "/", False), *parts)))
    return out


_GREPS = frozenset("grep egrep fgrep zgrep".split())
#: Recursive searchers that skip hidden files unless told otherwise (ack: its default
#: ignore list, taken as the same).
_SKIP_HIDDEN = frozenset({"rg", "ag", "ack"})


def redirect(target: Word, acc: Acc, *, write: bool) -> None:
    """``< FILE`` reads it, ``> FILE`` writes it: the same checks as an operand."""
    scope = acc.scope
    found, vague = scope.expand(target, split=False)
    if vague or any(globs.ANY in p for p in found):
        what = "output to" if write else "input from"
        acc.add(C.UNKNOWN, f"{what} {target.text!r}, which could be any file")
    if write:
        _written("redirect", target, found, acc)
    elif any(_secret(p, scope) for p in found):
        acc.add(C.EXPORT, f"input read from a secret file through {target.text!r}")
        acc.obj("path", target.text)


# -- find and xargs ---------------------------------------------------------------------

#: find expressions that make ``-name`` no longer the only filter.
_FIND_OTHER = frozenset(
    "-o -or ! -not -path -wholename -ipath -iwholename -regex -iregex -lname -ilname , (".split()
)


def find_feed(args: list[Word]) -> Feed:
    """What ``find ARGS`` prints: its roots (before the expression) and a ``-name``."""
    roots: list[Word] = []
    i = 0
    while i < len(args) and args[i].lit in ("-H", "-L", "-P", "-D", "-O"):
        i += 2 if args[i].lit == "-D" else 1
    while i < len(args) and not (args[i].value.startswith(("-", "(", "!")) and args[i].lit):
        roots.append(args[i])
        i += 1
    # Options before the roots (-H, -L, -P) are skipped by the loop above only if first.
    names = [(a.value, b) for a, b in zip(args[i:], args[i + 1 :], strict=False)]
    filters = [(n, w) for n, w in names if n in ("-name", "-iname")]
    others = any(w.value in _FIND_OTHER for w in args[i:])
    name: str | None = None
    nocase = False
    if len(filters) == 1 and not others and filters[0][1].lit is not None:
        name, nocase = filters[0][1].lit, filters[0][0] == "-iname"
    return Feed(tuple(roots) or (Word(".", "."),), name, nocase)


def substitute(args: list[Word], placeholder: str, feed: Feed, acc: Acc) -> list[Word]:
    """``find -exec CMD {} +`` / ``xargs -I {} CMD {}``: the placeholder is find's list."""
    out: list[Word] = []
    for w in args:
        if placeholder and placeholder in (w.lit if w.lit is not None else w.text):
            w = Word(None, w.text)
            acc.scope.feed(w, feed)
        out.append(w)
    return out


def xargs_input(acc: Acc, from_file: bool = False) -> Feed:
    """What ``xargs`` reads: find's list through a pipe, else lines we cannot bound."""
    if acc.scope.pipe is not None and not from_file:
        return acc.scope.pipe
    return Feed((), vague=True)


def xargs_word(acc: Acc, from_file: bool = False) -> Word:
    """The arguments xargs appends, as one word standing for its input list."""
    w = Word(None, "{}")
    acc.scope.feed(w, xargs_input(acc, from_file))
    return w


def _ls_feed(args: list[Word]) -> Feed:
    """``ls ARGS`` prints its file operands as given and a directory's entries by name
    (which a later ``xargs cat`` opens here); ``-a``/``-A`` include hidden names."""
    ops = [w for w in args if not (w.lit or "").startswith("-")]
    hidden = has_flag(args, "-a", "-A", "--all", "--almost-all")
    if has_flag(args, "-R", "--recursive"):
        return Feed(tuple(ops) or (Word(".", "."),))
    names = Word(None, "*", (("g", ".*" if hidden else "*", False),))
    return Feed((), files=(*ops, names))


def pipe_output(prog: str | None, args: list[Word], incoming: Feed | None) -> Feed | None:
    """What a pipeline stage passes on to the next, if it is (still) a list of files."""
    if prog == "find":
        return find_feed(args)
    if prog == "git" and [w.lit for w in args[:1]] == ["ls-files"]:
        return Feed((Word(".", "."),))  # files of the repository below here
    if prog == "ls":
        return _ls_feed(args)
    if prog is None or prog not in _PASS_THROUGH:
        return None
    ops = _positionals(prog, args)
    if prog in _GREPS and not has_flag(args, "-e", "-f", "--regexp", "--file"):
        ops = ops[1:]
    return None if ops else incoming
