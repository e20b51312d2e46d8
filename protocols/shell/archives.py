"""Archivers: what they write is named inside the archive, so extraction is judged here.

Why: ``tar x``, ``unzip``, ``cpio -i``/``-p``, ``ar x`` and ``patch`` write paths the
command line does not show (member names, ``+++`` lines). They are ``write`` only when an
explicit destination directory is given that is a plain literal and no sensitive place
(not ``/``, a home, ``/etc``, ``~/.ssh``...); otherwise ``unknown``. Listing and
extracting to stdout are reads; creating writes the archive file (its categories).
"""

# Option lists are written as whitespace-separated strings: far easier to read and review
# as data than hundreds of quoted literals.
# ruff: noqa: SIM905

from __future__ import annotations

import re

from protocols.classification import Category

from . import paths
from .argmodel import ArgModel, Parsed, model
from .core import Acc, Ctx
from .words import Word

C = Category

TAR = model(
    "ABC:F:GH:I:K:L:MN:OPST:UV:WX:Zab:cdf:g:hijklmoprstuvwxzJ",
    "absolute-names acls add-file= after-date= anchored append atime-preserve:: "
    "auto-compress backup:: block-number blocking-factor= bzip2 catenate check-device "
    "check-links checkpoint:: checkpoint-action= clamp-mtime compare compress concatenate "
    "confirmation create delay-directory-restore delete dereference diff directory= "
    "exclude-backups exclude-caches exclude-caches-all exclude-caches-under exclude-from= "
    "exclude-ignore-recursive= exclude-ignore= exclude-tag-all= exclude-tag-under= "
    "exclude-tag= exclude-vcs exclude-vcs-ignores exclude= extract file= files-from= "
    "force-local format= full-time get group-map= group= gunzip gzip hard-dereference help "
    "hole-detection= ignore-case ignore-command-error ignore-failed-read ignore-zeros "
    "incremental index-file= info-script= interactive keep-directory-symlink "
    "keep-newer-files keep-old-files label= level= list listed-incremental= lzip lzma lzop "
    "mode= mtime= multi-volume new-volume-script= newer-mtime= newer= no-acls no-anchored "
    "no-auto-compress no-check-device no-delay-directory-restore no-ignore-case "
    "no-ignore-command-error no-null no-overwrite-dir no-quote-chars= no-recursion "
    "no-same-owner no-same-permissions no-seek no-selinux no-unquote "
    "no-verbatim-files-from no-wildcards no-wildcards-match-slash no-xattrs null "
    "numeric-owner occurrence:: old-archive one-file-system one-top-level:: overwrite "
    "overwrite-dir owner-map= owner= pax-option= portability posix preserve-order "
    "preserve-permissions quote-chars= quoting-style= read-full-records record-size= "
    "recursion recursive-unlink remove-files restrict rmt-command= rsh-command= same-order "
    "same-owner same-permissions seek selinux show-defaults show-omitted-dirs "
    "show-snapshot-field-ranges show-stored-names show-transformed-names skip-old-files "
    "sort= sparse sparse-version= starting-file= strip-components= suffix= tape-length= "
    "test-label to-command= to-stdout totals:: touch transform= uncompress ungzip "
    "unlink-first unquote update usage use-compress-program= utc verbatim-files-from "
    "verbose verify version volno-file= warning= wildcards wildcards-match-slash xattrs "
    "xattrs-exclude= xattrs-include= xform= xz zstd",
    code="--checkpoint-action --to-command -F --info-script --new-volume-script "
    "--rsh-command --rmt-command",
    filter="-I --use-compress-program",
    input="-T --files-from -X --exclude-from",
    output="-g --listed-incremental --index-file --volno-file",
    mode="-f --file -C --directory -P --absolute-names --transform --xform -O --to-stdout "
    "--one-top-level --remove-files -c --create -r --append -u --update -A --catenate "
    "--concatenate -t --list -x --extract --get -d --diff --compare --delete --test-label "
    "--force-local -w --interactive --confirmation --verbatim-files-from",
)

_TAR_CREATE = ("-c", "--create", "-r", "--append", "-u", "--update", "-A", "--catenate")
_TAR_READ = ("-t", "--list", "-d", "--diff", "--compare", "--test-label")


def tar_argv(args: list[Word]) -> list[Word]:
    """Old-style ``tar czf out.tgz dir``: the first word's letters are options whose values
    follow in order; rewrite it into ``-c -z -f out.tgz dir`` for the getopt parser."""
    if not args or args[0].lit is None or args[0].lit.startswith("-") or not args[0].lit:
        return args
    letters, rest = args[0].lit, list(args[1:])
    if not re.fullmatch(r"[A-Za-z]+", letters):
        return args
    out: list[Word] = []
    for ch in letters:
        out.append(Word(f"-{ch}", f"-{ch}"))
        opt = TAR.short.get(ch)
        if opt is not None and opt.takes.value == "required" and rest:
            out.append(rest.pop(0))
    return out + rest


def remote(value: str) -> bool:
    """``host:file`` or ``user@host:file``: tar/cpio talk to a remote rmt over rsh."""
    return bool(re.match(r"^[^/]*:", value)) and not value.startswith("/")


def safe_destination(w: Word | None) -> bool:
    """A literal directory no archive member below it could make sensitive."""
    if w is None or w.lit is None:
        return False
    d = paths.normalize(w.lit).rstrip("/")
    if d in ("", ".", "..", "~", "/root") or d.startswith(("..", "-")) or "*" in d:
        return False
    if re.fullmatch(r"/home/[^/]+|/Users/[^/]+", d):
        return False
    probe = paths.write_categories(f"{d}/x")
    return probe <= {C.WRITE} and not paths.is_secret_dir(d)


def extraction(prog: str, dest: Word | None, members: tuple[Word, ...], acc: Acc) -> None:
    """Extracting writes member names: safe only below a proven-safe destination.

    Why not the working directory: it may be the home (``.bashrc``, ``.ssh/...`` members)
    or ``/``, and creating an archive whose members are named so needs no flagged step
    (``tar c --transform``, a download).
    """
    if safe_destination(dest):
        acc.add(C.WRITE, f"{prog} extracts into {dest.value if dest else ''}")
        for m in members:
            if m.lit is not None and paths.is_secret_dir(m.lit):
                acc.add(C.UNKNOWN, f"{prog} extracts a credentials directory {m.lit}")
        return
    acc.add(
        {C.WRITE, C.UNKNOWN},
        f"{prog} writes paths named inside its input (no safe destination given)",
    )


def tar(prog: str, parsed: Parsed, acc: Acc, ctx: Ctx) -> None:
    archive = next((v for v in reversed(parsed.values("-f", "--file")) if v is not None), None)
    if archive is not None and remote(archive.value) and not parsed.has("--force-local"):
        acc.add({C.EXPORT, C.FORWARDING}, f"{prog} reads or writes a remote archive")
    if parsed.has("-T", "--files-from") and not parsed.has("--verbatim-files-from"):
        acc.add(C.UNKNOWN, f"{prog} -T: names starting with - in the list are options")
    if parsed.has("-w", "--interactive", "--confirmation"):
        acc.add(C.UNKNOWN, f"{prog} asks on the terminal what to do")
    if parsed.has(*_TAR_CREATE):
        acc.add(C.WRITE, f"{prog} creates an archive")
        if archive is not None and archive.value != "-":
            acc.add(paths.write_categories(archive.value), f"{prog} writes {archive.value}")
        if parsed.has("--remove-files"):
            acc.add(C.DESTRUCTIVE, f"{prog} --remove-files deletes what it archived")
        return
    if parsed.has("--delete"):
        acc.add(C.WRITE, f"{prog} deletes members from an archive")
        return
    if parsed.has(*_TAR_READ):
        acc.add(C.READ, f"{prog} lists or compares an archive")
        return
    if not parsed.has("-x", "--extract", "--get"):
        acc.add(C.UNKNOWN, f"{prog} without a known mode")
        return
    if parsed.has("-O", "--to-stdout"):
        acc.add(C.READ, f"{prog} extracts to standard output")
        return
    if parsed.has("-P", "--absolute-names", "--transform", "--xform"):
        acc.add({C.WRITE, C.UNKNOWN}, f"{prog} extracts to names it rewrites or keeps absolute")
        return
    top = parsed.values("--one-top-level")
    dirs = [v for v in parsed.values("-C", "--directory")]
    if top and top[-1] is not None:
        dirs.append(top[-1])
    if not dirs:
        extraction(prog, None, parsed.operands, acc)
        return
    # -C is order-sensitive: a member named before it goes to the directory in effect
    # then (the working directory), so every member needs a safe -C before it.
    current: Word | None = None
    for name, value in parsed.sequence:
        if name in ("-C", "--directory"):
            current = value
        elif name == "" and value is not None and not safe_destination(current):
            extraction(prog, None, (value,), acc)
            return
    for d in dirs:
        extraction(prog, d, parsed.operands, acc)


UNZIP = model(
    "ZlvtzTxd:pcfuonjCXaAbBKLMqsUVWP:O:I:^",
    "help version",
    mode="-Z -l -v -t -z -d -p -c -x",
    unknown="-^",  # ``-:`` (members may climb out with ../) is not listed: unknown
)


def unzip_args(args: list[Word]) -> list[Word]:
    """``-x`` takes every following operand up to the next option; keep them out."""
    out: list[Word] = []
    skipping = False
    for w in args:
        if w.lit == "-x":
            skipping = True
            continue
        if skipping and not (w.lit or "").startswith("-"):
            continue
        skipping = False
        out.append(w)
    return out


def unzip(prog: str, parsed: Parsed, acc: Acc, ctx: Ctx) -> None:
    if parsed.has("-Z", "-l", "-v", "-t", "-z", "-p", "-c"):
        acc.add(C.READ, f"{prog} lists, tests or prints an archive")
        return
    dest = next((v for v in reversed(parsed.values("-d")) if v), None)
    extraction(prog, dest, parsed.operands[1:], acc)


CPIO = model(
    "0aABcdfF:H:iI:lLmM:noO:prR:sStuvVE:D:",
    "null reset-access-time append block-size= io-size= create make-directories "
    "nonmatching file= format= extract list link dereference preserve-modification-time "
    "message= numeric-uid-gid owner= pass-through rename swap-bytes swap-halfwords "
    "unconditional verbose dot directory= pattern-file= quiet only-verify-crc "
    "no-absolute-filenames no-preserve-owner absolute-filenames sparse to-stdout "
    "force-local rsh-command= device-independent reproducible ignore-devno renumber-inodes "
    "warning= help usage version",
    code="--rsh-command -M --message",
    input="-E --pattern-file",
    mode="-i --extract -o --create -p --pass-through -t --list -F --file -O -I -D "
    "--directory --to-stdout --absolute-filenames -r --rename --force-local",
)


def cpio(prog: str, parsed: Parsed, acc: Acc, ctx: Ctx) -> None:
    for v in parsed.values("-F", "--file", "-O", "-I"):
        if v is not None and remote(v.value) and not parsed.has("--force-local"):
            acc.add({C.EXPORT, C.FORWARDING}, f"{prog} reads or writes a remote archive")
    if parsed.has("-r", "--rename"):
        acc.add(C.UNKNOWN, f"{prog} asks on the terminal for new names")
    if parsed.has("-t", "--list") or parsed.has("--to-stdout"):
        acc.add(C.READ, f"{prog} lists an archive")
    elif parsed.has("-o", "--create"):
        acc.add(C.WRITE, f"{prog} creates an archive")
        for v in parsed.values("-F", "--file", "-O"):
            if v is not None:
                acc.add(paths.write_categories(v.value), f"{prog} writes {v.value}")
    elif parsed.has("-p", "--pass-through"):
        acc.add({C.WRITE, C.UNKNOWN}, f"{prog} -p copies paths read from its input")
    elif parsed.has("-i", "--extract") and not parsed.has("--absolute-filenames"):
        dest = next((v for v in parsed.values("-D", "--directory") if v), None)
        extraction(prog, dest, parsed.operands, acc)
    else:
        acc.add({C.WRITE, C.UNKNOWN}, f"{prog} without a mode it can judge")


PATCH = model(
    "bB:cd:D:eEfF:g:i:lnNo:p:r:RstTuvV:xY:z:Z",
    "backup backup-if-mismatch no-backup-if-mismatch binary context directory= "
    "ifdef= ed remove-empty-files force fuzz= get= input= ignore-whitespace normal "
    "forward output= strip= reject-file= reverse quiet silent set-time set-utc unified "
    "version version-control= prefix= basename-prefix= suffix= posix dry-run verbose "
    "merge:: quoting-style= reject-format= read-only= follow-symlinks help batch",
    code="-e --ed",
    input="-i --input",
    output="-o --output -r --reject-file -B --prefix -Y --basename-prefix",
    mode="-d --directory --dry-run --follow-symlinks",
)


def patch(prog: str, parsed: Parsed, acc: Acc, ctx: Ctx) -> None:
    if parsed.has("--dry-run"):
        acc.add(C.READ, f"{prog} --dry-run only checks")
        return
    if parsed.has("--follow-symlinks"):
        acc.add(C.UNKNOWN, f"{prog} writes through symlinks")
    if parsed.operands and not parsed.has("-o", "--output"):
        target = parsed.operands[0]
        acc.add(paths.write_categories(target.value), f"{prog} patches {target.value}")
        return
    if parsed.has("-o", "--output"):
        acc.add(C.WRITE, f"{prog} writes its output file")
        return
    dest = next((v for v in parsed.values("-d", "--directory") if v), None)
    extraction(prog, dest, (), acc)


AR = model("", "help version plugin= target= output= record-libdeps= thin", code="--plugin")


def ar(prog: str, args: list[Word], acc: Acc) -> Parsed | None:
    """``ar KEYLETTERS archive members``: t/p read, r/q/d/m/s write, x extracts."""
    from .argmodel import parse

    opts = [w for w in args if (w.lit or "").startswith("--")]
    rest = [w for w in args if not (w.lit or "").startswith("--")]
    parsed = parse(AR, opts)
    if not rest or rest[0].lit is None:
        acc.add(C.UNKNOWN, f"{prog} with a computed or missing operation")
        return parsed
    key = rest[0].lit.lstrip("-")
    if not re.fullmatch(r"[dmpqrstxabcDfilNoOPsSTuUvV0-9]+", key):
        acc.add(C.UNKNOWN, f"{prog}: unknown operation {key}")
    elif "x" in key:
        acc.add({C.WRITE, C.UNKNOWN}, f"{prog} x extracts members into the working directory")
    elif set(key) & set("dmqrs"):
        acc.add(C.WRITE, f"{prog} changes an archive")
        if len(rest) > 1:
            acc.add(paths.write_categories(rest[1].value), f"{prog} writes {rest[1].value}")
    else:
        acc.add(C.READ, f"{prog} lists an archive")
    return parsed


#: zip's own option words (it takes multi-letter options with one dash).
_ZIP_WORDS = frozenset(
    """
    -TT -sf -su -sd -so -sc -sp -sv -db -dc -dd -dg -ds -du -dv -lf -la -li -ll -MM -nw
    -ws -tt -FF -FS -UN -AC -AS -ic -fz- -fd -ic -h2 -Z -e -P -t -b -n -x -i -O -U -O
    """.split()
)
ZIP = model(
    "0123456789ADFJLRTX@abcdefghijklmnopqrstuvwxyzZ:P:t:b:n:O:",
    "help version recurse-paths quiet verbose test unzip-command= out= temp-path= "
    "password= encrypt junk-paths symlinks move delete update freshen grow "
    "exclude= include= suffixes= fix fixfix adjust-sfx split-size= pause logfile-path= "
    "log-append log-info filesync compression-method= recurse-patterns display-bytes "
    "display-counts display-dots display-globaldots display-usize display-volume "
    "show-files show-unicode from-crlf to-crlf no-wild wild-stop-dirs la lf= li",
    code="--unzip-command",
    output="-O --out --logfile-path",
    unknown="-b --temp-path",
)


def zip_argv(args: list[Word]) -> tuple[list[Word], bool]:
    """Rewrite zip's one-dash words (``-TT cmd``) to long options the parser knows."""
    out: list[Word] = []
    runs = False
    i = 0
    while i < len(args):
        w = args[i]
        i += 1
        lit = w.lit or ""
        if lit == "--unzip-command" or (
            lit.startswith("-") and not lit.startswith("--") and "TT" in lit
        ):  # ``-TT cmd``, and inside a bundle (``-rTT cmd``): zip matches it there too
            runs = True
            if lit.endswith("TT") or lit == "--unzip-command":
                i += 1
            continue
        if w.lit in ("-x", "-i"):  # lists up to the next option
            while i < len(args) and not (args[i].lit or "").startswith("-"):
                i += 1
            continue
        if w.lit == "-lf" and i < len(args):
            out += [Word("--logfile-path", "--logfile-path"), args[i]]
            i += 1
            continue
        if w.lit in _ZIP_WORDS and len(w.lit) > 2:
            continue  # display and split-size words with no effect on what is touched
        out.append(w)
    return out, runs


def zip_mode(prog: str, parsed: Parsed, acc: Acc, ctx: Ctx) -> None:
    acc.add(C.WRITE, f"{prog} writes an archive")
    if parsed.operands:
        target = parsed.operands[0].value
        if target != "-":
            acc.add(paths.write_categories(target), f"{prog} writes {target}")
    if parsed.has("-m", "--move"):
        acc.add(C.DESTRUCTIVE, f"{prog} -m deletes what it archived")


SEVEN_Z = model("", "")
_7Z_SWITCH = re.compile(
    r"-(?:[ry]|t\w+|m\S*|p\S*|bs\S*|bb\d?|bd|bt|ao[asut]|ssc-?|scs\S*|snh|snl|sni|ssw|"
    r"x[!@r]\S*|i[!@r]\S*|v\d+\w?|o\S*|spf2?|so|si\S*|sdel|stl|w\S*)"
)


def seven_z(prog: str, args: list[Word], acc: Acc) -> None:
    words = [w for w in args if w.lit != "--"]
    switches = [w for w in words if (w.lit or w.text).startswith("-")]
    rest = [w for w in words if not (w.lit or w.text).startswith("-")]
    for w in switches:
        if w.lit is None or not _7Z_SWITCH.fullmatch(w.lit):
            acc.add(C.UNKNOWN, f"{prog}: unknown switch {w.value}")
    if any(w.lit in ("-sdel",) for w in switches):
        acc.add(C.DESTRUCTIVE, f"{prog} -sdel deletes what it archived")
    if any((w.lit or "").startswith("-spf") for w in switches):
        acc.add(C.UNKNOWN, f"{prog} -spf keeps absolute paths")
    cmd = rest[0].lit if rest else None
    if cmd in ("l", "t", "h", "i", "b"):
        acc.add(C.READ, f"{prog} {cmd} lists or tests an archive")
    elif cmd in ("a", "u", "d", "rn") and len(rest) > 1:
        acc.add(C.WRITE, f"{prog} {cmd} changes an archive")
        acc.add(paths.write_categories(rest[1].value), f"{prog} writes {rest[1].value}")
    elif cmd in ("x", "e"):
        if any((w.lit or "") == "-so" for w in switches):
            acc.add(C.READ, f"{prog} extracts to standard output")
            return
        dest: Word | None = None
        members = tuple(rest[2:])
        if prog in ("rar", "unrar"):  # ``unrar x a.rar [members] dest/``; -o+/-o- overwrite
            out = next((w for w in switches if (w.lit or "").startswith("-op")), None)
            dest = Word(out.lit[3:], out.lit[3:]) if out is not None and out.lit else None
            if dest is None and members and members[-1].value.endswith("/"):
                dest, members = members[-1], members[:-1]
        else:
            out = next((w for w in switches if (w.lit or "").startswith("-o")), None)
            dest = Word(out.lit[2:], out.lit[2:]) if out is not None and out.lit else None
        extraction(prog, dest, members, acc)
    else:
        acc.add(C.UNKNOWN, f"{prog} with an unknown command")


__all__ = ["AR", "CPIO", "PATCH", "SEVEN_Z", "TAR", "UNZIP", "ZIP", "ArgModel"]
