"""The gateway's own files are private: directories 0700, files 0600, from the first byte.

The state directory holds the audit signing key, the SSH host key, the TLS key, the store
(which can hold statement texts and approval reasons) and the transcripts. Each is created
with its final mode (``os.open``/``os.mkdir`` with the mode), never created with the
process umask and ``chmod``-ed afterwards: between the two another local user could open
it, and an open descriptor outlives a later chmod.

A process-wide ``umask(0o077)`` (:func:`private_umask`) is set once at ``airlock init`` and
``airlock serve``, before any thread starts, as a backstop for files libraries create
themselves (SQLite's ``-wal``/``-shm`` take the database file's mode anyway). It is never
flipped around a single call: the umask is per process, and other threads create files.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("airlock")

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_umask() -> None:
    """Nothing the daemon or ``init`` creates is readable by group or others."""
    os.umask(0o077)


def private_dirs(path: Path) -> None:
    """Create ``path`` and each missing parent with mode 0700 (``mkdir -p`` would use
    the umask for the parents); directories that exist are left as they are."""
    missing: list[Path] = []
    current = Path(path)
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # created meanwhile: not ours to change
            os.mkdir(directory, DIR_MODE)


def write_private(path: Path, data: bytes) -> None:
    """Write ``path`` as a new 0600 file, atomically replacing any old one.

    A fresh temporary file (O_EXCL) gets the mode at creation even when ``path`` already
    exists with a looser one (``init --force``), which O_TRUNC on ``path`` would keep.
    """
    private_dirs(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def create_private(path: Path) -> None:
    """Create an empty 0600 ``path`` unless it exists (for files a library then opens:
    SQLite accepts an empty file as a new database and gives its -wal/-shm this mode)."""
    private_dirs(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)


def tighten(path: Path) -> None:
    """An existing file or directory from an older version that others can read: say so
    and take group/other access away (new ones are created private; this is migration)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    loose = stat.S_IMODE(mode) & 0o077
    if loose:
        log.warning("%s was readable by group/others (mode %o); made private", path, mode & 0o777)
        os.chmod(path, stat.S_IMODE(mode) & ~0o077)
