"""Which file paths are sensitive to read or to write, as glob tables.

Paths come from the command line as rendered words: ``$HOME``/``~`` become ``~`` and any
other expansion becomes ``*``, so ``$HOME/.ssh/authorized_keys`` and ``~/.ssh/...`` match
alike. A rendered path with a ``*`` from an expansion could be anything, so we also test
the pattern's own example against the path (the conservative direction).

A relative path whose directory is not known here (``../../etc/shadow``, ``cat shadow``
wherever the shell is) has its trailing components matched against the patterns'
trailing components (see ``_tail_meets``). The session's directory and variables, and
what a glob could match, are judged in :mod:`.reach` on top of these text checks.
"""

from __future__ import annotations

import fnmatch
import functools
import posixpath
import re
from fnmatch import fnmatchcase

from protocols.classification import Category

C = Category

#: Reading these hands out credentials or another process's secrets: export.
SECRET_READ: tuple[str, ...] = (
    "/etc/shadow*",
    "/etc/gshadow*",
    "/etc/security/opasswd",
    "/etc/sudoers*",
    "/etc/ssh/ssh_host_*_key",
    "/etc/ssl/private",
    "/etc/ssl/private/*",
    "/proc/*/environ",
    "/proc/*/mem",
    "/proc/*/maps",
    "/proc/kcore",
    "/dev/mem",
    "/dev/kmem",
    "*.ssh/id_*[!b]",  # private keys, not *.pub
    "*.ssh/id_*[!u]b",
    "*.ssh/identity",
    "*.gnupg/*",
    "*.aws/credentials",
    "*.aws/config",
    "*.kube/config",
    "*.docker/config.json",
    "*.pgpass",
    "*.netrc",
    "*.git-credentials",
    "*.vault-token",
    "*.env",
    "*.env.*",
    "*key*.pem",
    "*priv*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.kdbx",
    "*/secrets/*",
    "*credentials.json",
    "*service-account*.json",
)

#: Writing these changes who may log in or escalate: privilege.
PRIVILEGE_WRITE: tuple[str, ...] = (
    "*.ssh/authorized_keys*",
    "*.ssh/rc",
    "*.ssh/environment",
    "/etc/sudoers*",
    "/etc/passwd*",
    "/etc/shadow*",
    "/etc/group*",
    "/etc/gshadow*",
    "/etc/pam.d/*",
    "/etc/security/*",
    "/etc/ssh/*",
    "/etc/ld.so.preload",
    "*.k5login",
    "*.rhosts",
    "/etc/hosts.equiv",
)

#: Writing these changes the host's configuration, boot or persistence: admin.
ADMIN_WRITE: tuple[str, ...] = (
    "/etc/*",
    "/boot/*",
    "/usr/*",
    "/bin/*",
    "/sbin/*",
    "/lib/*",
    "/lib64/*",
    "/opt/*",
    "/proc/*",
    "/sys/*",
    "/var/spool/cron*",
    "*.config/systemd/*",
    "*.config/autostart/*",
    "*.bashrc",
    "*.bash_profile",
    "*.bash_login",
    "*.bash_logout",
    "*.profile",
    "*.zshrc",
    "*.zshenv",
    "*.zprofile",
    "*.inputrc",
    "*.gitconfig",
    "*.git/hooks/*",
    "*.git/config",
    "*.ssh/config",
    # Configuration a program reads as commands (writing it is code for its next run).
    "*.lessfilter",
    "*.lesskey",
    "*.config/lesskey",
    "*toprc",
    "*.wgetrc",
    "*.curlrc",
    "*.psqlrc",
    "*.vimrc",
    "*.exrc",
    "*.gdbinit",
    "*.mailcap",
    "*.kube/config",
    "*.npmrc",
)

#: Writing, truncating or removing these erases the session's traces: tamper.
TAMPER_WRITE: tuple[str, ...] = (
    "*_history",
    "*.history",
    "/var/log/*",
    "/var/run/utmp",
    "/run/utmp",
    "/var/audit/*",
    "/etc/audit/*",
    "*.lesshst",
    "*.viminfo",
)

#: Block devices and raw memory: writing them destroys file systems.
DESTRUCTIVE_WRITE: tuple[str, ...] = (
    "/dev/sd*",
    "/dev/hd*",
    "/dev/vd*",
    "/dev/xvd*",
    "/dev/nvme*",
    "/dev/mmcblk*",
    "/dev/md*",
    "/dev/dm-*",
    "/dev/mapper/*",
    "/dev/disk/*",
    "/dev/loop*",
    "/dev/mem",
    "/dev/kmem",
    "/dev/port",
)

#: Bash's pseudo-devices open sockets: a redirect to them is a network channel.
NETWORK_DEVICES: tuple[str, ...] = ("/dev/tcp/*", "/dev/udp/*")

#: Targets a redirect may use freely.
HARMLESS_DEVICES: frozenset[str] = frozenset(
    {"/dev/null", "/dev/zero", "/dev/stdout", "/dev/stderr", "/dev/stdin", "/dev/tty", "-"}
)


def normalize(path: str) -> str:
    """Collapse ``//``, ``.`` and ``..`` so ``/etc/../etc/shadow`` is ``/etc/shadow``."""
    if path.startswith("/"):
        return posixpath.normpath(path).replace("//", "/")
    return path


def matches(path: str, patterns: tuple[str, ...]) -> bool:
    """True if ``path`` matches a pattern, or could once its expansions (``*``) are known."""
    path = normalize(path)
    if _combined(patterns).match(path):
        return True
    vague = "*" in path and path.replace("*", "").strip("/") != ""
    return vague and any(fnmatchcase(_example(p), path) for p in patterns)


@functools.cache
def _combined(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One regex per table: matching ~100 globs one by one cost most of a command's time."""
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns), re.S)


def _example(pattern: str) -> str:
    """A concrete path the pattern matches (``*`` -> nothing, ``[...]`` -> ``x``)."""
    return re.sub(r"\[[^]]*\]", "x", pattern).replace("*", "")


def write_categories(path: str) -> set[Category]:
    """Categories of writing to (or truncating, removing, re-owning) ``path``."""
    path = normalize(path)
    if path in HARMLESS_DEVICES or path.startswith("/dev/fd/"):
        return set()
    cats: set[Category] = {C.WRITE}
    if path.strip("*") == "":
        cats.add(C.UNKNOWN)
    if matches(path, NETWORK_DEVICES):
        cats |= {C.FORWARDING, C.EXPORT}
    if matches(path, DESTRUCTIVE_WRITE):
        cats.add(C.DESTRUCTIVE)
    if matches(path, PRIVILEGE_WRITE):
        cats.add(C.PRIVILEGE)
    if matches(path, ADMIN_WRITE):
        cats.add(C.ADMIN)
    if matches(path, TAMPER_WRITE):
        cats.add(C.TAMPER)
    if path == "/etc/ld.so.preload":
        cats.add(C.CODE)
    return cats


def read_categories(path: str, cwds: tuple[str, ...] = ()) -> set[Category]:
    """Categories of reading ``path`` (a secret read is export).

    ``cwds`` are the literal ``cd`` targets seen earlier on the same line: a relative
    path is also tried against each (over-approximating which one is in effect).
    """
    path = normalize(path)
    cats: set[Category] = set()
    if is_secret(path) or any(is_secret(_join(d, path)) for d in _relative_to(path, cwds)):
        cats.add(C.EXPORT)
    if matches(path, NETWORK_DEVICES):
        cats |= {C.FORWARDING, C.EXPORT}
    return cats


def is_secret(path: str) -> bool:
    """A secret file, a relative path whose tail names one, or a glob inside a secret dir."""
    path = normalize(path)
    if matches(path, SECRET_READ):
        return True
    if path.startswith(("/", "~")) and not _GLOB_CHARS.search(path):
        return False  # resolved and literal: the full-path match above was exact
    comps = _components(path)
    return comps is not None and _tails_meet(comps, SECRET_READ)


def is_secret_dir(path: str, cwds: tuple[str, ...] = ()) -> bool:
    """A directory holding secrets (``.ssh``, ``~/.aws``, ``/etc/ssl/private``...).

    For archivers, copiers and recursive readers: everything below it is read. Its
    patterns are the parents of the SECRET_READ patterns, matched by tail like a file.
    """
    candidates = [normalize(path.rstrip("/") or "/")]
    candidates += [_join(d, candidates[0]) for d in _relative_to(candidates[0], cwds)]
    for candidate in candidates:
        comps = _components(candidate)
        if comps is not None and _tails_meet(comps, _SECRET_DIRS):
            return True
    return False


#: Parents of SECRET_READ patterns that name a directory (``*.ssh``, ``/etc/ssl/private``).
_SECRET_DIRS: tuple[str, ...] = tuple(
    dict.fromkeys(
        posixpath.dirname(p) for p in SECRET_READ if posixpath.dirname(p) not in ("", "/")
    )
)

#: Pattern components too common to identify a secret on their own: ``cat config`` or
#: ``tar cz /etc`` alone (a bare tail) is not a secret read, ``.kube/config`` is.
_GENERIC = frozenset({
    "config", "config.json", "private", "etc", "ssh", "ssl", "security", "proc", "dev",
    "mem", "maps", "identity",
})  # fmt: skip

#: Suffixes editors and admins give copies: ``shadow-``, ``shadow.bak`` are ``shadow*``.
_BACKUP_SUFFIXES = ("", "-", "~", ".bak", ".old", ".orig", ".save", ".dpkg-old")

_GLOB_CHARS = re.compile(r"\[[^]]*\]|[*?]")


def _relative_to(path: str, cwds: tuple[str, ...]) -> tuple[str, ...]:
    return () if path.startswith(("/", "~")) else cwds


def _join(directory: str, path: str) -> str:
    return normalize(posixpath.normpath(posixpath.join(directory, path)))


def _components(path: str) -> list[str] | None:
    """Path components to tail-match, or None for an empty path.

    A relative path is resolved as far as it can be (``a/../b`` is ``b``); leading ``..``
    name unknown directories, so only what follows them is kept.
    """
    if not path.startswith("/"):
        path = posixpath.normpath(path) if path else path
        while path.startswith("../") or path in ("..", "."):
            path = path[3:]
    comps = [c for c in path.split("/") if c]
    if path.startswith("/"):
        comps.insert(0, "/")
    return comps or None


@functools.cache
def _pattern_components(pattern: str) -> tuple[str, ...]:
    comps = [c for c in pattern.split("/") if c]
    return ("/", *comps) if pattern.startswith("/") else tuple(comps)


def _tails_meet(comps: list[str], patterns: tuple[str, ...]) -> bool:
    # Most names end in a component no named pattern ends in (one regex says so); then
    # only the patterns ending in a bare ``*`` (``*.gnupg/*``) are left to try, and a lone
    # name cannot match those (it would not identify the secret by itself).
    named, starred, last = _index(patterns)
    if _GLOB_CHARS.search(comps[-1]) or last.match(comps[-1]):
        candidates = patterns if len(comps) > 1 else named
    else:
        candidates = starred if len(comps) > 1 else ()
    return any(_tail_meets(comps, p) for p in candidates)


@functools.cache
def _index(
    patterns: tuple[str, ...],
) -> tuple[tuple[str, ...], tuple[str, ...], re.Pattern[str]]:
    """Patterns whose last component has a literal part, the rest, and a regex of the
    former's last components."""
    named = tuple(p for p in patterns if _GLOB_CHARS.sub("", _pattern_components(p)[-1]))
    starred = tuple(p for p in patterns if p not in named)
    return named, starred, _combined(tuple(_pattern_components(p)[-1] for p in named))


def _tail_meets(comps: list[str], pattern: str) -> bool:
    """True if ``comps`` could be the trailing components of a path ``pattern`` matches.

    Why our own code: fnmatch has no notion of a partial path. An absolute path only
    meets an absolute pattern whole (the full-path match already did that, so a glob in
    such a path is the new case); a relative path (its directory unknown) meets the
    pattern's last components; an unanchored pattern (``*.ssh/...``) absorbs any prefix
    into its first component. At least one component must identify the secret on its own
    (``shadow``, ``id_rsa``, ``.ssh``), so ``cat *`` or ``cat config`` stay reads.
    """
    pat = _pattern_components(pattern)
    if not _meets(comps[-1], pat[-1]):
        return False  # the common case, decided first
    anchored = pat[0] == "/"
    absolute = comps[0] in ("/", "~")
    if anchored and absolute:
        if len(comps) != len(pat):
            return False
    elif len(comps) > len(pat):
        if anchored:
            return False
        head = len(comps) - len(pat) + 1
        comps = ["/".join(comps[:head]).replace("//", "/"), *comps[head:]]
    elif absolute:
        return False  # ``~/x`` or ``/x`` shorter than an unanchored pattern: not its tail
    pairs = list(zip(comps, pat[len(pat) - len(comps) :], strict=True))
    if not all(_meets(c, q) for c, q in pairs):
        return False
    literal_pairs = sum(1 for c, q in pairs if c == q and c != "/")
    return literal_pairs >= 2 or any(_distinctive(c, q) for c, q in pairs)


def _meets(comp: str, pat: str) -> bool:
    if fnmatchcase(comp, pat):
        return True
    return bool(_GLOB_CHARS.search(comp)) and fnmatchcase(_example(pat), comp)


def _distinctive(comp: str, pat: str) -> bool:
    """Does the literal ``comp`` matching ``pat`` point at a secret by itself?"""
    if _GLOB_CHARS.search(comp) or comp == "/":
        return False
    literal = _GLOB_CHARS.sub("", pat)
    if not _GLOB_CHARS.search(pat):
        return comp == pat and pat not in _GENERIC
    if pat.endswith("*") and not _GLOB_CHARS.search(pat[:-1]):  # ``shadow*``
        stem = pat[:-1]
        return stem not in _GENERIC and comp in {stem + s for s in _BACKUP_SUFFIXES}
    # ``id_*[!b]``, ``*.ssh``: no more dots than the pattern's own, so ``id_map.txt`` is not
    # a key. A pattern that is all glob (``*``) never identifies anything.
    return bool(literal) and comp.count(".") <= literal.count(".")
