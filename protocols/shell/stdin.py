"""Programs that read commands, code or archives from stdin (data, then one hook).

Over SSH exec (no terminal) the client's stdin is a stream the gateway forwards but never
parses, and whatever the command line pipes or redirects into a program is a file or
output on the target. A program that takes its *commands* from stdin (``ed -s /dev/null``
fed ``!touch x``, ``patch`` fed a diff that names the files it writes, ``tar x`` fed an
archive that overwrites ``~/.ssh``) runs what the gateway never classified. Such a
command is ``code`` (reviewed by the default policy) whatever else its arguments say,
unless its stdin is a literal here-document or here-string that the classifier itself
parses (shells, ``psql``, ``crontab``).

The table below is the model: a program name, and a predicate on its arguments that says
whether it reads its commands from stdin. A predicate answers True when unsure (fail
closed). :func:`run_with_stdin` wraps the classifier's per-command hook, so wrappers
(``env``, ``nice``, ``sudo``, ``busybox``, ``bash -c``) are unwrapped before the table
is consulted.

An exec command uses it everywhere (:func:`classify_exec`): its inherited stdin is the
client's stream. On an interactive shell line the inherited stdin is the terminal, whose
submitted lines the gateway checks itself (``gateway.ssh.shell``), so ``vim notes.txt``
typed at a prompt stays ``write``; only what a pipe or an input redirect feeds
(``cat cmds | ed x``, ``ed x < cmds``) goes through the model
(:func:`classify_shell_line`).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping

import tree_sitter_bash
from tree_sitter import Language, Node, Parser

from protocols.classification import Category, Classification

from . import programs
from .core import Acc, Ctx, positionals, split_options
from .walker import parse_into, run_argv
from .words import Word, ascii_for_parser

_READS = "reads commands from stdin, which the gateway does not classify"
_UNSURE = "whether it reads commands from stdin"

#: Names a program may be given for "read stdin" (``-`` is the usual convention).
STDIN_NAMES = frozenset({"-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"})

Reads = Callable[[list[Word]], bool]


def _names(words: str) -> frozenset[str]:
    return frozenset(words.split())


def _always(args: list[Word]) -> bool:
    """Reads commands from stdin whatever its arguments (``ed FILE``, ``vim`` off a tty)."""
    return True


def _reads(
    takes_value: frozenset[str] = frozenset(),
    code_opts: frozenset[str] = frozenset(),
    *,
    stdin_flags: frozenset[str] = frozenset(),
    other_flags: frozenset[str] = frozenset(),
    max_files: int = 0,
) -> Reads:
    """A predicate for the usual command-line shape.

    Reads stdin unless an option in ``code_opts`` gives the code (``-c CMD``, ``-f FILE``
    not naming stdin), a flag in ``other_flags`` makes it do something else (``crontab
    -l``), or more than ``max_files`` positionals name scripts/files; a flag in
    ``stdin_flags`` (``bash -s``, ``python -i``) or a positional ``-`` always reads it.
    A computed argument may be anything: it reads.
    """

    def reads(args: list[Word]) -> bool:
        if any(w.lit is None for w in args):
            return True
        opts, _ = split_options(args, takes_value | code_opts)
        names = {n for n, _ in opts}
        if names & stdin_flags:
            return True
        if names & other_flags:
            return False
        if any(n in code_opts and v not in STDIN_NAMES for n, v in opts):
            return False
        pos = positionals(args, takes_value | code_opts)
        if any(w.lit in STDIN_NAMES for w in pos):
            return True
        return len(pos) <= max_files

    return reads


def _stdin_operand(*options: str, positional: bool = False) -> Reads:
    """Reads stdin when one of ``options`` names it (``-f -``, ``--file=/dev/stdin``), or,
    with ``positional``, when an operand does (``. /dev/stdin``)."""
    names = frozenset(options)

    def reads(args: list[Word]) -> bool:
        for i, w in enumerate(args):
            v = w.lit
            if v is None:
                return True
            if positional and v in STDIN_NAMES:
                return True
            name, eq, val = v.partition("=")
            if name in names and eq and val in STDIN_NAMES:
                return True
            if v in names and i + 1 < len(args) and args[i + 1].lit in STDIN_NAMES:
                return True
            if len(v) > 2 and v[:2] in names and v[2:] in STDIN_NAMES:  # -f-
                return True
            if "-si" in names and v.startswith("-si"):  # 7z -si[NAME]: the flag is stdin
                return True
        return False

    return reads


def _patch(args: list[Word]) -> bool:
    """``patch [ORIGINAL [PATCHFILE]]``: the diff comes from stdin unless ``-i`` or a
    second positional names it."""
    if any(w.lit is None for w in args):
        return True
    takes = _names("-i --input -o --output -d --directory -p -F -B -D -r -V -Y -z")
    opts, _ = split_options(args, takes)
    given = [v for n, v in opts if n in ("-i", "--input")]
    if given:
        return any(v in STDIN_NAMES for v in given)
    pos = positionals(args, takes)
    return len(pos) < 2 or pos[1].lit in STDIN_NAMES


def _tar(args: list[Word]) -> bool:
    """Extracting (``x``, ``-x``, ``--extract``, ``--get``) with no archive named, or the
    archive named ``-``: the archive decides which files are written. ``-T -`` (the list
    of members to archive, so which files are read) is unseen too."""
    if _stdin_operand("-T", "--files-from", "-X", "--exclude-from", "-f", "--file")(args):
        return True  # (a computed word is caught here as well)
    words = [w.lit or "" for w in args]
    first = words[0] if words else ""
    letters = first if first and not first.startswith("-") else ""
    letters += "".join(v[1:] for v in words if v.startswith("-") and not v.startswith("--"))
    if "x" not in letters and not {"--extract", "--get"} & set(words):
        return False
    named = "f" in letters or any(v.startswith("--file") for v in words)
    return not named or any(v in STDIN_NAMES or v.endswith("f-") for v in words)


def _git(args: list[Word]) -> bool:
    """``git apply``/``am`` with no patch file read the patch from stdin; ``fast-import``
    reads a stream of commits, ``update-ref --stdin`` ref updates, ``update-index
    --stdin``/``--index-info`` index entries."""
    pos = positionals(args)
    if not pos:
        return False
    sub = pos[0].lit
    rest = args[args.index(pos[0]) + 1 :]
    if sub is None or sub == "fast-import":
        return True
    if sub in ("apply", "am"):
        files = positionals(rest)
        return not files or any(w.lit is None or w.lit in STDIN_NAMES for w in files)
    if sub in ("update-ref", "update-index"):
        return any(w.lit in ("--stdin", "--index-info") for w in rest)
    return False


def _container_build(args: list[Word]) -> bool:
    """``docker build -`` / ``-f -``: a Dockerfile from stdin, whose RUN lines run."""
    pos = positionals(args, _names("-f --file -t --tag --build-arg --target --platform"))
    if not pos or pos[0].lit not in ("build", "buildx", "image"):
        return False
    return _stdin_operand("-f", "--file", positional=True)(args[args.index(pos[0]) + 1 :])


_SHELL_VALUES = _names("-o -O +O +o --rcfile --init-file")
_INTERPRETER_VALUES = _names("-W -X -I -M -r -x -C -l")
_INTERPRETER_CODE = _names("-c -e -E --eval -m -p --print -Command")
_DB_VALUES = _names(
    """-h --host -p --port -U --username -u --user -d --dbname -D --database -P --pset
    -v --set --variable -S --socket -o --output -T -n"""
)
_DB_CODE = _names("-c --command -f --file -e --execute -cmd")
_SHELL = _reads(_SHELL_VALUES, frozenset({"-c", "--command"}), stdin_flags=frozenset({"-s", "-i"}))
_SHELLS = _names("sh bash dash zsh ksh mksh ash yash posh rbash fish tcsh csh busybox-sh")
_INTERPRETERS = _names(
    """python python2 python3 pypy pypy3 perl ruby node nodejs php lua luajit tclsh wish
    guile R Rscript julia irb jshell deno bun pwsh expect"""
)
_DB_CLIENTS = _names("psql mysql mariadb mongo mongosh clickhouse-client cqlsh sqlcmd")
_EDITORS = _names("ed red ex vi vim nvim view vimdiff rvim elvis nex")

#: Program -> "reads its commands from stdin for these arguments". Shells and
#: interpreters are here too (their handlers already say ``code``; listing them keeps the
#: model complete when a handler changes).
STDIN_PROGRAMS: Mapping[str, Reads] = {
    **dict.fromkeys(_EDITORS, _always),
    **dict.fromkeys(_SHELLS, _SHELL),
    **dict.fromkeys(
        _INTERPRETERS,
        _reads(_INTERPRETER_VALUES, _INTERPRETER_CODE, stdin_flags=frozenset({"-i"})),
    ),
    # a database name is no script: only -c/-f say where the statements come from
    **dict.fromkeys(_DB_CLIENTS, _reads(_DB_VALUES, _DB_CODE, max_files=1_000)),
    **dict.fromkeys(("sqlite3", "duckdb"), _reads(_DB_VALUES, _DB_CODE, max_files=1)),
    # (bc is left out: it reads a calculator language with no way to run commands)
    **dict.fromkeys(("gdb", "lldb", "cpio", "at", "batch"), _always),
    "redis-cli": _reads(_DB_VALUES, stdin_flags=_names("-x")),  # no command: a REPL
    "dc": _reads(code_opts=frozenset({"-e", "--expression", "-f", "--file"})),
    "m4": _reads(_names("-D -U -I -o -d -l -F -R")),
    "patch": _patch,
    "tar": _tar,
    "bsdtar": _tar,
    "gtar": _tar,
    "crontab": _reads(frozenset({"-u"}), other_flags=frozenset({"-l", "-r", "-e"})),
    "openssl": lambda args: not args,  # the interactive ``OpenSSL>`` command prompt
    "git": _git,
    "docker": _container_build,
    "podman": _container_build,
    "buildah": _container_build,
    "7z": _stdin_operand("-si"),
    "7za": _stdin_operand("-si"),
    "wget": _stdin_operand("-i", "--input-file"),  # the URL list (what is fetched where)
    "curl": _stdin_operand("-K", "--config"),  # a config can name uploads and outputs
    "make": _stdin_operand("-f", "--file", "--makefile"),
    "awk": _stdin_operand("-f", "--file"),
    "gawk": _stdin_operand("-f", "--file"),
    "mawk": _stdin_operand("-f", "--file"),
    "sed": _stdin_operand("-f", "--file"),
    "source": _stdin_operand(positional=True),
    ".": _stdin_operand(positional=True),
}

#: ``-v`` alone prints the version and exits (``ruby -v`` and ``python -v`` go on to read
#: stdin, so they are not here).
_V_IS_VERSION = _names("node nodejs perl php deno bun")

#: Programs whose *literal* stdin (here-document, here-string) the classifier parses
#: itself; for every other program even a literal stdin holds commands nobody classified.
PARSES_LITERAL_STDIN = _names(
    "sh bash dash zsh ksh mksh ash yash posh rbash busybox-sh psql mysql mariadb crontab"
)


#: Command lines that feed a secret through stdin (``sudo -S``, ``--password-stdin``...):
#: their exec stdin is recorded only as ``hidden`` (what is recorded, never what is
#: decided). A loose text match on purpose: hiding too much costs nothing but audit detail.
SECRET_STDIN = re.compile(
    r"""\bsudo\b[^;&|]*\s-[a-zA-Z]*S|--password-stdin|--passphrase-fd|--with-token|
    --token-stdin|--secret-stdin|\bchpasswd\b|\bchgpasswd\b|\bpasswd\b[^;&|]*--stdin|
    \bread\b[^;&|]*\s-[a-zA-Z]*s|-pass(?:in|out)?\s+(?:stdin|fd:0)|\bhtpasswd\b[^;&|]*\s-[a-zA-Z]*i|
    \bkinit\b|\bcryptsetup\b|\bvault\s+login\b|/dev/stdin|\bssh-add\b|\bgpg\b[^;&|]*--batch""",
    re.VERBOSE,
)


def stdin_is_secret(command_line: str) -> bool:
    """Whether an exec's stdin likely carries a password or token (see SECRET_STDIN)."""
    return SECRET_STDIN.search(command_line) is not None


def stdin_is_code(argv: list[Word], literal_stdin: bool) -> str | None:
    """Why ``argv`` runs commands from stdin the gateway did not classify, or None."""
    if not argv or argv[0].lit is None:
        return None  # a computed command name is already unknown + code
    prog = posixpath.basename(argv[0].lit)
    reads = STDIN_PROGRAMS.get(prog)
    if reads is None:
        return None
    if literal_stdin and prog in PARSES_LITERAL_STDIN:
        return None
    lits = tuple(w.lit for w in argv[1:])
    if lits in programs.VERSION_FORMS or (lits == ("-v",) and prog in _V_IS_VERSION):
        return None  # `python3 --version`: prints and exits
    try:
        if not reads(argv[1:]):
            return None
    except Exception:  # a predicate bug must not let the command pass as benign
        return f"{prog}: could not tell {_UNSURE}"
    return f"{prog} {_READS}"


def run_with_stdin(argv: list[Word], acc: Acc, ctx: Ctx) -> None:
    """The classifier's per-command hook plus the stdin model (see module docstring)."""
    run_argv(argv, acc, ctx)
    why = stdin_is_code(argv, ctx.stdin is not None)
    if why is not None:
        acc.add(Category.CODE, why)


def classify_exec(command_line: str) -> Classification:
    """Classify an SSH exec command: :func:`protocols.shell.classify_shell` plus the
    stdin model. Never raises (an internal error is ``unknown``)."""
    from protocols.shell import MAX_LENGTH

    try:
        if len(command_line) > MAX_LENGTH:
            return Classification.unknown("command line too long to classify")
        if "\x00" in command_line:
            return Classification.unknown("NUL byte in command line")
        acc = Acc()
        parse_into(command_line, acc, Ctx(0, None, set(), parse_into, run_with_stdin))
        return acc.result()
    except Exception as exc:  # fail closed on any bug, as classify_shell does
        return Classification.unknown(f"shell classifier error: {type(exc).__name__}: {exc}")


_PARSER = Parser(Language(tree_sitter_bash.language()))
_INPUT_REDIRECTS = frozenset({"heredoc_redirect", "herestring_redirect"})
_INPUT_OPS = frozenset({"<", "<&", "<>"})


def _fed_parts(node: Node, source: str, out: list[str]) -> None:
    """Text of every pipeline stage after the first and of every statement with an input
    redirect: the parts whose stdin is not the terminal."""
    if node.type == "pipeline":
        stages = [c for c in node.children if c.is_named]
        out.extend(source[c.start_byte : c.end_byte] for c in stages[1:])
    elif node.type in ("redirected_statement", "command") and any(
        c.type in _INPUT_REDIRECTS
        or (c.type == "file_redirect" and {t.type for t in c.children} & _INPUT_OPS)
        for c in node.children
    ):
        out.append(source[node.start_byte : node.end_byte])
    for child in node.children:
        _fed_parts(child, source, out)


def _stdin_code(result: Classification) -> Classification | None:
    """Only what the stdin model added to ``result`` (``code`` with its reasons), or the
    whole result when the classifier could not read the line (fail closed)."""
    if Category.UNKNOWN in result.categories and not result.statements:
        return result
    reasons = tuple(
        r
        for r in result.reasons
        if r.endswith(_READS) or "whether it reads commands from stdin" in r
    )
    return Classification((), frozenset({Category.CODE}), (), reasons) if reasons else None


def exec_stdin_code(command_line: str) -> Classification | None:
    """The stdin model for an exec without a terminal: all of its stdin is the client's
    stream. Combined by the checkpoint with the stateful classification of the line."""
    return _stdin_code(classify_exec(command_line))


def fed_stdin_code(line: str) -> Classification | None:
    """The stdin model for a line whose stdin is the (checked) terminal: only the parts a
    pipe or input redirect feeds. Never raises."""
    try:
        parts: list[str] = []
        _fed_parts(_PARSER.parse(ascii_for_parser(line)).root_node, line, parts)
        found = [_stdin_code(classify_exec(part)) for part in parts[:64]]
    except Exception as exc:  # fail closed, as the classifier does
        return Classification.unknown(f"stdin model error: {type(exc).__name__}")
    merged: Classification | None = None
    for extra in found:
        if extra is not None:
            merged = extra if merged is None else merged.merge(extra)
    return merged


def classify_shell_line(line: str) -> Classification:
    """Classify an interactive shell line: :func:`protocols.shell.classify_shell`, plus
    ``code`` where a pipe or input redirect feeds commands to a program (the stdin model
    applied to those parts only). Never raises."""
    from protocols.shell import classify_shell

    base = classify_shell(line)
    if Category.UNKNOWN in base.categories and not base.statements:
        return base  # not parsed: already unknown
    extra = fed_stdin_code(line)
    return base if extra is None else base.merge(extra)
