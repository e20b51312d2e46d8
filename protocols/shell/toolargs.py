"""Handlers that apply the option models (``argspecs``, ``archives``, ``sedawk``).

Every program of the read/write tables gets one here: a program with a model is parsed
by it; one without (a builtin, or a program nobody wrote a model for yet) may take no
options at all: any option makes it ``unknown`` (fail closed, see ``argmodel``).
"""

# Option lists are written as whitespace-separated strings: far easier to read and review
# as data than hundreds of quoted literals.
# ruff: noqa: SIM905

from __future__ import annotations

import posixpath
import re

from protocols.classification import Category

from . import archives, editors, handlers, paths, programs, sedawk
from .argmodel import ArgModel, Mode, Parsed, apply, model, parse
from .argspecs import SPECS
from .core import Acc, Ctx, Handler
from .words import Word

C = Category


def _default(prog: str, acc: Acc) -> None:
    acc.add(programs.PROGRAMS.get(prog, frozenset({C.READ})), f"runs {prog}")


def modelled(m: ArgModel, mode: Mode | None = None, then: Handler | None = None) -> Handler:
    """A handler: parse by ``m``, apply the option roles, then the program's own mode."""

    def run(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
        parsed = parse(m, args)
        apply(prog, parsed, acc, m)
        if mode is not None:
            mode(prog, parsed, acc, ctx)
        elif then is not None:
            then(prog, args, acc, ctx)
        else:
            _default(prog, acc)

    return run


# --- compilers ------------------------------------------------------------------------

#: gcc/clang option words that only tune compilation (prefix match, one dash).
_CC_PLAIN = re.compile(
    r"-(?:O\w*|g\w*|W(?![lap],)[\w=+-]*|f(?!plugin)[\w=.+-]*|m[\w=.+-]*|std=\S+|D\S*|U\S*"
    r"|I\S*|L\S*|l\S*|c|S|E|v|w|s|P|C|pipe|pedantic(?:-errors)?|ansi|shared|static\S*"
    r"|pthread|pie|no-pie|rdynamic|nostdlib|nostdinc|nodefaultlibs|M|MM|MD|MMD|MG|MP"
    r"|save-temps\S*|print-\S+|dumpversion|dumpmachine|dumpspecs|-version|-help|Q|H"
    r"|x(?:none|c|c\+\+|assembler\S*)?|target=\S+|-target=\S+|isysroot\S*|undef|trigraphs)"
)
_CC_VALUE = frozenset(
    "-o -x -I -L -D -U -isystem -include -imacros -iquote -idirafter -MF "
    "-MT -MQ -target -arch -isysroot -l".split()
)


def cc(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    """gcc, cc, clang...: a whitelist of tuning options; what runs or loads code is code."""
    acc.add(C.WRITE, f"{prog} compiles")
    i = 0
    while i < len(args):
        w = args[i]
        i += 1
        v = w.lit
        if v is None:
            if w.text.startswith(("*", "-", "@")):
                acc.add(C.UNKNOWN, f"{prog}: a computed argument could be an option")
            continue
        if v.startswith("@"):
            acc.add(C.UNKNOWN, f"{prog} reads options from {v[1:]}")
            acc.add(paths.read_categories(v[1:], tuple(acc.cwds)), f"{prog} reads {v[1:]}")
            continue
        if not v.startswith("-") or v == "-":
            continue
        if v in _CC_VALUE:
            value = args[i].value if i < len(args) else ""
            i += 1
            if v == "-o":
                acc.add(paths.write_categories(value), f"{prog} -o writes {value}")
            elif v in ("-include", "-imacros"):
                acc.add(paths.read_categories(value, tuple(acc.cwds)), f"{prog} reads {value}")
            continue
        if v.startswith("-o"):
            acc.add(paths.write_categories(v[2:]), f"{prog} -o writes {v[2:]}")
        elif not _CC_PLAIN.fullmatch(v):
            # -wrapper, -B, -fplugin, -specs, -Wl,/-Wa,/-Wp,, -Xlinker, -fuse-ld...
            acc.add(C.CODE, f"{prog} {v} can run or load other programs")


def javac(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    # Annotation processors found on the class path (default: ``.``) run at compile time.
    acc.add(C.WRITE, f"{prog} compiles")
    if not any(w.lit == "-proc:none" for w in args):
        acc.add(C.CODE, f"{prog} runs annotation processors from its class path")


RUSTC = model(
    "gOVhvL:l:o:C:W:A:D:F:",
    "help version verbose crate-type= crate-name= edition= emit= print= out-dir= explain= "
    "test target= cap-lints= cfg= json= error-format= color= remap-path-prefix= "
    "codegen= warn= allow= deny= forbid= extern=",
    output="-o --out-dir",
    mode="-C --codegen --extern",
)


def rustc(prog: str, parsed: Parsed, acc: Acc, ctx: Ctx) -> None:
    acc.add(C.WRITE, f"{prog} compiles")
    for v in parsed.values("-C", "--codegen"):
        if v is None or re.match(r"(linker|link-arg|link-args|llvm-args|passes)\b", v.value):
            acc.add(C.CODE, f"{prog} -C {v.value if v else ''} runs other programs")
    if parsed.has("--extern"):
        acc.add(C.CODE, f"{prog} --extern may load procedural macros (code)")


# --- writers --------------------------------------------------------------------------

SPLIT = model(
    "a:b:C:del:n:t:ux",
    "additional-suffix= bytes= elide-empty-files filter= help hex-suffixes:: line-bytes= "
    "lines= number= numeric-suffixes:: separator= suffix-length= unbuffered verbose version",
    code="--filter",
    mode="--additional-suffix",
)


def split(prog: str, parsed: Parsed, acc: Acc, ctx: Ctx) -> None:
    acc.add(C.WRITE, f"{prog} writes pieces")
    prefix = parsed.operands[1].value if len(parsed.operands) > 1 else "x"
    suffix = next((v.value for v in parsed.values("--additional-suffix") if v), "")
    if "/" in suffix:
        acc.add(C.UNKNOWN, f"{prog} suffix names another directory")
    acc.add(paths.write_categories(f"{prefix}aa{suffix}"), f"{prog} writes {prefix}*")


CSPLIT = model(
    "b:f:kn:szq",
    "digits= elide-empty-files help keep-files prefix= quiet silent suffix-format= "
    "suppress-matched version",
    mode="-b --suffix-format -f --prefix",
)


def csplit(prog: str, parsed: Parsed, acc: Acc, ctx: Ctx) -> None:
    acc.add(C.WRITE, f"{prog} writes pieces")
    prefix = next((v.value for v in parsed.values("-f", "--prefix") if v), "xx")
    suffix = next((v.value for v in parsed.values("-b", "--suffix-format") if v), "%02d")
    if "/" in suffix:
        acc.add(C.UNKNOWN, f"{prog} suffix format names another directory")
    name = prefix + re.sub(r"%[-0-9.#]*[a-z]", "0", suffix)
    acc.add(paths.write_categories(name), f"{prog} writes {name}")


XXD = model(
    "abCeEhiruvdRpsc:g:l:n:o:s:",
    "autoskip bits capitalize ebcdic little-endian include postscript plain revert "
    "uppercase version cols= groupsize= len= name= offset= seek= help",
)


def xxd(prog: str, parsed: Parsed, acc: Acc, ctx: Ctx) -> None:
    """``xxd [-r] infile outfile``: the second operand is written in either direction."""
    if len(parsed.operands) > 1:
        out = parsed.operands[1].value
        acc.add(paths.write_categories(out), f"{prog} writes {out}")
    else:
        acc.add(C.READ, f"{prog} dumps")


def dos2unix(prog: str, parsed: Parsed, acc: Acc, ctx: Ctx) -> None:
    cwds = tuple(acc.cwds)
    if parsed.has("-O", "--stdout"):
        for w in parsed.operands:
            acc.add(paths.read_categories(w.value, cwds), f"{prog} prints {w.value}")
        acc.add(C.READ, f"{prog} converts to standard output")
        return
    acc.add(C.WRITE, f"{prog} converts files in place")
    new = parsed.has("-n", "--newfile")
    for k, w in enumerate(parsed.operands):
        if new and k % 2 == 1:
            acc.add(paths.write_categories(w.value), f"{prog} writes {w.value}")
        elif not new:
            acc.add(paths.write_categories(w.value) - {C.WRITE}, f"{prog} rewrites {w.value}")


def install(prog: str, parsed: Parsed, acc: Acc, ctx: Ctx) -> None:
    acc.add(C.WRITE, f"{prog} copies files")
    if parsed.has("-o", "--owner", "-g", "--group"):
        acc.add(C.PRIVILEGE, f"{prog} sets the owner or group")
    for v in parsed.values("-m", "--mode"):
        if v is None or re.search(
            r"[+=][rwxXt]*s|^[0-7]*[2-7][0-7]{3}$|o?[+=]\w*w|[0-7]{2}[2367]$", v.value
        ):
            acc.add(C.PRIVILEGE, f"{prog} sets setuid/setgid or world-writable modes")
    if parsed.operands:
        dest = parsed.operands[-1].value
        acc.add(paths.write_categories(dest) - {C.WRITE}, f"{prog} writes {dest}")


def copy(prog: str, parsed: Parsed, acc: Acc, ctx: Ctx) -> None:
    """cp, mv, ln, install: the destination may be a directory, so each source's name
    below it is written too (``cp authorized_keys ~/.ssh``)."""
    acc.add(C.WRITE, f"{prog} copies or moves files")
    if prog == "ln":  # a link into a sensitive place makes later plain writes land there
        for w in parsed.operands[:-1] or parsed.operands:
            src = w.value.rstrip("/") or "/"
            cats = paths.write_categories(src) | paths.write_categories(f"{src}/x")
            acc.add(cats - {C.WRITE}, f"{prog} links to {src}")
            if paths.is_secret_dir(src):
                acc.add(C.UNKNOWN, f"{prog} links to a credentials directory {src}")
    target = next((v for v in parsed.values("-t", "--target-directory") if v), None)
    sources = list(parsed.operands)
    if target is None and len(sources) > 1 and not parsed.has("-T", "--no-target-directory"):
        target = sources.pop()
    if target is None:
        return
    for w in sources:
        name = posixpath.basename(w.value.rstrip("/")) or "*"
        dest = f"{target.value.rstrip('/')}/{name}"
        acc.add(paths.write_categories(dest) - {C.WRITE}, f"{prog} writes {dest}")
    if prog == "install":
        install(prog, parsed, acc, ctx)


def uniq(prog: str, parsed: Parsed, acc: Acc, ctx: Ctx) -> None:
    """``uniq [INPUT [OUTPUT]]``: the second operand is written."""
    acc.add(C.READ, f"{prog} filters")
    if len(parsed.operands) > 1:
        out = parsed.operands[1].value
        acc.add(paths.write_categories(out), f"{prog} writes {out}")


_SUFFIXES = (".gz", ".tgz", ".z", ".bz2", ".tbz", ".xz", ".txz", ".lzma", ".zst", ".lz4", ".Z")


def compressor(prog: str, parsed: Parsed, acc: Acc, ctx: Ctx) -> None:
    """gzip and kin write ``f.gz`` from ``f`` (or ``f`` from ``f.gz``) and remove the
    source: both names take their write categories (``gunzip authorized_keys.gz``)."""
    _default(prog, acc)
    if parsed.has("-c", "--stdout", "-t", "--test", "-l", "--list"):
        return
    for w in parsed.operands:
        name = w.value
        stripped = next((name[: -len(s)] for s in _SUFFIXES if name.endswith(s)), name)
        for target in {name, stripped}:
            acc.add(paths.write_categories(target) - {C.WRITE}, f"{prog} writes {target}")


_SECRET_DATABASES = frozenset({"shadow", "gshadow"})


def getent(prog: str, parsed: Parsed, acc: Acc, ctx: Ctx) -> None:
    acc.add(C.READ, f"{prog} looks up a database")
    if parsed.operands and parsed.operands[0].value in _SECRET_DATABASES:
        acc.add(C.EXPORT, f"{prog} {parsed.operands[0].value} prints password hashes")
    elif parsed.operands and parsed.operands[0].lit is None:
        acc.add(C.UNKNOWN, f"{prog} with a computed database")


def date(prog: str, parsed: Parsed, acc: Acc, ctx: Ctx) -> None:
    """``date -s``/``--set`` or an ``MMDDhhmm[[CC]YY]`` operand sets the clock."""
    if parsed.has("-s", "--set") or any(
        (w.lit or "").isdigit() and len(w.lit or "") >= 8 for w in parsed.operands
    ):
        acc.add(C.ADMIN, "date sets the clock")
    else:
        acc.add(C.READ, "date prints the time")


def mkdir(prog: str, parsed: Parsed, acc: Acc, ctx: Ctx) -> None:
    acc.add(C.WRITE, f"{prog} creates directories")
    for v in parsed.values("-m", "--mode"):
        if v is None or re.search(r"[+=][rwxXt]*s|^[0-7]*[2-7][0-7]{3}$", v.value):
            acc.add(C.PRIVILEGE, f"{prog} sets setuid/setgid modes")


def dc(prog: str, parsed: Parsed, acc: Acc, ctx: Ctx) -> None:
    """dc's ``!`` runs a shell command; a program from a file or stdin is unseen."""
    acc.add(C.READ, f"{prog} calculates")
    for v in parsed.values("--expression"):
        if v is None or v.lit is None or "!" in v.lit:
            acc.add(C.CODE, f"{prog} ! runs shell commands")
    if parsed.has("--file") or (not parsed.options and not parsed.operands and not ctx.stdin):
        acc.add(C.CODE, f"{prog} reads a program the gateway cannot see")
    if ctx.stdin is not None and "!" in ctx.stdin:
        acc.add(C.CODE, f"{prog} ! runs shell commands")


SSH_KEYGEN = model(
    "ABC:D:E:F:HI:J:KLM:N:O:P:QR:S:V:W:XY:Z:a:b:cdef:ghij:klm:n:pqr:s:t:uvw:yz:",
    "",
    code="-D -w -S",
    unknown="-A",
    mode="-f",
)


def ssh_keygen(prog: str, parsed: Parsed, acc: Acc, ctx: Ctx) -> None:
    acc.add(C.WRITE, f"{prog} manages keys")
    for v in parsed.values("-f"):
        if v is not None:
            acc.add(paths.write_categories(v.value) - {C.WRITE}, f"{prog} -f {v.value}")


def _dash_e(args: list[Word]) -> list[Word]:
    """GNU ``dc -e X``: spell it ``--expression`` (the spec has no short options)."""
    out: list[Word] = []
    for w in args:
        if w.lit in ("-e", "-f"):
            name = "--expression" if w.lit == "-e" else "--file"
            out.append(Word(name, name))
        else:
            out.append(w)
    return out


def _with(argv: object, m: ArgModel, mode: Mode) -> Handler:
    """A handler whose words are rewritten first (old-style tar, zip, dc spellings)."""

    def run(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
        words = argv(args) if callable(argv) else args
        if isinstance(words, tuple):
            words, runs = words
            if runs:
                acc.add(C.CODE, f"{prog} -TT runs a command to test the archive")
        parsed = parse(m, words)
        apply(prog, parsed, acc, m)
        mode(prog, parsed, acc, ctx)

    return run


def _ar(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    parsed = archives.ar(prog, args, acc)
    if parsed is not None:
        apply(prog, parsed, acc, archives.AR)


def _seven_z(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    archives.seven_z(prog, args, acc)


def apachectl(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    """``-c``/``-C DIRECTIVE``: ``Include FILE`` makes the server parse (and print) FILE."""
    for k, w in enumerate(args[:-1]):
        if w.lit in ("-c", "-C", "-f", "-d"):
            value = args[k + 1].value
            target = value.split()[-1] if w.lit in ("-c", "-C") and value.split() else value
            acc.add(paths.read_categories(target, tuple(acc.cwds)), f"{prog} reads {target}")
    _default(prog, acc)


def imagemagick(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    """ImageMagick reads ``|cmd`` as a pipe from a command and ``coder:name`` (``msl:``,
    ``ephemeral:``, ``text:``) as scripts or files; its options are not modelled."""
    for w in args:
        v = w.lit if w.lit is not None else w.text
        if v.startswith("|"):
            acc.add(C.CODE, f"{prog} {v}: a pipe runs a command")
        elif re.match(r"[A-Za-z0-9]{2,}:", v) or v.startswith("@"):
            acc.add(C.UNKNOWN, f"{prog} {v}: a coder or list the gateway cannot judge")
    _no_options(prog, args, acc, ctx)


YQ = model(
    "CMNPeinrjI:o:p:s:0yYxcSa",
    "inplace output-format= input-format= unwrapScalar null-input exit-status indent= "
    "prettyPrint colors no-colors no-doc split-exp= nul-output front-matter= expression= "
    "from-file= header-preprocess help version tojson yaml-output yaml-roundtrip "
    "raw-output compact-output sort-keys arg= argjson= slurp",
    mode="-i --inplace",
    unknown="-s --split-exp --from-file",
)


def yq(prog: str, parsed: Parsed, acc: Acc, ctx: Ctx) -> None:
    """yq: ``-i`` rewrites its files; ``load()`` in an expression reads a file it names."""
    acc.add(C.READ, f"{prog} queries documents")
    words = list(parsed.operands)
    if words and words[0].value in ("e", "eval", "ea", "eval-all"):
        words = words[1:]
    for w in words[:1]:
        if w.lit is None or re.search(r"\b(load\w*|eval)\s*\(", w.lit):
            acc.add(C.UNKNOWN, f"{prog} expression reads files or is computed")
    if parsed.has("-i", "--inplace"):
        acc.add(C.WRITE, f"{prog} -i rewrites files")
        for w in words[1:]:
            acc.add(paths.write_categories(w.value), f"{prog} -i rewrites {w.value}")


def _no_options(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    """A read/write program nobody modelled: any option is unknown."""
    if any((w.lit if w.lit is not None else w.text).startswith("-") for w in args):
        acc.add(C.UNKNOWN, f"{prog}: options are not modelled")
    _default(prog, acc)


_MODES: dict[str, Handler] = {
    "tar": _with(archives.tar_argv, archives.TAR, archives.tar),
    "bsdtar": _with(archives.tar_argv, archives.TAR, archives.tar),
    "gtar": _with(archives.tar_argv, archives.TAR, archives.tar),
    "unzip": _with(archives.unzip_args, archives.UNZIP, archives.unzip),
    "cpio": modelled(archives.CPIO, archives.cpio),
    "patch": modelled(archives.PATCH, archives.patch),
    "zip": _with(archives.zip_argv, archives.ZIP, archives.zip_mode),
    "ar": _ar,
    **dict.fromkeys(("7z", "7za", "7zr", "rar", "unrar"), _seven_z),
    **dict.fromkeys(("gcc", "cc", "g++", "c++", "clang", "clang++", "as", "ld"), cc),
    "javac": javac,
    "rustc": modelled(RUSTC, rustc),
    "man": modelled(editors.MAN),
    "less": modelled(editors.LESS, editors.less),
    "ed": editors.ed,
    "split": modelled(SPLIT, split),
    "csplit": modelled(CSPLIT, csplit),
    "xxd": modelled(XXD, xxd),
    "dos2unix": modelled(SPECS["dos2unix"], dos2unix),
    "unix2dos": modelled(SPECS["unix2dos"], dos2unix),
    "install": modelled(SPECS["install"], copy),
    "cp": modelled(SPECS["cp"], copy),
    "mv": modelled(SPECS["mv"], copy),
    "ln": modelled(SPECS["ln"], copy),
    "mkdir": modelled(SPECS["mkdir"], mkdir),
    "date": modelled(SPECS["date"], date),
    "dc": _with(_dash_e, SPECS["dc"], dc),
    "ssh-keygen": modelled(SSH_KEYGEN, ssh_keygen),
    "sed": sedawk.sed,
    **{
        e: modelled(editors.VIM, then=handlers.editor)
        for e in "vi vim nvim view vimdiff ex".split()
    },
    "nano": modelled(editors.NANO, then=handlers.editor),
    "pico": modelled(editors.NANO, then=handlers.editor),
    "emacs": editors.emacs,
    "yq": modelled(YQ, yq),
    "xq": modelled(YQ, yq),
    "convert": imagemagick,
    "mogrify": imagemagick,
    "uniq": modelled(SPECS["uniq"], uniq),
    "getent": modelled(SPECS["getent"], getent),
    **{
        p: modelled(SPECS[p], compressor)
        for p in "gzip gunzip bzip2 bunzip2 xz unxz zstd unzstd lz4".split()
    },
    "apachectl": apachectl,
    "apache2ctl": apachectl,
    **dict.fromkeys(("awk", "gawk", "mawk", "nawk"), sedawk.awk),
}

#: Builtins and programs whose arguments are not options (``test -f x``, ``echo -x``).
_NOT_OPTIONS = frozenset(
    """
    test [ echo true false : cd pushd popd dirs jobs fg bg wait disown hash getconf ulimit
    type help logout read mapfile readarray shift return exit break continue getopts let
    caller printf expr clear reset yes sleep
    """.split()
)
#: Programs whose options were checked by hand: none runs code, writes, or reads a file it
#: names, so their many (BSD and GNU) spellings are let through unparsed.
_HARMLESS_OPTIONS = frozenset("ps lsof which pidof top htop atop btop getcap lsattr vmstat".split())
#: Existing argument-aware handlers the models run before.
_WRAPPED = ("touch", "dmesg", "journalctl", "umask")


def _build() -> dict[str, Handler]:
    out: dict[str, Handler] = {}
    for prog in sorted(programs.READ | programs.WRITE):
        if prog in _MODES:
            out[prog] = _MODES[prog]
        elif prog in _NOT_OPTIONS or prog in _HARMLESS_OPTIONS:
            continue
        elif prog in SPECS and prog in _WRAPPED:
            out[prog] = modelled(SPECS[prog], then=handlers.HANDLERS[prog])
        elif prog in SPECS:
            out[prog] = modelled(SPECS[prog])
        elif prog in handlers.HANDLERS:
            continue
        else:
            out[prog] = _no_options
    for prog, h in _MODES.items():
        out.setdefault(prog, h)
    return out


HANDLERS: dict[str, Handler] = _build()
