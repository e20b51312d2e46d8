"""Which file paths are sensitive to read or to write, as glob tables.

Paths come from the command line as rendered words: ``$HOME``/``~`` become ``~`` and any
other expansion becomes ``*``, so ``$HOME/.ssh/authorized_keys`` and ``~/.ssh/...`` match
alike. A rendered path with a ``*`` from an expansion could be anything, so we also test
the pattern's own example against the path (the conservative direction).
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


def read_categories(path: str) -> set[Category]:
    """Categories of reading ``path`` (a secret read is export)."""
    path = normalize(path)
    cats: set[Category] = set()
    if matches(path, SECRET_READ):
        cats.add(C.EXPORT)
    if matches(path, NETWORK_DEVICES):
        cats |= {C.FORWARDING, C.EXPORT}
    return cats
