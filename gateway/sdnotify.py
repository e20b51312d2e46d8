"""sd_notify(3) for Type=notify units: READY=1, STOPPING=1, WATCHDOG=1, STATUS=...

Written here rather than depending on a package: the protocol is one datagram on a unix
socket (about twenty lines); PyPI's `sdnotify` has had no release since 2017 and
`systemd-python` needs libsystemd headers to build.
Without $NOTIFY_SOCKET (not under systemd) every call is a cheap no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket


def _address(raw: str) -> str | bytes:
    # '@' names a socket in the abstract namespace: a leading NUL byte on the wire.
    return b"\0" + raw[1:].encode() if raw.startswith("@") else raw


def notify(*states: str) -> bool:
    """Send ``states`` (e.g. ``"READY=1"``, ``"STATUS=serving"``) as one message.

    Returns whether a message was sent. Errors are swallowed (False): the daemon must not
    fail because its supervisor went away.
    """
    raw = os.environ.get("NOTIFY_SOCKET", "")
    if not raw or not states:
        return False
    payload = "\n".join(states).encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(_address(raw))
            sock.sendall(payload)
    except OSError:
        return False
    return True


def ready(status: str = "") -> bool:
    return notify("READY=1", *([f"STATUS={status}"] if status else []))


def stopping(status: str = "") -> bool:
    return notify("STOPPING=1", *([f"STATUS={status}"] if status else []))


def reloading() -> bool:
    return notify("RELOADING=1")


def status(text: str) -> bool:
    return notify(f"STATUS={text}")


def watchdog_interval() -> float | None:
    """Seconds between WATCHDOG=1 pings (half of WatchdogSec), or None when not watched.

    Honours WATCHDOG_PID: the setting is for that process only, not for children.
    """
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None
    return int(usec) / 2_000_000


async def watchdog(interval: float) -> None:
    """Ping the watchdog every ``interval`` seconds until cancelled.

    Runs on the event loop on purpose: if the loop stalls, pings stop and systemd restarts
    the daemon, which is exactly what the watchdog is for.
    """
    while True:
        notify("WATCHDOG=1")
        await asyncio.sleep(interval)  # the pacing itself, not synchronisation


def start_watchdog() -> asyncio.Task[None] | None:
    """Start pinging if systemd asked for it (WatchdogSec=); the caller cancels at exit."""
    interval = watchdog_interval()
    if interval is None:
        return None
    return asyncio.get_running_loop().create_task(watchdog(interval), name="sd-watchdog")


async def stop_watchdog(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
