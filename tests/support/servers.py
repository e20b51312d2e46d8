"""Shared helpers for starting real servers in tests: free ports, CI strictness."""

from __future__ import annotations

import os
import shutil
import socket

import pytest


def free_port() -> int:
    """A port the kernel picks (port 0), released for the server to bind right away."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require_binary(path_or_name: str, what: str) -> str:
    """The binary's path; without it, skip locally but FAIL under CI=true."""
    found = (
        path_or_name
        if os.path.isabs(path_or_name) and os.path.exists(path_or_name)
        else shutil.which(path_or_name)
    )
    if found:
        return found
    message = f"{what} ({path_or_name}) is not installed; `make test` installs it"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
    raise AssertionError("unreachable")
