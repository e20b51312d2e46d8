"""sd_notify against a real unix datagram socket, as systemd's would be."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway import sdnotify


@pytest.fixture
def receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = Path("/tmp") / f"sdn-{uuid.uuid4().hex[:8]}"  # short: sun_path is 108 bytes
    sock.bind(str(path))
    sock.settimeout(5)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    try:
        yield sock
    finally:
        sock.close()
        path.unlink()


def test_ready_stopping_status(receiver: socket.socket) -> None:
    assert sdnotify.ready("serving on 6432")
    assert receiver.recv(4096) == b"READY=1\nSTATUS=serving on 6432"
    assert sdnotify.stopping()
    assert receiver.recv(4096) == b"STOPPING=1"
    assert sdnotify.status("draining 3 sessions")
    assert receiver.recv(4096) == b"STATUS=draining 3 sessions"
    assert sdnotify.reloading()
    assert receiver.recv(4096) == b"RELOADING=1"


def test_abstract_namespace_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"airlock-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert sdnotify.notify("READY=1")
        assert sock.recv(4096) == b"READY=1"


def test_without_socket_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sdnotify.notify("READY=1") is False
    monkeypatch.setenv("NOTIFY_SOCKET", "/nonexistent/airlock-notify")
    assert sdnotify.notify("READY=1") is False  # supervisor gone: never raises


def test_watchdog_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert sdnotify.watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    assert sdnotify.watchdog_interval() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert sdnotify.watchdog_interval() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert sdnotify.watchdog_interval() is None  # meant for another process
    monkeypatch.setenv("WATCHDOG_PID", "")
    monkeypatch.setenv("WATCHDOG_USEC", "0")
    assert sdnotify.watchdog_interval() is None


async def test_watchdog_pings_until_stopped(
    receiver: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "20000")  # ping every 10 ms
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    receiver.setblocking(False)
    loop = asyncio.get_running_loop()
    task = sdnotify.start_watchdog()
    assert task is not None
    pings = [await asyncio.wait_for(loop.sock_recv(receiver, 64), 5) for _ in range(3)]
    await sdnotify.stop_watchdog(task)
    assert pings == [b"WATCHDOG=1"] * 3
    assert task.cancelled()
