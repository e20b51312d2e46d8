"""Network, transfer and database clients: direction decides read, export or transfer."""

# Word lists are written as whitespace-separated strings: far easier to read and review
# as data than hundreds of quoted literals.
# ruff: noqa: SIM905

from __future__ import annotations

import re

from protocols.classification import Category, Classification

from . import paths
from .core import Acc, Ctx, Handler, has_flag, positionals, split_options
from .words import Word

C = Category

_URL_HOST = re.compile(r"^[a-z][a-z0-9+.-]*://(?:[^@/]*@)?([^/:?#]+)", re.I)
_REMOTE = re.compile(r"^(?:[^/@:]+@)?([A-Za-z0-9._-]+|\[[0-9a-fA-F:]+\]):(?!//)")


def _host_of(value: str) -> str | None:
    m = _URL_HOST.match(value)
    if m:
        return m.group(1)
    m = _REMOTE.match(value)
    return m.group(1) if m else None


def _remote(w: Word) -> bool:
    v = w.value
    return bool(_REMOTE.match(v)) or v.startswith(("rsync://", "sftp://", "scp://"))


_CURL_V = frozenset(
    "-d --data --data-binary --data-raw --data-urlencode --json -F --form --form-string -T "
    "--upload-file -o --output -X --request -H --header -u --user -x --proxy -e --referer "
    "-A --user-agent -b --cookie -c --cookie-jar -K --config -m --max-time -w --write-out "
    "--connect-timeout -r --range -E --cert --key --cacert --resolve --retry -U "
    "-D --dump-header -c --cookie-jar --trace --trace-ascii --stderr --libcurl --etag-save "
    "--hsts --alt-svc --output-dir --engine".split()
)
#: curl options whose value is a file it writes.
_CURL_WRITES = frozenset(
    "-D --dump-header -c --cookie-jar --trace --trace-ascii --stderr --libcurl --etag-save "
    "--hsts --alt-svc".split()
)


def curl(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    opts, _ = _all_options(args, _CURL_V)
    acc.add(C.READ, "curl fetches a URL")
    for name, value in opts:
        v = value or ""
        if name in ("-T", "--upload-file"):
            acc.add({C.EXPORT, C.FILE_TRANSFER}, "curl uploads a file")
        elif (name in ("-F", "--form") and "@" in v) or (name in ("-F", "--form") and "<" in v):
            acc.add({C.EXPORT, C.FILE_TRANSFER}, "curl posts a file")
        elif name.startswith(("-d", "--data", "--json")) or name in ("-F", "--form"):
            if value is None or v.startswith("@") or "*" in v:
                acc.add(C.EXPORT, "curl posts file or computed data")
            else:
                acc.add(C.WRITE, "curl posts data")
        elif name in ("-X", "--request") and v.upper() in ("PUT", "POST", "PATCH"):
            acc.add(C.WRITE, f"curl sends {v.upper()}")
        elif name in ("-X", "--request") and v.upper() == "DELETE":
            acc.add(C.DESTRUCTIVE, "curl sends DELETE")
        elif name in ("-o", "--output") or name in _CURL_WRITES:
            acc.add(paths.write_categories(v), f"curl writes {v}")
        elif name == "--output-dir":
            acc.add(paths.write_categories(f"{v}/x"), f"curl writes into {v}")
            acc.add(C.UNKNOWN, "curl --output-dir: file names come from the URLs")
        elif name in ("-K", "--config"):
            acc.add(C.UNKNOWN, "curl reads options from a file")
        elif len(name) > 4 and "--engine".startswith(name):  # older curls took prefixes
            acc.add(C.CODE, "curl --engine loads a library")
    for w in args:
        scheme, sep, rest = w.value.partition("://")
        scheme = scheme.lower()
        if not sep or not re.fullmatch(r"[a-z0-9+.-]+", scheme):
            continue
        if scheme == "file":
            local = "/" + rest.partition("/")[2]
            acc.add(paths.read_categories(local), f"curl reads {local}")
            acc.obj("path", local)
        elif scheme not in ("http", "https", "ftp", "ftps"):
            acc.add({C.EXPORT, C.FORWARDING}, f"curl speaks {scheme} to a chosen host")
    _hosts(args, acc)


def _all_options(
    args: list[Word], takes_value: frozenset[str]
) -> tuple[list[tuple[str, str | None]], list[Word]]:
    """Options anywhere on the line (curl, wget and scp accept them after URLs)."""
    opts: list[tuple[str, str | None]] = []
    rest: list[Word] = []
    i = 0
    while i < len(args):
        got, after = split_options(args[i:], takes_value)
        if got:
            opts.extend(got)
            i = len(args) - len(after)
            continue
        if args[i].lit is None and args[i].text.startswith("-"):
            opts.append((args[i].text.partition("*")[0] or "-", None))
        else:
            rest.append(args[i])
        i += 1
    return opts, rest


def _hosts(args: list[Word], acc: Acc) -> None:
    for w in args:
        host = _host_of(w.value)
        if host:
            acc.obj("host", host)


#: wget long options that matter; getopt_long also takes their unambiguous prefixes.
_WGET_LONG = (
    "--use-askpass --execute --config --output-document --output-file --append-output "
    "--post-file --body-file --post-data --body-data --method --directory-prefix "
    "--input-file".split()
)


def _wget_word(v: str) -> str:
    """``--use-askpa=x`` -> ``--use-askpass=x``: spell an abbreviation out."""
    name, eq, value = v.partition("=")
    if not name.startswith("--") or len(name) < 5 or name in _WGET_LONG:
        return v
    hits = [o for o in _WGET_LONG if o.startswith(name)]
    return f"{hits[0]}{eq}{value}" if hits else v


def wget(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    acc.add(C.WRITE, "wget downloads a file")
    args = [Word(_wget_word(w.lit), _wget_word(w.lit)) if w.lit else w for w in args]
    lits = [w.value for w in args]
    if not any(v.startswith(("-O", "--output-document")) for v in lits):
        # Without -O the file is named after the URL (``http://h/.bashrc`` -> ``.bashrc``),
        # below -P's directory.
        prefix = next(
            (
                (
                    v.partition("=")[2]
                    if "=" in v
                    else v[2:]
                    if len(v) > 2
                    else (lits[k + 1] if k + 1 < len(lits) else "")
                )
                for k, v in enumerate(lits)
                if v.startswith(("-P", "--directory-prefix"))
            ),
            ".",
        )
        for v in lits:
            if "://" in v:
                name = v.split("?")[0].rstrip("/").rpartition("/")[2] or "index.html"
                target = f"{prefix.rstrip('/')}/{name}"
                acc.add(paths.write_categories(target) - {C.WRITE}, f"wget writes {target}")
    for w in args:
        v = w.value
        if v.startswith(("--post-file", "--body-file", "--post-data", "--body-data", "--method")):
            export = "file" in v or w.lit is None
            acc.add(C.EXPORT if export else C.WRITE, "wget sends data")
        elif v.startswith(("--use-askpass", "--execute", "-e")) or v in ("--config",):
            acc.add(C.CODE, "wget runs a program or wgetrc commands")
        elif v.startswith(("-o", "--output-file", "-a", "--append-output")) and len(v) > 2:
            target = v.partition("=")[2] if "=" in v else v[2:]
            acc.add(paths.write_categories(target), f"wget logs to {target}")
        elif v.startswith(("-O", "--output-document")) and len(v) > 2:
            target = v.partition("=")[2] if "=" in v else v[2:]
            acc.add(paths.write_categories(target), f"wget writes {target}")
    _hosts(args, acc)


_SCP_V = frozenset("-c -F -i -J -l -o -P -S -D -X".split())


def scp(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    opts, files = _all_options(args, _SCP_V)
    names = {n for n, _ in opts}
    acc.add(C.FILE_TRANSFER, "scp copies files between hosts")
    if "-f" in names:  # legacy scp server side: sending files from here
        acc.add(C.EXPORT, "scp -f sends files from this host")
    if "-t" in names:  # legacy scp server side: receiving files here
        acc.add(C.WRITE, "scp -t writes files on this host")
        for w in files:
            acc.add(paths.write_categories(w.value) - {C.UNKNOWN}, f"scp -t writes {w.value}")
    if "-S" in names or any("proxycommand" in (v or "").lower() for _, v in opts):
        acc.add(C.CODE, "scp runs a custom transport command")
    if files and len(files) >= 2:
        dest, sources = files[-1], files[:-1]
        _below(dest.value, sources, acc)
        if _remote(dest):
            acc.add(C.EXPORT, "scp sends files to another host")
        if any(_remote(s) for s in sources):
            acc.add(C.WRITE, "scp fetches files")
            acc.add(paths.write_categories(dest.value) - {C.UNKNOWN}, "scp writes locally")
    for w in files:
        acc.obj("path", w.value) if not _remote(w) else acc.obj("host", _host_of(w.value) or "")


def sftp(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    acc.add({C.FILE_TRANSFER, C.EXPORT}, "sftp can move files either way")
    if has_flag(args, "-S", "-D") or any("proxycommand" in w.value.lower() for w in args):
        acc.add(C.CODE, "sftp runs a custom transport command")
    pos = positionals(args, frozenset("-B -b -c -D -F -i -J -l -o -P -R -S -s".split()))
    if pos:
        acc.obj("host", (_host_of(pos[0].value + ":") or pos[0].value).rpartition("@")[2])


def rsync(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    opts, files = _all_options(
        args,
        frozenset(
            "-e --rsh --rsync-path -f --filter --exclude --include --log-file --write-batch "
            "--only-write-batch".split()
        ),
    )
    names = {n for n, _ in opts}
    acc.add(C.WRITE, "rsync copies files")
    if names & {
        "--delete",
        "--delete-before",
        "--delete-after",
        "--delete-during",
        "--delete-excluded",
        "--remove-source-files",
        "--del",
    }:
        acc.add(C.DESTRUCTIVE, "rsync deletes files")
    if names & {"-e", "--rsh", "--rsync-path"}:
        acc.add(C.CODE, "rsync runs a custom transport command")
    if files and any(_remote(w) or w.value.startswith("rsync://") for w in files):
        acc.add(C.FILE_TRANSFER, "rsync transfers between hosts")
        if _remote(files[-1]):
            acc.add(C.EXPORT, "rsync sends files to another host")
    if files:
        acc.add(
            paths.write_categories(files[-1].value) - {C.WRITE, C.UNKNOWN},
            f"rsync writes {files[-1].value}",
        )
        _below(files[-1].value, files[:-1], acc)
    for name, value in opts:
        if name.startswith(("--log-file", "--write-batch", "--only-write-batch")) and value:
            acc.add(paths.write_categories(value), f"rsync writes {value}")
    _hosts(files, acc)


def _below(dest: str, sources: list[Word], acc: Acc) -> None:
    """A copy into a directory writes each source's name below it (``x ~/.ssh/``)."""
    if _REMOTE.match(dest) or "://" in dest:
        return
    for w in sources:
        name = w.value.rstrip("/").rpartition("/")[2].rpartition(":")[2] or "*"
        target = f"{dest.rstrip('/')}/{name}"
        acc.add(paths.write_categories(target) - {C.WRITE, C.UNKNOWN}, f"writes {target}")


def netcat(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    acc.add({C.FORWARDING, C.EXPORT}, f"{prog} opens a raw network channel")
    if has_flag(args, "-e", "-c", "--exec", "--sh-exec", "--lua-exec"):
        acc.add(C.CODE, f"{prog} connects a program to the network")
    if prog == "socat" and any(re.match(r"(EXEC|SYSTEM)[:,]", w.value, re.I) for w in args):
        acc.add(C.CODE, "socat runs a program")


_PSQL_V = frozenset(
    "-c --command -f --file -d --dbname -h --host -p --port -U --username -v --set "
    "--variable -o --output -L --log-file -F --field-separator -R --record-separator "
    "-P --pset -T --table-attr".split()
)


def psql(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    opts, _ = _all_options(args, _PSQL_V)
    sql_found = False
    for name, value in opts:
        if name in ("-c", "--command"):
            sql_found = True
            if value is None or any(w.lit is None and w.text == value for w in args):
                acc.add({C.UNKNOWN, C.CODE}, "psql -c with computed SQL")
                continue
            _sql(value, acc, ctx)
        elif name in ("-f", "--file"):
            sql_found = True
            acc.add(C.CODE, "psql runs SQL from a file the gateway cannot see")
            if value and value != "-":
                acc.obj("path", value)
            elif ctx.stdin is not None:
                _sql(ctx.stdin, acc, ctx)
        elif name in ("-h", "--host") and value:
            acc.obj("host", value)
        elif name in ("-o", "--output", "-L", "--log-file") and value:
            target = value.lstrip()
            if target.startswith("|"):
                acc.add(C.CODE, "psql pipes output to a command")
            else:
                acc.add(paths.write_categories(target), f"psql writes {target}")
    if not sql_found:
        if ctx.stdin is not None:
            _sql(ctx.stdin, acc, ctx)
        elif has_flag(args, "-l", "--list", "-V", "--version", "--help"):
            acc.add(C.READ, "psql lists databases or prints its version")
        else:
            acc.add(C.CODE, "interactive psql: its statements are not visible to the gateway")


def _sql(text: str, acc: Acc, ctx: Ctx) -> None:
    """Hand SQL to the SQL classifier; psql meta-commands are handled here."""
    stripped = text.lstrip()
    if stripped.startswith("\\"):
        _meta(stripped, acc, ctx)
        return
    try:
        from protocols.sql import classify_sql  # lazily: sql is a separate package
    except ImportError:
        acc.add(C.UNKNOWN, "the SQL classifier is not available")
        return
    try:
        result: Classification = classify_sql(text)
    except Exception as exc:  # a classifier bug must fail closed, not crash the shell one
        acc.add(C.UNKNOWN, f"SQL classification failed: {type(exc).__name__}")
        return
    acc.merge(result)
    if "\\" in text and re.search(r"\\(!|o\s*\||g\s*\||copy|w|i|ir|include)", text):
        acc.add(C.CODE, "psql meta-command in the SQL text")


def _meta(text: str, acc: Acc, ctx: Ctx) -> None:
    cmd, _, rest = text[1:].partition(" ")
    cmd = cmd.strip()
    if cmd in ("!", "") or text.startswith("\\!"):
        acc.add(C.CODE, "psql \\! runs a shell command")
        ctx.parse(text[2:], acc, ctx.nested())
    elif cmd == "copy":
        direction = re.search(r"\b(to|from)\b", rest, re.I)
        acc.add(
            C.EXPORT if direction and direction.group(1).lower() == "to" else C.WRITE,
            "psql \\copy moves data",
        )
        if re.search(r"\bprogram\b", rest, re.I):
            acc.add(C.CODE, "psql \\copy ... program runs a command")
    elif re.fullmatch(r"(d\w*\+?|l\+?|dt\+?|conninfo|encoding|timing|x|q|\?|h|z|sf\+?|sv\+?)", cmd):
        acc.add(C.READ, f"psql \\{cmd}")
    else:
        acc.add(C.UNKNOWN, f"psql meta-command \\{cmd}")


def mysql(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    opts, _ = _all_options(
        args,
        frozenset("-e --execute -h --host -u --user -D --database -P --port -S --socket".split()),
    )
    query = next((v for n, v in opts if n in ("-e", "--execute")), None)
    for name, value in opts:
        if name in ("-h", "--host") and value:
            acc.obj("host", value)
    if has_flag(args, "--version", "-V", "--help"):
        acc.add(C.READ, f"{prog} prints its version")
    elif query is not None:
        _sql(query, acc, ctx)  # PostgreSQL grammar: MySQL-only syntax fails closed
    elif ctx.stdin is not None:
        _sql(ctx.stdin, acc, ctx)
    else:
        acc.add(C.CODE, f"interactive {prog}: its statements are not visible to the gateway")


_REDIS_READ = frozenset(
    "get mget exists keys scan info ping ttl pttl type strlen llen lrange hget hgetall hkeys "
    "hlen smembers scard zrange zcard zscore dbsize time memory client-list role".split()
)


def redis_cli(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    pos = positionals(args, frozenset("-h -p -a -n -s -u --user --pass".split()))
    if not pos:
        acc.add(C.CODE, "interactive redis-cli: its commands are not visible to the gateway")
        return
    cmd = pos[0].value.lower()
    if cmd in ("flushall", "flushdb", "del", "unlink", "shutdown"):
        acc.add(C.DESTRUCTIVE, f"redis {cmd}")
    elif cmd in ("config", "slaveof", "replicaof", "acl", "module", "debug", "bgrewriteaof"):
        acc.add(C.ADMIN, f"redis {cmd}")
    elif cmd in ("eval", "evalsha", "script", "function", "fcall"):
        acc.add(C.CODE, f"redis {cmd}")
    elif cmd in _REDIS_READ:
        acc.add(C.READ, f"redis {cmd}")
    else:
        acc.add(C.WRITE, f"redis {cmd}")
    if has_flag(args, "--rdb", "--pipe"):
        acc.add(C.EXPORT, "redis-cli dumps the database")


HANDLERS: dict[str, Handler] = {
    "curl": curl,
    "wget": wget,
    "scp": scp,
    "sftp": sftp,
    "rsync": rsync,
    **dict.fromkeys(("nc", "ncat", "netcat", "socat", "telnet"), netcat),
    "psql": psql,
    **dict.fromkeys(("mysql", "mariadb"), mysql),
    "redis-cli": redis_cli,
}
