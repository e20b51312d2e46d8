"""Programs that run other programs: unwrap them and classify what really runs."""

# Word lists are written as whitespace-separated strings: far easier to read and review
# as data than hundreds of quoted literals.
# ruff: noqa: SIM905

from __future__ import annotations

import re

from protocols.classification import Category

from . import paths, programs, reach
from .argmodel import may_be_option
from .assign import check_variable
from .core import Acc, Ctx, Handler, has_flag, positionals, split_options
from .handlers import scan_paths
from .words import Word

C = Category


def _inner(args: list[Word], acc: Acc, ctx: Ctx) -> None:
    """Classify the wrapped command; it inherits the wrapper's stdin."""
    if args:
        ctx.run(args, acc, ctx.nested(ctx.stdin))


def _opts(*names: str) -> frozenset[str]:
    return frozenset(names)


# Option names that take a value, per wrapper, so the wrapped command is found exactly.
_SUDO_V = _opts(
    "-C",
    "-D",
    "-g",
    "-h",
    "-p",
    "-R",
    "-r",
    "-T",
    "-t",
    "-U",
    "-u",
    "--user",
    "--group",
    "--host",
    "--prompt",
    "--chdir",
    "--role",
    "--type",
    "--other-user",
    "--close-from",
    "--command-timeout",
    "--chroot",
)
_SIMPLE_V: dict[str, frozenset[str]] = {
    "nohup": _opts(),
    "time": _opts("-f", "-o", "--format", "--output"),
    "setsid": _opts(),
    "command": _opts(),
    "builtin": _opts(),
    "exec": _opts("-a"),
    "stdbuf": _opts("-i", "-o", "-e", "--input", "--output", "--error"),
    "nice": _opts("-n", "--adjustment"),
    "ionice": _opts("-c", "-n", "--class", "--classdata"),
    "chrt": _opts(),
    "taskset": _opts(),
    "unbuffer": _opts(),
    "proxychains": _opts("-f"),
    "proxychains4": _opts("-f"),
    "torsocks": _opts("-u", "-p", "-a", "-P"),
    "torify": _opts(),
    "tsocks": _opts(),
    "coproc": _opts(),
    "caffeinate": _opts("-t", "-w"),
    "xvfb-run": _opts("-n", "-s", "-e", "-f", "-p", "--server-num", "--server-args"),
    "busybox": _opts(),
    "toybox": _opts(),
    "strace": _opts("-e", "-o", "-p", "-s", "-u", "-P", "-a", "-E", "-O", "-S", "-X", "-b"),
    "ltrace": _opts("-e", "-o", "-p", "-s", "-u", "-a", "-n", "-A", "-D", "-L", "-x"),
    "nsenter": _opts(
        "-t", "-S", "-G", "--target", "-m", "-u", "-i", "-n", "-p", "-U", "-C", "-T", "-r", "-w"
    ),
    "unshare": _opts(
        "--map-user", "--map-group", "--propagation", "--setgroups", "-S", "-G", "-R", "-w"
    ),
    "firejail": _opts(),
}
#: Extra categories the wrapper itself adds.
_SIMPLE_CATS: dict[str, tuple[set[Category], str]] = {
    "proxychains": ({C.FORWARDING}, "routes traffic through a proxy"),
    "proxychains4": ({C.FORWARDING}, "routes traffic through a proxy"),
    "torsocks": ({C.FORWARDING}, "routes traffic through Tor"),
    "torify": ({C.FORWARDING}, "routes traffic through Tor"),
    "tsocks": ({C.FORWARDING}, "routes traffic through a proxy"),
    "nsenter": ({C.PRIVILEGE}, "enters other namespaces"),
    "unshare": ({C.PRIVILEGE}, "creates namespaces"),
    "strace": ({C.CODE}, "traces (and can read) another process"),
    "ltrace": ({C.CODE}, "traces (and can read) another process"),
}


def simple(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    opts, rest = split_options(args, _SIMPLE_V.get(prog, frozenset()))
    extra = _SIMPLE_CATS.get(prog)
    if extra:
        acc.add(extra[0], f"{prog} {extra[1]}")
    names = {o for o, _ in opts}
    if prog == "command" and names & {"-v", "-V"}:
        acc.add(C.READ, "command -v looks a name up")
        return
    if prog in ("strace", "ltrace") and "-p" in names:
        acc.add(C.EXPORT, f"{prog} -p reads another process's memory")
    if prog == "nice" and any(v is not None and v.startswith("-") for _, v in opts):
        acc.add(C.ADMIN, "negative niceness needs root")
    if prog == "ionice" and not rest:
        acc.add(C.ADMIN, "ionice changes another process")
    if prog in ("chrt", "taskset"):
        rest = _skip_values(rest, 1)
    if not rest:
        if prog in ("exec", "nsenter", "unshare", "firejail", "coproc"):
            acc.add(C.CODE if prog != "exec" else C.SESSION, f"{prog} without a command")
        elif prog in programs.PROGRAMS:
            acc.add(programs.PROGRAMS[prog], f"runs {prog}")
        else:
            acc.add(C.READ, prog)
        return
    _inner(rest, acc, ctx)


def _skip_values(rest: list[Word], count: int) -> list[Word]:
    return rest[count:]


def sudo(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    acc.add(C.PRIVILEGE, f"{prog} runs a command as another user")
    opts, rest = split_options(args, _SUDO_V)
    names = {o for o, _ in opts}
    for name, value in opts:
        if name in ("-u", "--user", "-g", "--group") and value:
            acc.obj("user", value)
    while rest and rest[0].lit is not None and re.fullmatch(r"\w+=.*", rest[0].lit, re.S):
        check_variable(rest[0].lit.partition("=")[0], acc)
        rest = rest[1:]
    if prog == "sudoedit" or "-e" in names or "--edit" in names:
        acc.add(C.WRITE, "sudoedit edits files as root")
        scan_paths("tee", rest, acc)
        return
    if not rest:
        if names & {"-i", "-s", "--login", "--shell"}:
            acc.add(C.CODE, f"{prog} opens a root shell")
        return
    _inner(rest, acc, ctx)


def doas(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    acc.add(C.PRIVILEGE, f"{prog} runs a command as another user")
    _, rest = split_options(args, _opts("-u", "-C", "--user"))
    if not rest:
        acc.add(C.CODE, f"{prog} opens a root shell")
        return
    _inner(rest, acc, ctx)


def su(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    acc.add(C.PRIVILEGE, "su switches user")
    vals = _opts("-c", "--command", "-s", "--shell", "-g", "--group", "-G", "-w")
    opts, rest = split_options(args, vals)
    command = next((v for n, v in opts if n in ("-c", "--command")), None)
    rest_names = [w for w in rest if w.lit != "-"]
    # su's command can also follow the user name: su root -c 'cmd'
    if command is None and len(rest_names) >= 3 and rest_names[1].lit in ("-c", "--command"):
        command = rest_names[2].lit
        if command is None:
            acc.add({C.UNKNOWN, C.CODE}, "su -c with a computed command")
            return
    if command is not None:
        ctx.parse(command, acc, ctx.nested())
    elif any(n in ("-c", "--command") for n, _ in opts):
        acc.add({C.UNKNOWN, C.CODE}, "su -c with a computed command")
    else:
        acc.add(C.CODE, "su opens a shell")


def env(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    vals = _opts("-u", "--unset", "-C", "--chdir", "-S", "--split-string", "-a", "--argv0")
    opts, rest = split_options(args, vals)
    for name, value in opts:
        if name in ("-S", "--split-string"):
            if value is None:
                acc.add({C.UNKNOWN, C.CODE}, "env -S with a computed string")
            else:
                ctx.parse(value, acc, ctx.nested())
            return
        if name in ("-u", "--unset") and value:
            check_variable(value, acc)
    while rest and rest[0].lit is not None and re.fullmatch(r"[^=\s]+=.*", rest[0].lit, re.S):
        check_variable(rest[0].lit.partition("=")[0], acc)
        rest = rest[1:]
    if rest and rest[0].lit is None and "=" in rest[0].text:
        rest = rest[1:]  # VAR=$value: still an assignment
    if not rest:
        acc.add(C.READ, "env prints the environment")
        return
    _inner(rest, acc, ctx)


def timeout(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    _, rest = split_options(args, _opts("-s", "-k", "--signal", "--kill-after"))
    _inner(rest[1:], acc, ctx)


def chroot(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    acc.add(C.ADMIN, "chroot changes the root directory")
    _, rest = split_options(args, _opts("--userspec", "--groups"))
    if rest:
        acc.obj("path", rest[0].value)
    if len(rest) < 2:
        acc.add(C.CODE, "chroot opens a shell")
        return
    _inner(rest[1:], acc, ctx)


def flock(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    opts, rest = split_options(
        args, _opts("-w", "--timeout", "-E", "--conflict-exit-code", "-c", "--command")
    )
    command = next((v for n, v in opts if n in ("-c", "--command")), None)
    rest_opts, after = split_options(rest[1:], _opts("-c", "--command", "-w", "-E"))
    command = command or next((v for n, v in rest_opts if n in ("-c", "--command")), None)
    if command is not None:
        ctx.parse(command, acc, ctx.nested())
    elif after:
        _inner(after, acc, ctx)
    else:
        acc.add(C.READ, "flock on a descriptor")


def watch(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    opts, rest = split_options(
        args, _opts("-n", "--interval", "-d", "--differences", "-q", "--equexit", "--chgexit")
    )
    if ("-x", None) in opts or ("--exec", None) in opts:
        _inner(rest, acc, ctx)
        return
    if any(w.lit is None for w in rest):
        acc.add({C.UNKNOWN, C.CODE}, "watch runs a computed command")
        return
    # watch joins its arguments and hands them to ``sh -c``.
    ctx.parse(" ".join(w.value for w in rest), acc, ctx.nested())


def xargs(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    vals = _opts(
        "-n",
        "-L",
        "-P",
        "-s",
        "-I",
        "-d",
        "-E",
        "-a",
        "--arg-file",
        "--delimiter",
        "--max-args",
        "--max-lines",
        "--max-procs",
        "--max-chars",
        "--replace",
        "--eof",
        "--process-slot-var",
    )
    opts, rest = split_options(args, vals)
    if not rest:
        acc.add(C.READ, "xargs echoes its input")
        return
    replace = next((v for n, v in opts if n in ("-I", "-i", "--replace")), None)
    if replace is None and any(n in ("-i", "--replace") for n, _ in opts):
        replace = "{}"
    inner = rest[0].lit
    if inner in programs.SHELLS and replace and any(replace in w.value for w in rest[1:]):
        acc.add(C.CODE, "xargs substitutes its input into shell code")
    # The file list xargs reads (find's, through a pipe) is what the command opens.
    from_file = any(n in ("-a", "--arg-file") for n, _ in opts)
    if replace:
        listed = reach.xargs_input(acc, from_file)
        rest = [rest[0], *reach.substitute(rest[1:], replace, listed, acc)]
    else:
        rest = [*rest, reach.xargs_word(acc, from_file)]
    _inner(rest, acc, ctx)


def find(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    acc.add(C.READ, "find lists files")
    listed = reach.find_feed(args)
    i = 0
    while i < len(args):
        v = args[i].lit
        i += 1
        if v in ("-exec", "-execdir", "-ok", "-okdir"):
            end = i
            while end < len(args) and args[end].lit not in (";", "+"):
                end += 1
            _inner(reach.substitute(args[i:end], "{}", listed, acc), acc, ctx)
            i = end + 1
        elif v == "-delete":
            acc.add(C.DESTRUCTIVE, "find -delete removes files")
        elif v in ("-fprint", "-fprint0", "-fprintf", "-fls") and i < len(args):
            acc.add(paths.write_categories(args[i].value), f"find {v} writes a file")
        elif (v is not None and not v.startswith("-") and i == 1) or (v and v.startswith("/")):
            acc.obj("path", v or "")
        if v is None and may_be_option(args[i - 1]):
            acc.add(C.UNKNOWN, "find: a computed word could be a primary (-exec, -delete)")
        elif v in _FIND_VALUE and i < len(args):
            i += 1  # its value, whatever it looks like
        elif v is not None and v.startswith("-") and not _find_known(v):
            acc.add(C.UNKNOWN, f"find: unknown primary {v}")


#: GNU find primaries that take one value, and those that take none.
_FIND_VALUE = frozenset(
    """
    -amin -anewer -atime -cmin -cnewer -ctime -fstype -gid -group -ilname -iname -inum
    -ipath -iregex -iwholename -links -lname -mmin -mtime -name -newer -path -perm -regex
    -samefile -size -type -uid -used -user -wholename -xtype -context -maxdepth -mindepth
    -regextype -files0-from -printf -D -O
    """.split()
)
_FIND_FLAGS = frozenset(
    """
    -empty -executable -false -nogroup -nouser -readable -true -writable -ls -print -print0
    -prune -quit -d -depth -follow -help --help -ignore_readdir_race -mount
    -noignore_readdir_race -noleaf -version --version -warn -nowarn -xdev -daystart -not -a
    -and -o -or -H -L -P -delete -exec -execdir -ok -okdir -fls -fprint -fprint0 -fprintf
    """.split()
)


def _find_known(v: str) -> bool:
    return (
        v in _FIND_VALUE or v in _FIND_FLAGS or re.fullmatch(r"-newer[amcBt][amcBt]", v) is not None
    )


def shell(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    vals = _opts("-o", "-O", "+O", "+o", "--rcfile", "--init-file")
    opts, rest = split_options(args, vals)
    names = {n for n, _ in opts}
    if names & {"--rcfile", "--init-file"}:
        acc.add(C.CODE, f"{prog} runs an rc file")
    if "-c" in names or "--command" in names:
        if not rest:
            acc.add(C.UNKNOWN, f"{prog} -c without a command")
        elif rest[0].lit is None:
            acc.add({C.UNKNOWN, C.CODE}, f"{prog} -c runs a computed string")
        else:
            ctx.parse(rest[0].lit, acc, ctx.nested())
        return
    if rest and "-s" not in names:
        acc.add(C.CODE, f"{prog} runs a script file")
        acc.obj("path", rest[0].value)
        return
    if ctx.stdin is not None:
        ctx.parse(ctx.stdin, acc, ctx.nested())
        return
    acc.add(C.CODE, f"{prog} reads commands the gateway cannot see (stdin or a terminal)")


def interpreter(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    lits = [w.lit for w in args]
    if lits and all(v in ("--version", "-V", "-v", "version", "--help", "-h") for v in lits):
        acc.add(C.READ, f"{prog} prints its version")
        return
    acc.add(C.CODE, f"{prog} runs code")
    if has_flag(args, "-c", "-e", "-E", "-r", "--eval", "-m", "-p", "--print"):
        acc.add(C.CODE, f"{prog} is fed code on its command line")
    pos = positionals(args)
    if pos:
        acc.obj("path", pos[0].value)


def source(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    acc.add(C.CODE, f"{prog} runs shell code the gateway cannot see")
    if prog == "eval" and args and all(w.lit is not None for w in args):
        # eval of literal words is still parsed, so at least what is visible is classified
        ctx.parse(" ".join(w.lit or "" for w in args), acc, ctx.nested())


def ssh(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    vals = _opts(
        "-b",
        "-c",
        "-D",
        "-E",
        "-e",
        "-F",
        "-I",
        "-i",
        "-J",
        "-L",
        "-l",
        "-m",
        "-O",
        "-o",
        "-p",
        "-Q",
        "-R",
        "-S",
        "-W",
        "-w",
        "-B",
        "-P",
    )
    opts, rest = split_options(args, vals)
    names = {n for n, _ in opts}
    if not rest and names & {"-V", "-Q", "-G"}:
        acc.add(C.READ, "ssh prints its configuration")
        return
    acc.add(C.FORWARDING, "ssh opens a session on another host")
    if names & {"-L", "-R", "-D", "-W", "-w", "-J", "-N", "-f"}:
        acc.add(C.FORWARDING, "ssh forwards ports or tunnels")
    for name, value in opts:
        low = (value or "").lower()
        if name == "-o" and any(
            k in low
            for k in ("proxycommand", "localcommand", "permitlocalcommand", "knownhostscommand")
        ):
            acc.add(C.CODE, "ssh -o runs a local command")
        if name == "-o" and any(k in low for k in ("forward", "tunnel")):
            acc.add(C.FORWARDING, "ssh -o sets up forwarding")
    if rest:
        acc.obj("host", rest[0].value.rpartition("@")[2])
    if len(rest) > 1:
        # The remote shell parses the joined words: classify them as a command line too.
        if any(w.lit is None for w in rest[1:]):
            acc.add({C.UNKNOWN, C.CODE}, "ssh runs a computed remote command")
        else:
            ctx.parse(" ".join(w.lit or "" for w in rest[1:]), acc, ctx.nested())
    elif ctx.stdin is not None:
        acc.add(C.CODE, "ssh feeds a here-document to a remote shell")


HANDLERS: dict[str, Handler] = {
    **dict.fromkeys(_SIMPLE_V, simple),
    "sudo": sudo,
    "sudoedit": sudo,
    "doas": doas,
    "pkexec": doas,
    "run0": doas,
    "su": su,
    "env": env,
    "timeout": timeout,
    "chroot": chroot,
    "flock": flock,
    "watch": watch,
    "xargs": xargs,
    "find": find,
    "ssh": ssh,
    "autossh": ssh,
    "eval": source,
    "source": source,
    ".": source,
    **dict.fromkeys(programs.SHELLS, shell),
    **dict.fromkeys(
        "python python2 python3 pypy pypy3 perl ruby node nodejs deno bun php lua".split(),
        interpreter,
    ),
}
