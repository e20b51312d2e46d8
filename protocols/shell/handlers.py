"""Argument-aware rules for programs whose risk depends on how they are called."""

# Word lists are written as whitespace-separated strings: far easier to read and review
# as data than hundreds of quoted literals.
# ruff: noqa: SIM905

from __future__ import annotations

import re

from protocols.classification import Category

from . import paths, programs
from .argmodel import parse
from .argspecs import SPECS
from .core import Acc, Ctx, Handler, has_flag, positionals
from .netprogs import HANDLERS as NET_HANDLERS
from .subcommands import HANDLERS as SUB_HANDLERS
from .words import Word

C = Category


def scan_paths(prog: str, args: list[Word], acc: Acc, guess_outputs: bool = True) -> None:
    """Secret paths read by anything are export; sensitive targets modified are flagged.

    ``guess_outputs``: take the value of ``-o``/``--output``... as a path written; off for
    programs whose option model (``toolargs``) knows which options write.
    """
    modifies = prog in programs.MODIFIES_ARGS
    metadata = prog in programs.METADATA_ONLY
    cwds = tuple(acc.cwds)
    bare = _bare_file_args(prog, args)
    count = 0
    previous: str | None = None
    for w in args:
        output = guess_outputs and previous in _OUTPUT_OPTIONS
        previous = w.lit
        value = w.value if w.lit is not None else w.text
        if value.startswith("-") and "=" in value:
            value = value.partition("=")[2]  # --file=/etc/shadow, of=/dev/sda
        elif value.startswith("-"):
            continue
        elif re.fullmatch(r"(if|of)=.*", value):
            value = value[3:]
        pathlike = "/" in value or "." in value or "~" in value or id(w) in bare
        if not value or (not pathlike and not (modifies and value != "*")):
            continue
        if output:
            cats = paths.write_categories(value) - {C.WRITE, C.UNKNOWN}
            acc.add(cats, f"{prog} writes {value}")
            continue
        if not metadata and not (prog == "openssl" and value.endswith((".pem", ".crt"))):
            cats = paths.read_categories(value, cwds)
            if cats:
                acc.add(cats, f"{prog} touches {value}")
                acc.obj("path", paths.normalize(value))
        if modifies:
            cats = paths.write_categories(value) - {C.WRITE, C.UNKNOWN}
            if cats:
                acc.add(cats, f"{prog} modifies {value}")
                acc.obj("path", paths.normalize(value))
        if count < 8 and ("/" in value or value.startswith("~")):
            acc.obj("path", paths.normalize(value))
            count += 1
    for value in _recursive_sources(prog, args):
        if paths.is_secret_dir(value, cwds):
            acc.add(C.EXPORT, f"{prog} reads everything under {value}")
            acc.obj("path", paths.normalize(value))


#: Programs that read files named by a bare word (``cat shadow``): only for them is a
#: word with no ``/`` or ``.`` taken as a path, so ``echo shadow`` stays what it was.
_BARE_READERS = frozenset(
    """
    cat tac nl less more most head tail base64 base32 basenc xxd od hexdump hd strings
    cp scp rsync tar bsdtar zip 7z 7za gzip bzip2 xz zstd sort uniq cut paste diff cmp
    fold rev iconv view vi vim nvim nano emacs grep egrep fgrep zgrep rg ag ack
    pr column od tsort join comm expand unexpand look shuf fmt split csplit sed awk gawk
    mawk nawk jq yq xq zcat bzcat xzcat lzcat zless zmore bzgrep xzgrep sdiff diff3 ed
    uniq dos2unix unix2dos
    """.split()
)

_GREPS = frozenset("grep egrep fgrep zgrep rg ag ack".split())


def _bare_file_args(prog: str, args: list[Word]) -> set[int]:
    """Ids of the words a file reader takes as files (a grep's pattern is not one)."""
    if prog not in _BARE_READERS:
        return set()
    if prog in SPECS:  # the option model knows which words are operands
        pos = list(parse(SPECS[prog], args).operands)
    else:
        pos = positionals(args, frozenset({"-n", "-c", "-e", "-f", "-m", "-A", "-B", "-C", "-w"}))
    if prog in _GREPS and not has_flag(args, "-e", "-f", "--regexp", "--file"):
        pos = pos[1:]
    return {id(w) for w in pos}


def _recursive_sources(prog: str, args: list[Word]) -> list[str]:
    """Words an archiver, copier or recursive reader reads as whole directory trees.

    Why: ``tar czf - .ssh`` names no secret file, yet reads every key below it.
    """
    recursive = has_flag(args, "-r", "-R", "-a", "--recursive", "--archive")
    values = [w.value for w in args if not w.value.startswith("-")]
    if prog in ("tar", "bsdtar", "gtar"):
        mode = values[0] if values and args[0].value == values[0] else ""
        if has_flag(args, "-x", "-t", "--extract", "--get", "--list") or set(mode) & set("xt"):
            return []  # extracting or listing reads the archive, not the tree
        return values
    if prog in ("zip", "7z", "7za", "7zr", "rg", "ag", "ack"):
        return values
    if prog in ("cp", "scp", "rsync") and (recursive or prog == "rsync"):
        return values[:-1]  # the last one is the destination
    if prog in ("grep", "egrep", "fgrep", "zgrep", "diff") and recursive:
        return values
    return []


#: Options whose value is a file the program writes (not reads).
_OUTPUT_OPTIONS = frozenset({"-o", "-out", "--output", "-O", "--output-document", "-keyout"})


def rm(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    # Decision: every rm is destructive. Deleting cannot be undone, and "-f" or not says
    # nothing about what is lost; policy can allow rm on path:/tmp/* by object glob.
    acc.add(C.DESTRUCTIVE, f"{prog} deletes files")
    if any(w.value in ("/", "/*", "~", "*", ".", "..") for w in positionals(args)):
        acc.add(C.DESTRUCTIVE, f"{prog} of a root, home or wildcard path")


def chmod(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    pos = positionals(args, frozenset({"--reference"}))
    mode = pos[0].value if pos else ""
    acc.add(C.WRITE, "chmod changes permissions")
    if re.search(r"[+=][rwxXt]*s|^[0-7]*[2-7][0-7]{3}$", mode):
        acc.add(C.PRIVILEGE, "chmod sets setuid/setgid")
    if re.search(r"(^|,)[oa]*[+=][rwxXst]*w|^\+[rwx]*w|^[0-7]*[0-7]{2}[2367]$", mode):
        acc.add(C.PRIVILEGE, "chmod makes files world-writable")
    if pos and pos[0].lit is None:
        acc.add(C.UNKNOWN, "chmod with a computed mode")


def dd(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    out = next((w.value[3:] for w in args if w.value.startswith("of=")), None)
    if out is None:
        acc.add(C.READ, "dd copies to stdout")
        return
    acc.add(C.DESTRUCTIVE, f"dd overwrites {out}")
    acc.add(paths.write_categories(out), f"dd writes {out}")


def kill(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    pos = [w.value for w in positionals(args, frozenset({"-s", "-n", "-u", "-U", "-g"}))]
    if prog == "kill" and has_flag(args, "-l", "-L"):
        acc.add(C.READ, "kill -l lists signals")
        return
    acc.add(C.ADMIN, f"{prog} signals processes")
    if (prog == "kill" and any(v in ("$$", "$PPID", "0", "-1", "1") for v in pos)) or any(
        w.text in ("*", "~") and w.lit is None for w in args
    ):
        acc.add(C.TAMPER, f"{prog} targets the session's own shell or every process")
    if prog != "kill" and any(s in v for v in pos for s in programs.TAMPER_SERVICES):
        acc.add(C.TAMPER, f"{prog} stops logging or auditing")


def history(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    if any((w.lit or "-").startswith("-") and set(w.lit or "c") & set("cdwranps") for w in args):
        acc.add(C.TAMPER, "history rewrites or clears the shell history")
    else:
        acc.add(C.READ, "history lists commands")


def _enabled_options(args: list[Word]) -> set[str]:
    """Single letters and ``-o NAME`` options that ``set``/``shopt -o`` turn on."""
    on: set[str] = set()
    take_name = False
    for w in args:
        v = w.value
        if take_name:
            on.add(v)
            take_name = False
        elif v in ("--", "-") or not v.startswith("-"):
            if not v.startswith("+"):
                break
        elif not v.startswith("--"):
            on.update(v[1:])
            take_name = "o" in v[1:]
    return on


def set_builtin(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    values = [w.value for w in args]
    if {"k", "keyword"} & _enabled_options(args):
        # ``set -k``: ``ls LD_PRELOAD=/x.so`` on a later line puts it in ls's environment.
        acc.add({C.TAMPER, C.CODE}, "set -k makes later arguments environment assignments")
    if ("history" in values and any(v.startswith("+o") for v in values)) or "+H" in values:
        acc.add(C.TAMPER, "set +o history stops recording history")
    elif any(v in ("-T", "-o", "+o") for v in values) and "functrace" in values:
        acc.add(C.TAMPER, "set -o functrace enables DEBUG traps")
    else:
        acc.add(C.SESSION, "set changes shell options")


def shopt(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    values = {w.value for w in args}
    letters = {ch for v in values if v.startswith("-") for ch in v[1:]}
    if "o" in letters:  # ``shopt -so NAME`` is ``set -o NAME``
        if "s" in letters and "keyword" in values:
            acc.add({C.TAMPER, C.CODE}, "shopt -so keyword makes later arguments assignments")
        if "u" in letters and "history" in values:
            acc.add(C.TAMPER, "shopt -uo history stops recording history")
    if "-u" in values and values & {"histappend", "cmdhist", "lithist"}:
        acc.add(C.TAMPER, "shopt stops recording history")
    elif values & {"extdebug"}:
        acc.add(C.TAMPER, "shopt extdebug changes how commands run")
    else:
        acc.add(C.SESSION, "shopt changes shell options")


def stty(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    values = [w.value for w in args]
    if not values or values in (["-a"], ["size"], ["-g"]):
        acc.add(C.READ, "stty prints terminal settings")
    elif any(v in ("-echo", "-icanon", "raw", "-isig", "-icrnl", "-onlcr") for v in values):
        acc.add(C.TAMPER, "stty changes what the terminal shows")
    else:
        acc.add(C.SESSION, "stty sets terminal options")


def trap(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    pos = positionals(args)
    if not pos or has_flag(args, "-l", "-p"):
        acc.add(C.READ, "trap lists traps")
        return
    if any(w.value.upper() in ("DEBUG", "RETURN", "ERR") for w in pos[1:]):
        acc.add(C.TAMPER, "trap runs code around every command")
    if pos[0].lit is None:
        acc.add({C.UNKNOWN, C.CODE}, "trap with a computed command")
    elif pos[0].lit not in ("", "-"):
        acc.add(C.CODE, "trap runs a command later")
        ctx.parse(pos[0].lit, acc, ctx.nested())


def touch(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    acc.add(C.WRITE, "touch creates files")
    if has_flag(args, "-d", "-t", "-r", "--date", "--reference"):
        acc.add(C.TAMPER, "touch sets timestamps (timestomping)")


def editor(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    # Decision: a full-screen editor is write; commands given on its line are code.
    acc.add(C.WRITE, f"{prog} edits files")
    plus = [w.lit or "+*" for w in args if (w.lit or "+").startswith("+")]
    if any(not re.fullmatch(r"\+[0-9,]*", p) for p in plus) or has_flag(
        args, "-c", "--cmd", "-S", "-s", "-x", "--eval", "--exec", "-l", "--load"
    ):
        acc.add(C.CODE, f"{prog} runs editor commands from its command line")


def hostname(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    pos = positionals(args)
    if pos or has_flag(args, "-F", "--file", "-b", "--boot"):
        acc.add(C.ADMIN, "hostname sets the host name")
    else:
        acc.add(C.READ, "hostname prints the host name")


def no_args_read(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    """mount, ifconfig, sysctl, crontab -l, dmesg...: listing forms are reads."""
    lits = [w.lit for w in args]
    reading = {
        "mount": not lits or lits == ["-l"] or (len(lits) == 2 and lits[0] == "-t"),
        "ifconfig": len(lits) <= 1 and not any(v and v in ("up", "down") for v in lits),
        "sysctl": all(v is not None and "=" not in v and v != "-w" for v in lits)
        and "-p" not in lits
        and "--load" not in lits
        and "--system" not in lits,
        "crontab": "-l" in lits
        and all(v in ("-l", "-u") or (i > 0 and lits[i - 1] == "-u") for i, v in enumerate(lits)),
        "dmesg": not has_flag(
            args,
            "-c",
            "-C",
            "-D",
            "-E",
            "-n",
            "--clear",
            "--console-off",
            "--console-on",
            "--console-level",
            "--read-clear",
        ),
        "journalctl": not any(
            (v or "").startswith(
                ("--vacuum", "--rotate", "--flush", "--relinquish", "--setup-keys", "--sync")
            )
            for v in lits
        ),
        "swapon": lits in ([], ["-s"], ["--show"]),
        "umask": len(positionals(args)) == 0,
        "at": has_flag(args, "-l"),
        "ip": (len(lits) <= 3 and bool(set(lits) & {"show", "list", "ls", "get", "s"}))
        or lits
        in (
            ["a"],
            ["addr"],
            ["r"],
            ["route"],
            ["link"],
            ["l"],
            ["-br", "a"],
            ["neigh"],
            ["-s", "link"],
            ["-4", "a"],
            ["-6", "a"],
        ),
    }.get(prog, False)
    if reading:
        acc.add(C.READ, f"{prog} lists")
        return
    if prog in ("dmesg", "journalctl"):
        acc.add(C.TAMPER, f"{prog} clears or rotates the logs")
    elif prog == "crontab" and has_flag(args, "-r"):
        acc.add({C.ADMIN, C.DESTRUCTIVE}, "crontab -r deletes the crontab")
    elif prog == "umask":
        acc.add(C.SESSION, "umask")
    elif prog == "at":
        acc.add({C.ADMIN, C.CODE}, "at schedules commands")
    else:
        acc.add(C.ADMIN, f"{prog} changes system state")
    if prog == "crontab" and ctx.stdin is not None:
        ctx.parse(ctx.stdin, acc, ctx.nested())


def tmux(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    pos = positionals(args, frozenset({"-L", "-S", "-f", "-c", "-s", "-t", "-n"}))
    if pos and pos[0].value in ("ls", "list-sessions", "list-windows", "-ls"):
        acc.add(C.READ, f"{prog} lists sessions")
        return
    acc.add({C.TAMPER, C.CODE}, f"{prog} runs commands in a detached terminal")


HANDLERS: dict[str, Handler] = {
    "rm": rm,
    "chmod": chmod,
    "dd": dd,
    **dict.fromkeys(("kill", "pkill", "killall"), kill),
    "history": history,
    "set": set_builtin,
    "shopt": shopt,
    "stty": stty,
    "trap": trap,
    "touch": touch,
    **dict.fromkeys(("vi", "vim", "nvim", "view", "vimdiff", "ex", "emacs", "nano"), editor),
    "hostname": hostname,
    **dict.fromkeys(
        "mount ifconfig sysctl crontab dmesg journalctl swapon umask at ip".split(), no_args_read
    ),
    **dict.fromkeys(("tmux", "screen", "byobu"), tmux),
    **NET_HANDLERS,
    **SUB_HANDLERS,
}
