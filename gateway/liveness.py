"""Which open sessions are live: a node's heartbeat in the store.

A session row without ``ended_at`` is either running now or was cut by a crash (the
process died before it could record the end). The running daemon keeps a ``node`` document
in the store (when its process started, a heartbeat, and when it stopped cleanly); a session
is live only if its node's current process started before it, has not stopped, and beat
recently; on the node's own host, its process must also still exist (a ``kill -9`` is
seen at once, not after the missed beats). Everything else is crash-cut. ``airlock
verify`` uses this to exit 0 for live sessions and 3 for crashed ones.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gateway.store.base import SessionRow, Store

log = logging.getLogger("airlock")

KIND = "node"
#: How often the daemon beats; a node silent for MISSED beats is taken as dead.
HEARTBEAT_S = 10.0
MISSED = 3


async def announce(store: Store, node: str, started: float) -> None:
    doc = {
        "started_at": started,
        "heartbeat_at": time.time(),
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "proc_start": _proc_start(os.getpid()),
    }
    await store.put(KIND, node, doc)


async def heartbeat(store: Store, node: str, started: float) -> None:
    """Runs for the daemon's life (a task); a failed beat is logged, the next one retries."""
    while True:
        await asyncio.sleep(HEARTBEAT_S)
        try:
            await announce(store, node, started)
        except Exception:
            log.exception("node heartbeat in the store failed")


async def stopped(store: Store, node: str, started: float) -> None:
    doc = await store.get(KIND, node)
    if doc is not None and doc.get("started_at") == started:
        await store.put(KIND, node, {**doc, "stopped_at": time.time()})


def is_live(row: SessionRow, node_doc: dict[str, Any] | None, now: float) -> bool:
    if row.ended_at is not None or node_doc is None or node_doc.get("stopped_at"):
        return False
    if float(node_doc.get("started_at", 0)) > row.started_at:
        return False  # the node restarted since: this session died with the old process
    if node_doc.get("host") == socket.gethostname() and not _process_alive(node_doc):
        return False
    return now - float(node_doc.get("heartbeat_at", 0)) < HEARTBEAT_S * MISSED


def _proc_start(pid: int) -> str:
    """The process's start time in clock ticks since boot (``/proc/PID/stat`` field 22),
    which tells a pid's owner from a later process that reused the number; "" without
    procfs."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rpartition(")")[2].split()[19]


def _process_alive(node_doc: dict[str, Any]) -> bool:
    """Whether the node's process still runs on this host (and is the same process)."""
    pid = node_doc.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    recorded = node_doc.get("proc_start", "")
    if recorded:
        return bool(_proc_start(pid) == recorded)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def live_sessions(store: Store, rows: Iterable[SessionRow]) -> set[str]:
    """Ids of the open sessions among ``rows`` whose node runs them now."""
    now = time.time()
    nodes: dict[str, dict[str, Any] | None] = {}
    live = set()
    for row in rows:
        if row.ended_at is not None:
            continue
        if row.node not in nodes:
            nodes[row.node] = await store.get(KIND, row.node)
        if is_live(row, nodes[row.node], now):
            live.add(row.id)
    return live
